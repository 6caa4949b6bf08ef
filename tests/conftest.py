"""Fixtures shared by several test files."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from edsr_lite.core.models import build
from edsr_lite.course.bn_removal import measure_step_memory
from edsr_lite.course.runs import real_batch
from edsr_lite.datasets import find_dataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

# The authors' weights a developer fetched stay out of the suite: every test (and every
# subprocess it starts) sees an empty user cache unless it sets its own.
EMPTY_CACHE = tempfile.mkdtemp(prefix="edsr-lite-test-cache-")
os.environ["EDSR_LITE_CACHE"] = EMPTY_CACHE
# `edsr-lite upscale` runs OpenVINO by default when it is installed; OpenVINO's threads in the
# test process made a later test that sends itself SIGINT segfault, so commands the tests run
# in-process use torch. tests/test_backends.py checks the default in fresh processes.
os.environ.setdefault("EDSR_LITE_BACKEND", "torch")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(EMPTY_CACHE, ignore_errors=True)


@pytest.fixture
def train_dir(tmp_path):
    """A training folder with four real T91 images (all at least 150 px on a side)."""
    folder = tmp_path / "train"
    folder.mkdir()
    for name in ("t1.png", "t2.png", "t3.png", "t5.png"):
        shutil.copy(find_dataset("T91") / name, folder / name)
    return folder


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """``run_notebook(nb, allow_errors=False, timeout=600)``: execute ``nb`` (an nbformat
    notebook, filled in place and returned) in fast mode, in a fresh kernel started from
    ``notebooks/``, as a student would run it. Raises nbclient's ``CellExecutionError`` on the
    first error unless ``allow_errors``."""

    def run(nb, allow_errors: bool = False, timeout: int = 600):
        return _execute(nb, tmp_path, monkeypatch, allow_errors, timeout)

    return run


def _execute(nb, tmp_path: Path, monkeypatch, allow_errors: bool, timeout: int):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("EDSR_LITE_FAST", "1")
    # A machine whose cores are busy with other work makes OpenMP's spinning threads wait
    # for one another (several times slower); passive waiting avoids that, costs nothing.
    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    return nb


@pytest.fixture(scope="module")
def patches():
    """Two real x2 T91 patches: LR 2 x 3 x 16 x 16, HR 2 x 3 x 32 x 32."""
    return real_batch(2, 16, scale=2)


@pytest.fixture(scope="module")
def step_memories():
    return [
        measure_step_memory(build("edsr_tiny", 2, bn=bn), 2, 16, label=name)
        for name, bn in (("BN", True), ("no BN", False))
    ]

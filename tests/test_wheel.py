"""The wheel installs anywhere: built from the clone and installed in a fresh virtual environment,
it upscales with the shipped checkpoints and scores Set5 from a folder outside the clone.

One wheel is built (from a copy of the sources, so that the build never writes into the clone)
and installed once, without dependencies: torch, numpy, ... come from the dev environment through
a ``.pth`` file, which puts its site-packages on sys.path without running its ``.pth`` files (so
the editable install of the clone is not activated: ``edsr_lite`` is the installed copy).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from edsr_lite.weights import available_pretrained

ROOT = Path(__file__).resolve().parents[1]
DATA = "edsr_lite/_data/"

#: What a build needs from the clone (data/ whole, so that the test sees what is left out).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "edsr_lite", "data")
#: The wheel stays small: today about 20.7 MB (15 MB of checkpoints, 5.8 MB of Set5 + Set14).
MAX_WHEEL_BYTES = 24_000_000


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the clone as it is now (built with the dev environment's setuptools)."""
    work = tmp_path_factory.mktemp("wheel")
    caches = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")
    for name in SOURCES:
        source, target = ROOT / name, work / "src" / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=caches)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", work / "src", "--no-deps", "--no-build-isolation", "-w", work / "dist"])
    (found,) = (work / "dist").glob("edsr_lite-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its scripts folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)  # the dev environment's pip installs into it
    scripts = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = scripts / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python", python]
    _run([*pip, "install", "--no-deps", "--no-index", wheel])
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout
    dev_site = sysconfig.get_path("purelib")  # torch, numpy, pillow, tqdm, yaml
    (Path(site.strip()) / "edsr_lite_test_deps.pth").write_text(dev_site + "\n")
    return scripts


def _clean_env() -> dict[str, str]:
    """The environment of a user: no $EDSR_LITE_DATA, nothing of the clone on PYTHONPATH."""
    drop = {"EDSR_LITE_DATA", "PYTHONPATH", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(args: list, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))}: exit {result.returncode}\n{result.stderr}")
    return result


def test_the_wheel_carries_the_small_data_and_not_the_rest(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, f"{wheel.stat().st_size} bytes"
    data = {n[len(DATA) :] for n in names if n.startswith(DATA)}
    runs = {n.split("/")[1] for n in data if n.startswith("checkpoints/")}
    assert runs == set(available_pretrained()), "the checkpoints that load by name, and only those"
    for run in runs:
        for file in ("best.pt", "run.json", "log.csv"):
            assert f"checkpoints/{run}/{file}" in data
    for name, count in (("Set5", 5), ("Set14", 14)):
        assert len([n for n in data if n.startswith(f"{name}/") and n.endswith(".png")]) == count
    assert not [n for n in data if n.startswith(("B100/", "T91/")) or n.endswith("latest.pt")]
    assert "edsr_lite/course/widgets.js" in names and "edsr_lite/course/widgets.css" in names
    # pyproject.toml lists the packages by hand: every module of the clone must be in the wheel
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "edsr_lite").rglob("*.py")}
    assert modules - names == set(), "a package missing from [tool.setuptools] packages"


@pytest.mark.slow
def test_the_installed_package_upscales_and_scores_set5_outside_the_clone(installed, tmp_path):
    python, cli = installed / "python", installed / "edsr-lite"
    probe = "import edsr_lite.cli, edsr_lite.locations as L; print(L.__file__, L.SOURCE_CHECKOUT)"
    where, checkout = _run([python, "-c", probe], cwd=tmp_path).stdout.split()
    assert Path(where).is_relative_to(installed.parent), f"{where}: not the installed copy"
    assert checkout == "False"

    # A 96 x 80 crop of a Set5 image: the whole 288 x 288 bird takes ~8 s per scale on 2 cores
    with Image.open(ROOT / "data" / "Set5" / "bird.png") as bird:
        bird.crop((96, 96, 192, 176)).save(tmp_path / "photo.png")
    for scale in (2, 3, 4):
        _run([cli, "upscale", "photo.png", "-s", scale, "-q"], cwd=tmp_path)
        with Image.open(tmp_path / f"photo_x{scale}.png") as image:
            assert image.size == (96 * scale, 80 * scale)

    table = _run(
        [cli, "eval", "--set", "Set5", "--scale", "2", "--model", "edsr_baseline_x2"], cwd=tmp_path
    ).stdout
    row = re.search(r"\| Set5 \| (\d+\.\d\d) / \d\.\d{4} \|", table)
    assert row, table
    recorded = json.loads((ROOT / "data" / "RESULTS.json").read_text())["rows"]
    (expected,) = [
        r["psnr"]
        for r in recorded
        if (r["method"], r["set"], r["scale"]) == ("edsr_baseline_x2", "Set5", 2)
    ]
    assert float(row.group(1)) == pytest.approx(expected, abs=0.006)  # 37.44 dB


@pytest.mark.slow
def test_a_set_that_does_not_ship_in_the_wheel_says_where_to_get_it(installed, tmp_path):
    result = _run(
        [installed / "edsr-lite", "eval", "--set", "B100", "--scale", "2", "--model", "bicubic"],
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    message = result.stderr
    assert "image set 'B100' not found" in message
    assert f"{installed.parent}" in message and "_data" in message  # where it looked
    assert "$EDSR_LITE_DATA is not set" in message
    assert "clone" in message and "EDSR_LITE_DATA" in message  # how to get it
    assert "shared" not in message
    assert "Traceback" not in message

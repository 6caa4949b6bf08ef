"""The OpenVINO disk cache is verified before use (edsr_lite.backends): a damaged file is
converted again quietly, never run, and a cache that cannot be written is one warning line.

Before: same-size noise written into the cache's ``.bin`` gave exit 0 and 4,080 of 4,096 pixels
wrong by up to 65 levels; a garbage ``.xml`` printed OpenVINO's C++ parser error on stderr; a
read-only cache printed a raw ``backends.py:122: UserWarning`` with a source line.

Each test runs ``edsr-lite upscale`` in a fresh process (OpenVINO's threads, once started in the
test process, crashed a later test that sends itself SIGINT: see tests/test_backends.py).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import edsr_lite.backends as backends
from edsr_lite.datasets import benchmark
from edsr_lite.images import read_image, write_png
from edsr_lite.infer import Upscaler
from edsr_lite.weights import load_model

pytestmark = pytest.mark.skipif(
    not backends.openvino_available(), reason="OpenVINO is not installed (edsr-lite[fast])"
)

MODEL = "edsr_baseline_x2"


@pytest.fixture(scope="module")
def lr() -> np.ndarray:
    """A real LR crop: Set5 butterfly, 32 x 32 (the probe's 64 x 64 output)."""
    return dict((n, lr) for n, _, lr in benchmark("Set5", 2))["butterfly"][:32, :32]


@pytest.fixture(scope="module")
def torch_sr(lr) -> np.ndarray:
    return Upscaler(load_model(MODEL))(lr, 2)


def upscale(tmp_path, lr, cache) -> subprocess.CompletedProcess:
    """``edsr-lite upscale --backend openvino`` of ``lr`` with ``$EDSR_LITE_CACHE=cache``."""
    write_png(tmp_path / "in.png", lr)
    env = {**os.environ, "EDSR_LITE_CACHE": str(cache)}
    command = [sys.executable, "-m", "edsr_lite", "upscale", str(tmp_path / "in.png"), "-q"]
    command += ["--model", MODEL, "--backend", "openvino", "--overwrite"]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def output(tmp_path) -> np.ndarray:
    return read_image(tmp_path / "in_x2.png")


@pytest.fixture(scope="module")
def cached(tmp_path_factory, lr, torch_sr):
    """A cache folder holding the converted network (and the first run's image checked)."""
    tmp = tmp_path_factory.mktemp("ov")
    result = upscale(tmp, lr, tmp / "cache")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert np.array_equal(output(tmp), torch_sr)
    folder = tmp / "cache" / "openvino"
    (xml,) = folder.glob("*.xml")
    return {p.suffix: p.read_bytes() for p in folder.iterdir() if p.suffix != ".lock"}, xml.stem


def fill(tmp_path, cached) -> dict:
    """A fresh copy of the cached files under ``tmp_path/cache/openvino``; the paths by suffix."""
    files, key = cached
    folder = tmp_path / "cache" / "openvino"
    folder.mkdir(parents=True)
    for suffix, data in files.items():
        (folder / f"{key}{suffix}").write_bytes(data)
    return {suffix: folder / f"{key}{suffix}" for suffix in files}


def test_the_cache_holds_the_pair_and_its_hashes(cached):
    files, _ = cached
    assert set(files) == {".xml", ".bin", ".json"}
    assert b'"bin"' in files[".json"] and b'"xml"' in files[".json"]


@pytest.mark.parametrize("damage", ["noise in the .bin", "garbage .xml", "no record"])
def test_a_damaged_cache_is_converted_again_never_run(tmp_path, lr, torch_sr, cached, damage):
    paths = fill(tmp_path, cached)
    rng = np.random.default_rng(0)
    if damage == "noise in the .bin":  # the probe: same size, so only a hash can tell
        size = paths[".bin"].stat().st_size
        paths[".bin"].write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    elif damage == "garbage .xml":
        paths[".xml"].write_text("not an IR at all")
    else:  # a cache written before the records existed, or a save killed before its record
        paths[".json"].unlink()
    result = upscale(tmp_path, lr, tmp_path / "cache")
    assert result.returncode == 0
    assert result.stderr == ""  # quietly: no OpenVINO parser error, no warning
    assert np.array_equal(output(tmp_path), torch_sr)
    files, _ = cached
    for suffix, path in paths.items():  # converted again and rewritten, verified
        assert path.read_bytes() == files[suffix], suffix


def test_a_cache_that_cannot_be_written_is_one_warning_line(tmp_path, lr, torch_sr):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    result = upscale(tmp_path, lr, blocker)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edsr-lite upscale: warning: could not cache the OpenVINO model")
    assert f"{blocker} is a file" in lines[0] and "$EDSR_LITE_CACHE" in lines[0]
    assert np.array_equal(output(tmp_path), torch_sr)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_cache_is_one_warning_line(tmp_path, lr, torch_sr):
    folder = tmp_path / "cache" / "openvino"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    try:
        result = upscale(tmp_path, lr, tmp_path / "cache")
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0
    assert len(result.stderr.splitlines()) == 1 and "could not cache" in result.stderr
    assert np.array_equal(output(tmp_path), torch_sr)

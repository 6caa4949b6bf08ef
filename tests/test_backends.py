"""The OpenVINO backend (``Upscaler(backend="openvino")``, ``edsr-lite upscale --backend``): the
same uint8 image as PyTorch float32, tiled or not; a clear message where it is not installed.

The tests that run OpenVINO do it in a fresh Python process: its runtime's threads, once started
in the test process, crashed a later test that sends itself SIGINT (tests/test_train.py).
"""

import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
import torch

import edsr_lite.backends as backends
from edsr_lite.cli import main
from edsr_lite.datasets import benchmark
from edsr_lite.images import read_image, write_png
from edsr_lite.infer import InferenceOptions, Upscaler, upscale
from edsr_lite.weights import load_model

needs_openvino = pytest.mark.skipif(
    not backends.openvino_available(), reason="OpenVINO is not installed (edsr-lite[fast])"
)


def _lr(scale: int) -> np.ndarray:
    """A real LR crop: Set5 butterfly, 64 x 48."""
    return dict((n, lr) for n, _, lr in benchmark("Set5", scale))["butterfly"][:48, :64]


def _in_a_fresh_process(code: str) -> None:
    """Run ``code`` (assertions included) in a new Python process; fail with its output."""
    prelude = "import numpy as np, torch\nimport edsr_lite.backends as backends\n"
    prelude += "from edsr_lite.datasets import benchmark\nfrom edsr_lite.infer import Upscaler\n"
    prelude += "from edsr_lite.weights import load_model\n"
    # A cache of its own: a network it converts must not be found by a later in-process
    # `edsr-lite upscale` (auto would run OpenVINO in the test process).
    with tempfile.TemporaryDirectory(prefix="edsr-lite-test-ov-") as cache:
        result = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            env={**os.environ, "EDSR_LITE_CACHE": cache},
        )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_openvino
@pytest.mark.parametrize(
    ("name", "scale", "tile"),
    [("edsr_baseline_x2", 2, 0), ("edsr_baseline_x2", 2, 24), ("mdsr_baseline", 4, 24)],
)
def test_openvino_gives_the_torch_fp32_image(name, scale, tile):
    # A real LR crop (Set5 butterfly, 64 x 48). Measured on Set5 x2 and x4, whole images: no
    # value differs.
    _in_a_fresh_process(f"""
        lr = dict((n, lr) for n, _, lr in benchmark("Set5", {scale}))["butterfly"][:48, :64]
        model = load_model({name!r})
        torch_sr = Upscaler(model, tile={tile})(lr, {scale})
        openvino_sr = Upscaler(model, tile={tile}, backend="openvino")(lr, {scale})
        assert openvino_sr.shape == torch_sr.shape
        assert np.abs(openvino_sr.astype(int) - torch_sr).max() <= 1
    """)


@needs_openvino
def test_the_compiled_network_is_reused_and_redone_after_a_weight_change():
    _in_a_fresh_process("""
        model, x = load_model("edsr_baseline_x2"), torch.rand(1, 3, 24, 24) * 255
        backends.openvino_forward(model, 2)
        key = (2, "fp32", torch.get_num_threads())
        compiled = backends._COMPILED[model][1][key]
        backends.openvino_forward(model, 2)
        assert backends._COMPILED[model][1][key] is compiled  # reused, not converted again
        with torch.no_grad():
            model.tail[-1].weight.mul_(0.5)  # in place, as a training step: the network is stale
            after = model(x, 2)
        y = backends.openvino_forward(model, 2)(x)
        assert backends._COMPILED[model][1][key] is not compiled
        assert (y - after).abs().max().item() < 0.01
    """)


@needs_openvino
def test_the_converted_network_is_cached_on_disk_and_a_damaged_file_converted_again(tmp_path):
    _in_a_fresh_process(f"""
        from pathlib import Path
        folder, x = Path({str(tmp_path)!r}), torch.rand(1, 3, 24, 20) * 255
        model = load_model("edsr_baseline_x2")
        expected = model(x, 2).detach()
        xml = folder / (backends.cache_key(model, 2) + ".xml")
        bin_ = xml.with_suffix(".bin")

        def run():  # a new model object: nothing in memory, only the disk cache
            y = backends.openvino_forward(load_model("edsr_baseline_x2"), 2, "fp32", folder)(x)
            assert (y - expected).abs().max().item() < 0.01

        run()
        assert xml.is_file() and bin_.is_file()
        # the pair, its record (hashes) and the key's lock; no temporary file left
        assert sorted(p.suffix for p in folder.iterdir()) == [".bin", ".json", ".lock", ".xml"]
        assert backends.is_cached(load_model("edsr_baseline_x2"), 2, folder)
        convert = backends._convert
        backends._convert = None  # read from the cache: converting again would fail
        run()
        backends._convert = convert
        bin_.write_bytes(bin_.read_bytes()[:1000])  # truncated: converted again, replaced
        run()
        assert bin_.stat().st_size > 1_000_000
        xml.write_text("not an IR")
        assert not backends.is_cached(load_model("edsr_baseline_x2"), 2, folder)
        run()
        assert xml.read_text().startswith("<?xml")
        # a record that does not match is a damaged cache too: converted again, not read
        record = xml.with_suffix(".json")
        record.write_text('{{"xml": "0", "bin": "0"}}')  # (braces doubled: an f-string)
        backends._convert = None
        try:
            run()
        except TypeError:  # 'NoneType' object is not callable: it converted, as it must
            pass
        else:
            raise AssertionError("a pair whose hashes differ from its record was read")
        backends._convert = convert
        assert backends.cache_key(load_model("edsr_baseline_x2"), 2) == xml.stem
        assert backends.cache_key(load_model("edsr_baseline_x2"), 2) != backends.cache_key(
            load_model("edsr_baseline_x4"), 4)
    """)


@needs_openvino
def test_the_default_command_gives_the_torch_image_with_openvino(tmp_path):
    # A fresh process each: `--backend openvino` converts and caches the network, then the
    # default (auto) finds it cached and runs OpenVINO; the PNG is PyTorch float32's.
    lr = _lr(2)
    write_png(tmp_path / "in.png", lr)
    env = {k: v for k, v in os.environ.items() if k != "EDSR_LITE_BACKEND"}
    env["EDSR_LITE_CACHE"] = str(tmp_path / "cache")
    command = [sys.executable, "-m", "edsr_lite", "upscale", str(tmp_path / "in.png"), "-q"]
    command += ["--model", "edsr_baseline_x2", "--overwrite"]
    for extra in (["--backend", "openvino"], []):
        result = subprocess.run([*command, *extra], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "cache" / "openvino").glob("*.xml"))) == 1
    expected = Upscaler(load_model("edsr_baseline_x2"))(lr)
    assert np.abs(read_image(tmp_path / "in_x2.png").astype(int) - expected).max() <= 1


def test_auto_converts_only_when_cached_or_when_the_run_pays_for_it(monkeypatch, tmp_path):
    # The rule of `edsr-lite upscale --backend auto` (not its timings): OpenVINO when the
    # converted network is cached, or when the inputs are big enough to pay for converting it.
    from edsr_lite.cli import upscale as cli

    model, cached = load_model("edsr_baseline_x2"), []
    monkeypatch.setattr(backends, "openvino_available", lambda: True)
    monkeypatch.setattr(backends, "is_cached", lambda *a: bool(cached))
    write_png(tmp_path / "small.png", _lr(2))  # 64 x 48
    jobs = [cli.Job(tmp_path / "small.png", tmp_path / "out.png")]
    auto = InferenceOptions(backend="auto")
    assert auto.backend == "openvino"  # the library's auto: OpenVINO when installed

    def chosen(asked: str, options: InferenceOptions = auto) -> str:
        return cli._auto_backend(options, asked, model, 2, jobs).backend

    assert chosen("auto") == "torch"
    assert chosen("openvino") == "openvino"
    monkeypatch.setattr(cli, "CONVERT_FROM_PIXELS", 64 * 48)
    assert chosen("auto") == "openvino"
    assert chosen("auto", InferenceOptions(backend="auto", ensemble=True)) == "openvino"
    monkeypatch.setattr(cli, "CONVERT_FROM_PIXELS", 64 * 48 * 8 + 1)
    assert chosen("auto", InferenceOptions(backend="auto", ensemble=True)) == "torch"
    monkeypatch.setattr(cli, "CONVERT_FROM_PIXELS", 10**6)
    cached.append(True)
    assert chosen("auto") == "openvino"
    assert chosen("torch", InferenceOptions(backend="torch")) == "torch"
    assert backends.resolve_backend("auto", torch.device("cuda")) == "torch"  # no GPU needed


def test_the_default_command_stays_on_torch_without_openvino(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    monkeypatch.delenv("EDSR_LITE_BACKEND", raising=False)
    write_png(tmp_path / "in.png", _lr(2))
    assert main(["upscale", str(tmp_path / "in.png"), "--model", "edsr_baseline_x2", "-q"]) == 0
    expected = Upscaler(load_model("edsr_baseline_x2"))(_lr(2))
    assert np.array_equal(read_image(tmp_path / "in_x2.png"), expected)


def test_auto_is_torch_without_openvino(monkeypatch):
    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    assert Upscaler(load_model("edsr_baseline_x2"), backend="auto").options.backend == "torch"
    assert backends.resolve_backend("auto", torch.device("cpu")) == "torch"


def test_openvino_without_the_package_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    with pytest.raises(ValueError, match="pip install openvino"):
        upscale(load_model("edsr_baseline_x2"), _lr(2), backend="openvino")
    write_png(tmp_path / "in.png", _lr(2))
    args = ["upscale", str(tmp_path / "in.png"), "--model", "edsr_baseline_x2", "-q"]
    assert main([*args, "--backend", "openvino"]) == 2
    err = capsys.readouterr().err
    assert "--backend openvino" in err and "pip install openvino" in err
    assert not (tmp_path / "in_x2.png").exists()


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="auto, torch, openvino"):
        Upscaler(load_model("edsr_baseline_x2"), backend="onnx")

"""The OpenVINO backend (``Upscaler(backend="openvino")``, ``edsr-lite upscale --backend``): the
same uint8 image as PyTorch float32, tiled or not; a clear message where it is not installed.

The tests that run OpenVINO do it in a fresh Python process: its runtime's threads, once started
in the test process, crashed a later test that sends itself SIGINT (tests/test_train.py).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import edsr_lite.backends as backends
from edsr_lite.cli import main
from edsr_lite.datasets import benchmark
from edsr_lite.images import write_png
from edsr_lite.infer import Upscaler, upscale
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
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True
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


def test_auto_is_torch_without_openvino(monkeypatch):
    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    assert Upscaler(load_model("edsr_baseline_x2"), backend="auto").backend == "torch"
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

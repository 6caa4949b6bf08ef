"""ONNX export (edsr_lite.export, ``edsr-lite export``): the file computes what the network does,
at any input size, and a missing runtime is one clear line."""

import importlib.util
import sys

import numpy as np
import pytest
import torch

from edsr_lite.cli import main
from edsr_lite.export import CHECK_TOLERANCE, ExportCheckError, check_onnx, export_onnx
from edsr_lite.weights import load_model

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="onnx, onnxscript, onnxruntime missing")


def _ort_and_torch(path, model, scale, shape):
    import onnxruntime

    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 255
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"lr": x.numpy()})[0]
    with torch.inference_mode():
        expected = model(x, scale).numpy()
    return got, expected


@pytest.fixture(scope="module")
def edsr_x2_onnx(tmp_path_factory):
    model = load_model("edsr_baseline_x2")
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "edsr_x2.onnx")


@needs_onnx
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 64, 24)])
def test_edsr_export_runs_at_any_size_like_torch(edsr_x2_onnx, shape):
    model, path = edsr_x2_onnx
    got, expected = _ort_and_torch(path, model, 2, shape)
    assert got.shape == (shape[0], 3, shape[2] * 2, shape[3] * 2)
    assert np.abs(got - expected).max() < CHECK_TOLERANCE


@needs_onnx
def test_a_graph_that_is_not_the_network_fails_the_check(edsr_x2_onnx):
    model, path = edsr_x2_onnx
    other = load_model("edsr_baseline_x2")
    with torch.no_grad():
        other.tail[-1].bias += 1.0  # one gray level everywhere
    with pytest.raises(ExportCheckError, match="differ by up to"):
        check_onnx(other, path)


@needs_onnx
def test_cli_exports_one_scale_of_mdsr(tmp_path, capsys):
    out = tmp_path / "mdsr_x3.onnx"
    assert main(["export", str(out), "--model", "mdsr_baseline", "-s", "3"]) == 0
    assert "mdsr_baseline x3" in capsys.readouterr().out
    got, expected = _ort_and_torch(out, load_model("mdsr_baseline"), 3, (1, 3, 30, 41))
    assert got.shape == (1, 3, 90, 123)
    assert np.abs(got - expected).max() < CHECK_TOLERANCE
    # an existing file is not replaced without --overwrite; MDSR needs a scale
    assert main(["export", str(out), "--model", "mdsr_baseline", "-s", "3"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.onnx"), "--model", "mdsr_baseline"]) == 2
    assert "-s/--scale" in capsys.readouterr().err


def test_missing_onnxruntime_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ModuleNotFoundError, match="pip install onnx onnxscript onnxruntime"):
        export_onnx(load_model("edsr_baseline_x2"), tmp_path / "a.onnx")
    assert main(["export", str(tmp_path / "b.onnx"), "--model", "edsr_baseline_x2"]) == 2
    err = capsys.readouterr().err
    assert "edsr-lite export: error:" in err and "'onnxruntime'" in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


@needs_onnx
def test_a_file_that_fails_its_check_is_removed(tmp_path, monkeypatch):
    import edsr_lite.export

    def wrong(*args, **kwargs):
        raise ExportCheckError("differ by up to 3 gray levels")

    monkeypatch.setattr(edsr_lite.export, "check_onnx", wrong)
    with pytest.raises(ExportCheckError):
        export_onnx(load_model("mdsr_baseline"), tmp_path / "m.onnx", scale=2)
    assert not list(tmp_path.iterdir())

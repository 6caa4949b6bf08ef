"""ONNX export (edsr_lite.export, ``edsr-lite export``): the file computes what the network does,
at any input size, holds the opset asked for (and says the one it holds), and a missing runtime,
a wrong opset or a wrong destination is one clear line before any work."""

import importlib.util
import os
import sys

import numpy as np
import pytest
import torch

import edsr_lite.cli.export
import edsr_lite.export
from edsr_lite.cli import main
from edsr_lite.export import (
    CHECK_TOLERANCE,
    MAX_OPSET,
    MIN_OPSET,
    ExportCheckError,
    ExportError,
    check_onnx,
    export_onnx,
    onnx_opset,
)
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
def test_the_folder_holds_the_export_only_with_the_opset_asked_for(edsr_x2_onnx):
    _, path = edsr_x2_onnx
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no lock, no temporary file
    assert onnx_opset(path) == 17


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
    opset = ["--opset", str(MIN_OPSET)]  # not the default: the file and the line say which
    assert main(["export", str(out), "--model", "mdsr_baseline", "-s", "3", *opset]) == 0
    said = capsys.readouterr().out
    assert "mdsr_baseline x3" in said and f"ONNX opset {MIN_OPSET}, checked" in said
    assert onnx_opset(out) == MIN_OPSET
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


@pytest.fixture
def no_work(monkeypatch):
    """Make loading a model (the first step of the work) fail the test: refusals come first."""

    def load(*args):
        raise AssertionError("the model was loaded before the refusal")

    monkeypatch.setattr(edsr_lite.cli.export, "load_cli_model", load)


@pytest.mark.parametrize("opset", ["7", "-1", "99", str(MIN_OPSET - 1), str(MAX_OPSET + 1)])
def test_an_opset_the_exporter_does_not_write_is_refused_first(tmp_path, capsys, no_work, opset):
    # Before: "ONNX opset 7, checked in ONNX Runtime", and the file held opset 18.
    out = tmp_path / "m.onnx"
    assert main(["export", str(out), "--model", "edsr_baseline_x2", "--opset", opset]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"ONNX opset {opset} cannot be written" in err
    assert f"opsets {MIN_OPSET} to {MAX_OPSET}" in err
    assert not list(tmp_path.iterdir())


def _destination_cases(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    return [
        (tmp_path / "dir.onnx", "is a folder"),  # before: 17 s of export, IsADirectoryError
        (tmp_path / "model.pt", "name ends in .onnx"),
        (tmp_path / "missing" / "m.onnx", "missing does not exist: create that folder"),
        (tmp_path / "notes.txt" / "m.onnx", "notes.txt is a file, not a folder"),
    ]


def test_a_wrong_destination_is_refused_before_any_work(tmp_path, capsys, no_work):
    for path, says in _destination_cases(tmp_path):
        args = ["export", str(path), "--model", "edsr_baseline_x2", "--overwrite"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
        with pytest.raises(ExportError, match=says):  # the library refuses the same way
            export_onnx(None, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.onnx", "notes.txt"]
    assert not list((tmp_path / "dir.onnx").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path, capsys, no_work):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["export", str(folder / "m.onnx"), "--model", "edsr_baseline_x2"]) == 2
    finally:
        folder.chmod(0o755)
    assert "cannot write into" in capsys.readouterr().err


@needs_onnx
def test_an_opset_other_than_the_one_asked_for_is_never_written(
    tmp_path, monkeypatch, edsr_x2_onnx
):
    model, path = edsr_x2_onnx  # holds opset 17
    monkeypatch.setattr(edsr_lite.export, "_export_bytes", lambda net, opset: path.read_bytes())
    with pytest.raises(ExportError, match="wrote ONNX opset 17 when 16 was asked"):
        export_onnx(model, tmp_path / "m.onnx", opset=16)
    with pytest.raises(ExportError, match="exists; use --overwrite"):
        export_onnx(model, path, overwrite=False)
    assert not list(tmp_path.iterdir())

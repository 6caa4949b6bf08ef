"""``edsr-lite eval`` and ``info`` on wrong input: refused up front, in one clear line."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

import edsr_lite.checkpoint_eval as checkpoint_eval
from edsr_lite.cli import main
from edsr_lite.datasets import find_dataset


def test_eval_checks_every_model_against_the_scales_before_scoring(monkeypatch, capsys):
    scored = []
    monkeypatch.setattr(
        checkpoint_eval, "evaluate_checkpoint", lambda *a, **k: scored.append(a) or []
    )
    args = ["eval", "--model", "edsr_baseline_x2", "edsr_baseline_x3", "--scale", "2"]
    assert main([*args, "--set", "Set5"]) == 2
    err = capsys.readouterr().err
    assert "edsr_baseline_x3 is a x3 model (no x2)" in err and "Nothing was scored" in err
    assert "edsr_baseline_x2 is" not in err and scored == []
    assert main(["eval", "--model", "edsr_baseline_x2", "no_such_model", "--set", "Set5"]) == 2
    assert "no_such_model" in capsys.readouterr().err and scored == []


def _module_pickle(path):
    torch.save(torch.nn.Linear(2, 2), path)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "not a PyTorch file"),
        (lambda p: p.write_bytes(pickle.dumps({"a": 1}, protocol=4)), "not a PyTorch file"),
        (_module_pickle, "pickled Python object (torch.nn.modules.linear.Linear)"),
    ],
    ids=["random bytes", "plain pickle", "module pickle"],
)
def test_info_on_a_file_that_is_not_a_checkpoint(tmp_path, capsys, make, reason):
    path = tmp_path / "thing.pt"
    make(path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not a checkpoint edsr-lite can read: " in err and reason in err
    assert "weights_only" not in err and "\x1b" not in err  # no unsafe advice, no colour codes
    assert err.count("\n") == 1


def test_info_on_a_run_whose_record_is_broken(tmp_path, capsys):
    from edsr_lite.checkpoints import save_checkpoint
    from edsr_lite.core.models import build

    save_checkpoint(tmp_path / "best.pt", build("edsr_tiny", 2), meta={"step": 6})
    (tmp_path / "run.json").write_text('{"status": "runn')  # a record cut short
    assert main(["info", str(tmp_path / "best.pt")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run.json'}: not a run record, the JSON is broken" in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("size", [1, 7])
def test_an_eval_set_with_a_tiny_image_names_the_file(tmp_path, capsys, size):
    folder = tmp_path / "myset"
    folder.mkdir()
    (folder / "a_good.png").write_bytes((find_dataset("Set5") / "baby.png").read_bytes())
    Image.new("RGB", (size, size), (90, 40, 200)).save(folder / "z_tiny.png")
    assert main(["eval", "--set", str(folder), "--scale", "2"]) == 2
    err = capsys.readouterr().err
    assert "z_tiny.png" in err and "too small to score at x2" in err and "Traceback" not in err


def test_info_on_weights_that_are_not_a_whole_network(tmp_path, capsys):
    path = tmp_path / "head.pt"
    torch.save({"head.0.weight": torch.zeros(8, 3, 3, 3)}, path)  # an EDSR's first tensor only
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not a checkpoint edsr-lite can read" in err and "no upsampler" in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "record, status, words",
    [
        (np.random.default_rng(0).bytes(200), 2, "not a run record, the JSON is broken"),
        (b"[1, 2]", 2, "not a run record (a JSON list, not an object)"),
        (b'{"seconds": "long", "step": "many"}', 0, ""),  # odd values are left out, not used
    ],
    ids=["random bytes", "a list", "a string for a number"],
)
def test_info_on_a_run_record_edited_by_hand(tmp_path, capsys, record, status, words):
    from edsr_lite.checkpoints import save_checkpoint
    from edsr_lite.core.models import build

    meta = {"step": 6, "train_config": {"max_steps": 6}}
    save_checkpoint(tmp_path / "best.pt", build("edsr_tiny", 2), meta=meta)
    (tmp_path / "run.json").write_bytes(record)
    assert main(["info", str(tmp_path / "best.pt")]) == status
    out, err = capsys.readouterr()
    assert "Traceback" not in err and words in err
    if status:
        assert err.count("\n") == 1 and str(tmp_path / "run.json") in err
    else:
        assert "steps:       6\n" in out and "long" not in out and "many" not in out

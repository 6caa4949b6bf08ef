"""Training when things go wrong: bad settings, kills at any moment, a full disk, resuming with
other spellings of the same settings, and validation on held-out training images.

Runs are tiny (1 block x 8 features, 12 px patches, 4 real T91 images, as in test_train.py).
"""

import errno
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_train import tiny

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.cli import main
from edsr_lite.datasets import find_dataset
from edsr_lite.train import TrainConfig, load_log, train
from edsr_lite.train.runlog import DiskFullError


def files_in(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ------------------------------------------------------------ item 3: every field is checked


@pytest.mark.parametrize(
    "line, field, shown",
    [
        ('augment: "no"', "augment", "'no'"),
        ('half_best: "false"', "half_best", "'false'"),
        ('max_steps: "10"', "max_steps", "'10'"),
        ("lr: fast", "lr", "'fast'"),
        ("batch_size: 4.0", "batch_size", "4.0"),
        ("data: 5", "data", "5"),
        ("val_images: two", "val_images", "'two'"),
        ("batch_size: 2.5", "batch_size", "2.5"),
        ("lr: 1e-4", "lr", "1.0e-4"),  # YAML reads it as text: the message says how to write it
        ("scale: [2, 3]", "scale", "[2, 3]"),
        ("seed: -1", "seed", "-1"),
        ("cache: ram", "cache", "'ram'"),
        ("device: gpu", "device", "'gpu'"),
        ("val_holdout: t10.png", "val_holdout", "'t10.png'"),
    ],
)
def test_a_wrong_yaml_value_is_one_line_naming_field_and_value(
    tmp_path, capsys, line, field, shown
):
    config = tmp_path / "c.yaml"
    config.write_text(f"preset: edsr_tiny\n{line}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edsr-lite train: error: ") and "Traceback" not in err
    assert field in err and shown in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_wrong_flags_are_refused_too(tmp_path, capsys):
    out = str(tmp_path / "run")
    for flags in (["--lr", "nan"], ["--lr", "-1"], ["--scale", "5"], ["--max-minutes", "inf"]):
        assert main(["train", "--preset", "edsr_tiny", *flags, "--out", out, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert flags[0].lstrip("-").replace("-", "_") in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:  # argparse: --batch-size takes a whole number
        main(["train", "--batch-size", "2.5", "--out", out])
    assert exit_.value.code == 2 and "--batch-size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------- items 7, 8: a kill at any moment

KILL_AT = """
import json, os, signal, sys
from edsr_lite.train import TrainConfig, train

def die(step, row, model):
    if step == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind

train(TrainConfig(**json.loads(sys.argv[1])), quiet=True, callback=die)
"""


def test_a_kill_before_the_first_periodic_save_resumes(train_dir, tmp_path):
    """latest.pt is saved at step 0, before best.pt and log.csv: --resume works from any step."""
    settings = dict(max_steps=6, save_every=100, val_every=3)
    config = tiny(train_dir, tmp_path / "run", **settings)
    script = tmp_path / "kill.py"
    script.write_text(KILL_AT)
    done = subprocess.run([sys.executable, str(script), json.dumps(config.to_dict()), "2"])
    assert done.returncode == -9
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 0
    # and the lock file of the killed run: its lock died with it (resume takes it below)
    assert files_in(tmp_path / "run") == {"latest.pt", "best.pt", "log.csv", "run.json", ".lock"}
    config.resume = True
    resumed = train(config, quiet=True)
    whole = train(tiny(train_dir, tmp_path / "whole", **settings), quiet=True)
    assert resumed.step == 6 and resumed.steps_this_run == 6
    np.testing.assert_allclose(resumed.log.series("loss")[1], whole.log.series("loss")[1])
    assert [r["step"] for r in load_log(tmp_path / "run").rows] == list(range(7))


def test_a_run_without_latest_pt_that_never_finished_starts_over_saying_so(
    train_dir, tmp_path, capsys
):
    """A run killed before latest.pt existed (as older versions could leave one)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.csv").write_text("step,scale,loss\n0,2,\n")
    (out / "best.pt").write_bytes(b"old")
    (out / "run.json").write_text(json.dumps({"status": "running", "step": 0}))
    result = train(tiny(train_dir, out, max_steps=2, resume=True), quiet=False)
    assert "stopped before its first save of latest.pt; starting it over" in capsys.readouterr().err
    assert result.step == 2 and files_in(out) == {"latest.pt", "best.pt", "log.csv", "run.json"}
    # A finished run is never started over (a shipped run keeps no latest.pt).
    (out / "latest.pt").unlink()
    with pytest.raises(ValueError, match="no latest.pt to resume"):
        train(tiny(train_dir, out, max_steps=4, resume=True), quiet=True)


def test_temp_files_of_killed_saves_are_removed_by_the_next_run(train_dir, tmp_path):
    out = tmp_path / "run"
    train(tiny(train_dir, out, max_steps=2), quiet=True)
    stale = [".latest.pt.k2j3h.tmp", ".best.pt.x9y8.tmp", ".run.json.abc.tmp"]
    kept = [".notes.txt.abc.tmp", "latest.pt.tmp", ".latest.pt.bak"]  # not our pattern
    for name in stale + kept:
        (out / name).write_bytes(b"partial")
    before = files_in(out)
    train(tiny(train_dir, out, max_steps=3, resume=True), quiet=True)
    assert files_in(out) == before - set(stale)
    assert all((out / name).read_bytes() == b"partial" for name in kept)


# ---------------------------------------------------------------- item 9: a full disk


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 1472 vs 1400"),
    ],
    ids=["ENOSPC", "torch"],
)
def test_a_full_disk_stops_with_a_clear_message_and_damages_nothing(
    train_dir, tmp_path, monkeypatch, capsys, error
):
    out = tmp_path / "run"
    config = tiny(train_dir, out, max_steps=4, save_every=2, val_every=2)
    train(config, quiet=True)
    latest = (out / "latest.pt").read_bytes()

    def full(*args, **kwargs):
        raise error

    # (edsr_lite.train is also the name of a function: the module is found in sys.modules)
    monkeypatch.setattr(sys.modules["edsr_lite.train.resume"], "save_checkpoint", full)
    config.resume, config.max_steps = True, 8
    with pytest.raises(DiskFullError, match="no space left on device while saving .*latest.pt"):
        train(config, quiet=True)
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert (out / "latest.pt").read_bytes() == latest  # step 4: resume continues from it
    assert read_checkpoint(out / "best.pt")["meta"]["step"] in (4, 6)  # whole (6: improved)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # The command line: one line, what to do, no traceback.
    args = ["train", "--out", str(out), "--resume", "--max-steps", "8", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "no space left on device while saving" in err and "--resume" in err
    assert "Traceback" not in err and "unexpected pos" not in err


# ------------------------------------------------------ item 11: resuming, same or changed


def test_resume_compares_what_the_settings_mean(train_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--preset", "edsr_tiny", "--n-resblocks", "1", "--n-feats", "8"]
    base += ["--data", str(train_dir), "--patch-size", "12", "--batch-size", "4"]
    base += ["--val-data", "Set5", "--val-images", "1", "--out", str(out), "--quiet"]
    assert main([*base, "--max-steps", "2"]) == 0  # no --scale: x2, edsr's default
    # The same scale spelt out is the same run.
    assert main(["train", "--out", str(out), "--resume", "--scale", "2", "--max-steps", "3"]) == 0
    assert read_checkpoint(out / "latest.pt")["step"] == 3
    capsys.readouterr()
    # A finished run with a changed recipe: refused as an unfinished one is, not "nothing to do".
    resume = ["train", "--out", str(out), "--resume", "--quiet"]
    assert main([*resume, "--preset", "edsr_baseline"]) == 2
    finished = capsys.readouterr().err
    assert "cannot resume: these settings differ from the stored run: preset" in finished
    assert main([*resume, "--max-steps", "5", "--preset", "edsr_baseline"]) == 2
    assert capsys.readouterr().err.split(": preset")[0] == finished.split(": preset")[0]
    assert main([*resume, "--scale", "3"]) == 2
    assert "scale: 2 -> 3" in capsys.readouterr().err
    assert main(resume) == 0  # unchanged: nothing to do


# ------------------------------------------------ validation on held-out training images


def test_the_default_validation_holds_out_training_images(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for name in ("t1.png", "t2.png", "t10.png", "t30.png"):
        shutil.copy(find_dataset("T91") / name, folder / name)
    config = tiny(folder, tmp_path / "run", max_steps=1)
    config.val_data, config.val_images = TrainConfig().val_data, None  # the default: holdout
    assert config.val_data == "holdout" and "t10.png" in config.val_holdout
    result = train(config, quiet=True)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["val_image_names"] == ["t10", "t30"]  # validated on the held-out pair ...
    assert info["data"]["images"] == 2  # ... which were not trained on
    assert result.best_psnr is not None and "holdout" in info["metrics"]
    none_held = tiny(folder, tmp_path / "other", val_data="holdout", val_holdout=["x.png"])
    with pytest.raises(ValueError, match="none of them .*x.png.* is in the training data"):
        train(none_held, quiet=True)

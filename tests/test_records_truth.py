"""A run's record tells the truth (issue #31, rules 6 and 7): what it trained on (used, too
small and unreadable files counted apart), where its weights came from (a few tensors of
another architecture are not "the weights of" it), which folder a set was read from when
``$EDSR_LITE_DATA`` shadows a shipped one, and a stop request during a validation (SIGTERM)
that stops between two images with ``latest.pt`` saved, saying so.

Runs are tiny (1 block x 8 features, 12 px patches) on crops of real Set5/T91 images.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from PIL import Image
from test_train import tiny

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.cli import main
from edsr_lite.core.init import init_from_state_dict
from edsr_lite.core.models import build
from edsr_lite.datasets import find_dataset
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.runs import read_run
from edsr_lite.summary import describe_checkpoint
from edsr_lite.train import load_log, train
from edsr_lite.train.runlog import portable_path
from edsr_lite.training_data import (
    SkippedImagesWarning,
    describe_counts,
    load_training_set,
    training_counts,
)
from edsr_lite.weights import InitMismatchWarning, init_from, load_pretrained

SET5 = find_dataset("Set5")


def mixed_folder(folder: Path, small_side: int = 20) -> Path:
    """Two 120 x 120 crops of Set5 images, one ``small_side`` px crop, and a text file named
    like a PNG: 4 image files, of which 2 usable at x2 with 12 px LR patches."""
    folder.mkdir(parents=True)
    with Image.open(SET5 / "baby.png") as image:
        image.crop((0, 0, 120, 120)).save(folder / "a.png")
    with Image.open(SET5 / "bird.png") as image:
        image.crop((0, 0, 120, 120)).save(folder / "b.png")
    with Image.open(SET5 / "head.png") as image:
        image.crop((0, 0, small_side, small_side)).save(folder / "c_small.png")
    (folder / "notes.png").write_text("meeting notes, not an image\n")
    return folder


# ------------------------------------------------ used / too small / unreadable, apart


def test_used_too_small_and_unreadable_are_counted_apart(tmp_path, capsys):
    folder = mixed_folder(tmp_path / "mixed")
    config = tiny(folder, tmp_path / "run", max_steps=1, val_data=None)
    with pytest.warns(SkippedImagesWarning) as caught:
        train(config, quiet=True)
    said = "4 images (2 used, 1 too small for x2, 1 unreadable)"
    assert said in str(caught[0].message)
    data = read_run(tmp_path / "run")["data"]
    assert (data["files"], data["images"], data["unreadable"]) == (4, 3, 1)
    assert data["used"] == {"x2": 2} and data["too_small"] == {"x2": 1}
    kinds = {s["file"]: s["kind"] for s in data["skipped"]}
    assert kinds == {"notes.png": "unreadable", "c_small.png": "too_small"}
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["meta"]["data"] == data
    assert str(tmp_path) not in json.dumps(data)  # the reasons name files, not folders
    # What people read: edsr-lite info and describe_checkpoint say the same.
    assert f"trained on:  mixed: {said}, 12x12 LR patches" in describe_checkpoint(
        tmp_path / "run" / "latest.pt"
    )
    assert main(["info", str(tmp_path / "run" / "latest.pt")]) == 0
    assert said in capsys.readouterr().out


def test_counts_differ_per_scale_where_an_image_fits_one_scale_only(tmp_path):
    folder = mixed_folder(tmp_path / "mixed", small_side=60)  # LR 30 at x2, 15 at x4
    with pytest.warns(SkippedImagesWarning):
        found = load_training_set(folder, [2, 4], patch_size=24)
    report = found.report()
    assert report["used"] == {"x2": 3, "x4": 2} and report["too_small"] == {"x2": 0, "x4": 1}
    assert describe_counts(report) == (
        "4 images (3 used for x2, 2 for x4; 1 too small for x4; 1 unreadable)"
    )
    assert all(
        report["used"][k] + report["too_small"][k] + report["unreadable"] == report["files"]
        for k in ("x2", "x4")
    )


def test_records_written_before_the_counts_are_read_apart_too():
    """A shipped run recorded only its ``skipped`` reasons: they say which problem each had."""
    record = load_log(CHECKPOINT_DIR / "mdsr_baseline")
    counts = training_counts(record.info["data"])
    assert counts["used"] == {"x2": 290, "x3": 274, "x4": 240}
    assert counts["too_small"] == {"x2": 1, "x3": 17, "x4": 51} and counts["unreadable"] == 0
    old = {"images": 3, "skipped": [{"file": "n.png", "reason": "not an image Pillow can read"}]}
    assert describe_counts(old) == "4 images (1 unreadable)"
    assert describe_counts({"images": "x", "skipped": [1], "used": [3]}) == "images"


# --------------------------------------------------- init_from: another architecture


def test_init_from_another_architecture_warns_and_the_record_says_so(train_dir, tmp_path):
    with pytest.warns(InitMismatchWarning, match=r"copied 5 of 44 tensors from edsr_baseline_x2"):
        init_from(build("edsr_tiny", 2), "edsr_baseline_x2", verbose=False)
    config = tiny(train_dir, tmp_path / "run", max_steps=1, val_data=None)
    config.init_from = "edsr_baseline_x2"  # 16 x 64 features into 1 x 8: only the mean shifts
    with pytest.warns(InitMismatchWarning, match="another architecture"):
        train(config, quiet=True)
    record = read_run(tmp_path / "run")["init_from"]
    assert record["counts"] == {"copied": 5, "tensors": 16} and record["another_architecture"]
    summary = describe_checkpoint(tmp_path / "run" / "latest.pt")
    assert (
        "started:     5 of 16 tensors from edsr_baseline_x2 (another architecture); the rest "
        "random" in summary
    )
    assert "from the weights of" not in summary


def test_the_papers_pretrained_initialization_does_not_warn(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # x2 -> x4 copies all but the upsampler: no warning
        report = init_from(build("edsr_baseline", 4), load_pretrained("edsr_baseline_x2"), False)
        # The core judges nothing: it copies and reports, whatever the source.
        init_from_state_dict(build("edsr_tiny", 2), build("edsr_baseline", 2).state_dict())
    assert len(report.copied) == 76
    summary = describe_checkpoint("edsr_baseline_x4")
    assert "started:     from the weights of edsr_baseline_x2" in summary


# ---------------------------------------------------- $EDSR_LITE_DATA shadowing a set


def test_a_set_shadowed_by_edsr_lite_data_records_the_folder_it_came_from(tmp_path, monkeypatch):
    monkeypatch.delenv("EDSR_LITE_DATA", raising=False)  # CI points it at a copy holding T91
    assert portable_path(find_dataset("T91")) == "data/T91"  # the clone's own
    shadow = tmp_path / "mine" / "T91"
    shadow.mkdir(parents=True)
    for name in ("t1.png", "t2.png"):
        shutil.copy(find_dataset("T91") / name, shadow / name)
    monkeypatch.setenv("EDSR_LITE_DATA", str(tmp_path / "mine"))
    train(tiny("T91", tmp_path / "run", max_steps=1, val_data=None), quiet=True)
    data = read_run(tmp_path / "run")["data"]
    assert data["sets"] == [{"set": "T91", "folder": "$EDSR_LITE_DATA/T91"}]
    assert data["folders"] == ["$EDSR_LITE_DATA/T91"] and data["files"] == 2
    assert str(tmp_path) not in json.dumps(data)  # (train_config keeps --out as given)
    summary = describe_checkpoint(tmp_path / "run" / "latest.pt")
    assert "trained on:  T91 (from $EDSR_LITE_DATA): 2 images" in summary


# ------------------------------------------------------- a stop during a validation

SLOW_VALIDATION = """
import sys, time
import edsr_lite.train.engine
from edsr_lite.cli import main

engine = sys.modules["edsr_lite.train.engine"]  # (edsr_lite.train is also a function)
scored, real_psnr = sys.argv[1], engine.psnr

def slow_psnr(*args):
    with open(scored, "a") as f:
        f.write("image\\n")  # one line per validation image begun
    time.sleep(0.4)  # a validation of big images with a big model
    return real_psnr(*args)

engine.psnr = slow_psnr
sys.exit(main(sys.argv[2:]))
"""


def test_sigterm_in_the_first_validation_stops_between_images_and_resumes(train_dir, tmp_path):
    script, scored, out = tmp_path / "slow.py", tmp_path / "scored.txt", tmp_path / "run"
    script.write_text(SLOW_VALIDATION)
    val = tmp_path / "val"  # 10 validation images: 64 x 64 crops of Set5
    val.mkdir()
    for i, name in enumerate(sorted(p.name for p in SET5.iterdir()) * 2):
        with Image.open(SET5 / name) as image:
            image.crop((0, 64 * (i // 5), 64, 64 * (i // 5 + 1))).save(val / f"v{i}.png")
    flags = ["--preset", "edsr_tiny", "--n-resblocks", "1", "--n-feats", "8", "--scale", "2"]
    flags += ["--data", str(train_dir), "--patch-size", "12", "--batch-size", "4"]
    flags += ["--val-data", str(val), "--max-steps", "3", "--val-every", "3", "--quiet"]
    flags += ["--out", str(out)]
    child = subprocess.Popen(
        [sys.executable, str(script), str(scored), "train", *flags],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not scored.exists() and child.poll() is None:  # the step-0 validation began
            time.sleep(0.05)
        begun = len(scored.read_text().splitlines())
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=25)  # (the whole validation: 10 x 0.4 s)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "stopped at step 0, its validation skipped" in err
    assert "latest.pt saved: resume continues from it" in err and "Traceback" not in err
    # Between images: the image in progress finished, the rest of the 10 were skipped.
    assert len(scored.read_text().splitlines()) <= begun + 1 < 10
    assert read_checkpoint(out / "latest.pt")["step"] == 0
    assert read_run(out)["status"] == "interrupted" and not (out / "best.pt").exists()
    # Resume validates step 0 again and runs the rest.
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    log = load_log(out)
    assert [r["step"] for r in log.rows] == [0, 1, 2, 3]
    assert log.series("psnr")[0] == [0, 3] and log.info["status"] == "finished"


def test_ctrl_c_during_a_save_finishes_it_then_stops_there(train_dir, tmp_path, monkeypatch):
    """The save is one unit of work (atomic): it completes, and the stop that follows does not
    write the same step again."""
    engine = sys.modules["edsr_lite.train.engine"]  # (edsr_lite.train is also a function)
    saves = []

    def save_interrupted(path, *args, step, **kwargs):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)  # arrives while latest.pt is being written
        saves.append(step)
        return real_save(path, *args, step=step, **kwargs)

    real_save = engine.save_latest
    monkeypatch.setattr(engine, "save_latest", save_interrupted)
    config = tiny(train_dir, tmp_path / "run", max_steps=8, save_every=4, val_every=4)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 4; .*latest.pt saved"):
        train(config, quiet=True)
    assert saves == [0, 4]  # not saved twice
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 4
    assert read_run(tmp_path / "run")["status"] == "interrupted"

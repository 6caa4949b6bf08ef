"""The ``edsr-lite`` command, end to end, as a user runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edsr_lite.checkpoints import save_checkpoint
from edsr_lite.cli import main
from edsr_lite.core.degradation import imresize
from edsr_lite.core.models import build
from edsr_lite.images import read_image
from edsr_lite.infer import upscale
from edsr_lite.locations import DATA_DIR
from edsr_lite.weights import load_model

EXE = Path(sys.executable).parent / "edsr-lite"


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder with a good image, a corrupt one, and a grayscale one."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA_DIR / "Set5" / "bird.png", folder / "bird.png")
    good = (folder / "bird.png").read_bytes()
    (folder / "broken.png").write_bytes(good[: len(good) // 3])
    shutil.copy(DATA_DIR / "Set14" / "bridge.png", folder / "bridge.png")
    return folder


@pytest.fixture
def tiny_x2(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "tiny_x2.pt", build("edsr_tiny", 2), meta={"step": 5})


def test_upscale_writes_outputs_and_continues_past_a_bad_file(images, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "upscale",
            str(images / "bird.png"),
            str(images / "broken.png"),
            str(images / "bridge.png"),
            "-s",
            "2",
            "--model",
            "bicubic",
            "--out-dir",
            str(out),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1  # one input failed
    assert "failed" in err and "broken.png" in err and "truncated or corrupt" in err
    assert sorted(p.name for p in out.iterdir()) == ["bird_x2.png", "bridge_x2.png"]
    bird = read_image(out / "bird_x2.png")
    np.testing.assert_array_equal(bird, imresize(read_image(images / "bird.png"), 2))
    assert read_image(out / "bridge_x2.png", mode="keep").shape == (1024, 1024)  # gray stays gray


def test_upscale_never_overwrites_unless_asked(images, tmp_path, tiny_x2, capsys):
    target = images / "bird_x2.png"
    target.write_bytes(b"keep me")
    code = main(["upscale", str(images / "bird.png"), "--model", str(tiny_x2), "-q"])
    assert code == 1
    assert "exists (use --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    assert (
        main(["upscale", str(images / "bird.png"), "--model", str(tiny_x2), "-q", "--overwrite"])
        == 0
    )
    expected = upscale(load_model(tiny_x2), images / "bird.png")
    np.testing.assert_array_equal(read_image(target), expected)
    assert not [p for p in images.iterdir() if p.name.startswith(".")]  # no temp files left


def test_upscale_tiled_and_ensemble_from_the_command_line(images, tmp_path, tiny_x2):
    out = tmp_path / "o.png"
    assert (
        main(
            [
                "upscale",
                str(images / "bird.png"),
                "--model",
                str(tiny_x2),
                "-o",
                str(out),
                "--tile",
                "40",
                "--ensemble",
                "-q",
            ]
        )
        == 0
    )
    model = load_model(tiny_x2)
    np.testing.assert_array_equal(
        read_image(out), upscale(model, images / "bird.png", tile=0, ensemble=True)
    )


def test_wrong_scale_checkpoint_is_refused_without_a_traceback(images, tiny_x2):
    result = subprocess.run(
        [EXE, "upscale", str(images / "bird.png"), "-s", "4", "--model", str(tiny_x2)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "x2 model, not x4" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_default_checkpoint_is_a_clear_message(images, monkeypatch, tmp_path):
    import edsr_lite.weights as weights

    monkeypatch.setattr(weights, "CHECKPOINT_DIR", tmp_path / "none")
    with pytest.raises(weights.CheckpointError, match=r"no shipped checkpoint for x3.*bicubic"):
        weights.default_pretrained(3)


def test_output_flag_takes_one_input(images, capsys):
    code = main(
        [
            "upscale",
            str(images / "bird.png"),
            str(images / "bridge.png"),
            "-o",
            "x.png",
            "--model",
            "bicubic",
            "-s",
            "2",
        ]
    )
    assert code == 2
    assert "single input" in capsys.readouterr().err


def test_info_describes_a_checkpoint(tiny_x2, capsys):
    assert main(["info", str(tiny_x2)]) == 0
    out = capsys.readouterr().out
    assert "edsr_tiny" in out and "x2" in out and "steps:       5\n" in out
    assert f"{sum(p.numel() for p in build('edsr_tiny', 2).parameters()):,}" in out


def test_info_summarizes_the_training_record(tmp_path, capsys):
    """The record's long entries (every skipped image, every copied tensor) are counted, not
    dumped: one readable line each."""
    meta = {
        "train_config": {
            "preset": "edsr_tiny",
            "scale": 2,
            "n_feats": None,
            "lr": 2e-4,
            "max_steps": 6000,
            "out": "runs/x",
        },
        "data": {
            "folders": ["data/T91"],
            "images": 91,
            "skipped": [{"file": f"t{i}.png", "reason": "too small"} for i in range(17)],
        },
        "init_from": {
            "source": "x2.pt",
            "copied": [f"body.{i}" for i in range(74)],
            "shape_mismatch": ["tail.0.0.weight", "tail.0.0.bias"],
            "missing_in_source": [],
            "unused_in_source": [],
        },
    }
    path = save_checkpoint(tmp_path / "run.pt", build("edsr_tiny", 2), meta=meta)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trained on:  T91: 91 images (17 too small), lr 0.0002\n" in out
    assert "steps:       6,000\n" in out and "started:     from the weights of x2.pt\n" in out
    assert "t3.png" not in out and "body.3" not in out


def test_eval_bicubic_on_set5(capsys):
    assert main(["eval", "--set", "Set5", "--scale", "2", "--model", "bicubic"]) == 0
    out = capsys.readouterr().out
    assert "Set5" in out and "33.6" in out  # bicubic x2 on Set5 under the model protocol


def test_eval_prints_the_numbers_of_el_evaluate(capsys):
    """One code path: `edsr-lite eval` and `el.evaluate` score a shipped model identically."""
    import json

    import edsr_lite as el

    argv = ["eval", "--set", "Set5", "--scale", "2", "--model", "edsr_baseline_x2", "--json"]
    assert main(argv) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    model = el.load_pretrained("edsr_baseline_x2")
    (row,) = el.evaluate(model, sets=("Set5",), scales=(2,))
    assert (printed["method"], printed["set"], printed["scale"]) == ("edsr_baseline_x2", "Set5", 2)
    assert (printed["psnr"], printed["ssim"]) == (row["psnr"], row["ssim"])  # to the last bit
    assert printed["psnr"] > 37.0  # the project's quality bar at x2


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["upscale", "--help"],
        ["eval", "--help"],
        ["info", "--help"],
        ["train", "--help"],
    ],
)
def test_help_texts(argv):
    result = subprocess.run([EXE, *argv], capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage: edsr-lite" in result.stdout


def test_python_dash_m_is_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "edsr_lite", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("edsr-lite ")

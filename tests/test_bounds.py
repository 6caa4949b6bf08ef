"""Every resource bounded before it is spent, every destination checked before work (#31, rules 4
and 5): YAML aliases and size, xz checkpoints, the upscale's output against the memory budget,
bicubic's scale, a training step's memory, image pixels, several frames, the output format, the
run folder, the data folder on resume, and eval's set checks. Each refusal is one line that
names the limit and what to do, given before anything is computed or written."""

import importlib
import json
import lzma
import os
import warnings

import numpy as np
import pytest
import yaml
from PIL import Image

import edsr_lite.checkpoints as checkpoints
from edsr_lite.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from edsr_lite.cli import main
from edsr_lite.core.models import build
from edsr_lite.datasets import list_images
from edsr_lite.evaluation import evaluate, format_table, rows_as_json
from edsr_lite.images import (
    ImageReadError,
    MultiFrameWarning,
    read_image,
    write_image,
)
from edsr_lite.infer import MAX_BICUBIC_SCALE, Upscaler, upscale
from edsr_lite.train import TrainConfig, read_yaml
from edsr_lite.train.config import check_same_run, step_memory_bytes

train_config = importlib.import_module("edsr_lite.train.config")  # the package's name is a function
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def _png(path, size=(20, 20), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- YAML


def _billion_laughs(path):
    """A ~400-byte YAML file whose ``data`` nests 9 levels of 9 aliases: 9**9 values."""
    items = ["&x0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    items += [f"&x{i} [{','.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 9)]
    path.write_text("data: [" + ", ".join(items) + "]\n")
    return path


def test_yaml_aliases_are_refused_at_once_with_one_line(tmp_path, capsys):
    path = _billion_laughs(tmp_path / "laughs.yaml")
    assert path.stat().st_size < 600
    with pytest.raises(ValueError, match=r"laughs.yaml: line 1: the alias \*x0"):
        read_yaml(path)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "no anchors or aliases" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_plain_yaml_config_still_reads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: edsr_tiny\nscale: 2\ndata: [T91, BSD200]\n")
    assert read_yaml(path) == {"preset": "edsr_tiny", "scale": 2, "data": ["T91", "BSD200"]}


def test_a_yaml_file_above_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * 200 + "preset: edsr_tiny\n")
    monkeypatch.setattr(train_config, "MAX_YAML_BYTES", 1000)
    with pytest.raises(ValueError, match=r"above the limit of 1,000 .*MAX_YAML_BYTES"):
        read_yaml(path)


def test_a_refused_value_is_shown_short_however_big_it_is(tmp_path):
    path = tmp_path / "c.yaml"
    nested = [[["x"] * 20 for _ in range(20)] for _ in range(20)]  # no shared lists: no aliases
    path.write_text(yaml.safe_dump({"data": nested}))
    with pytest.raises(ValueError, match="data must be") as err:
        TrainConfig.from_dict(read_yaml(path))
    assert len(str(err.value)) < 300


# --------------------------------------------------------------------------- xz checkpoints


def _xz(path, head: bytes, zeros: int):
    compressor = lzma.LZMACompressor()
    with open(path, "wb") as f:
        f.write(compressor.compress(head))
        for _ in range(zeros // 2**22):
            f.write(compressor.compress(bytes(2**22)))
        f.write(compressor.flush())
    return path


def test_an_xz_file_that_is_not_a_pytorch_file_is_refused_from_its_first_bytes(tmp_path):
    path = _xz(tmp_path / "zeros.pt", b"", 2**26)  # 64 MiB of zeros in about 10 kB
    with pytest.raises(CheckpointError, match="zeros.pt is xz-compressed, but what it holds"):
        read_checkpoint(path)


def test_an_xz_checkpoint_above_the_cap_is_refused_naming_the_file(tmp_path, monkeypatch):
    path = _xz(tmp_path / "bomb.pt", b"PK\x03\x04", 2**24)
    monkeypatch.setattr(checkpoints, "MAX_DECOMPRESSED_BYTES", 2**22)
    with pytest.raises(CheckpointError, match=r"bomb.pt decompresses to more than .*GiB"):
        read_checkpoint(path)


def test_an_xz_checkpoint_below_the_cap_loads(tmp_path):
    path = save_checkpoint(tmp_path / "t.pt", build("edsr_tiny", 2), compress=True)
    assert checkpoints.is_compressed(path)
    assert "head.0.weight" in read_checkpoint(path)["state_dict"]


# --------------------------------------------------------------------------- upscale


def test_bicubic_scale_has_a_stated_limit(tmp_path, capsys):
    src = _png(tmp_path / "2x2.png", (2, 2))
    out = tmp_path / "big.png"
    args = ["upscale", str(src), "--model", "bicubic", "-o", str(out), "-q"]
    assert main([*args, "-s", "100000"]) == 2
    assert f"up to x{MAX_BICUBIC_SCALE}" in _one_error_line(capsys)
    assert not out.exists()
    assert main([*args, "-s", str(MAX_BICUBIC_SCALE)]) == 0
    assert read_image(out).shape == (2 * MAX_BICUBIC_SCALE, 2 * MAX_BICUBIC_SCALE, 3)


def test_the_output_is_checked_against_the_memory_budget_before_any_work(tmp_path, capsys):
    src = _png(tmp_path / "in.png", (40, 40))
    out = tmp_path / "out.png"
    argv = ["upscale", str(src), "--model", "bicubic", "-s", "16", "-o", str(out)]
    assert main([*argv, "--max-memory-mb", "1"]) == 2
    line = _one_error_line(capsys)
    assert "in.png: upscaling 40x40 pixels x16 makes a 640x640 image" in line
    assert "--max-memory-mb" in line
    assert not out.exists()


def test_the_library_checks_the_budget_before_allocating():
    lr = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="more than the memory budget of 1 MB"):
        upscale("bicubic", lr, 16, max_memory_mb=1)
    with pytest.raises(ValueError, match="bicubic upscales by up to x16"):
        upscale("bicubic", lr, 17)
    # A network with a fixed tile: the images alone (and the runtime's margin) pass 50 MB.
    upscaler = Upscaler(build("edsr_tiny", 2), tile=8, max_memory_mb=50)
    with pytest.raises(ValueError, match="makes a 80x80 image"):
        upscaler(lr)


# --------------------------------------------------------------------------- images


def test_the_pixel_limit_is_ours_checked_from_the_header(tmp_path, monkeypatch):
    src = _png(tmp_path / "p.png", (20, 20))
    monkeypatch.setenv("EDSR_LITE_MAX_PIXELS", "300")  # between 1x and 2x: Pillow would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning of Pillow's
        with pytest.raises(ImageReadError, match=r"p.png: 20x20 = 400 pixels, above the lim"):
            read_image(src)
    monkeypatch.setenv("EDSR_LITE_MAX_PIXELS", "100")  # above 2x: Pillow's error, our words
    with pytest.raises(ImageReadError, match="EDSR_LITE_MAX_PIXELS=400"):
        read_image(src)
    monkeypatch.setenv("EDSR_LITE_MAX_PIXELS", "400")
    assert read_image(src).shape == (20, 20, 3)
    monkeypatch.setenv("EDSR_LITE_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="EDSR_LITE_MAX_PIXELS='lots'"):
        read_image(src)


@pytest.mark.parametrize("name", ["anim.gif", "anim.png", "pages.tif"])
def test_a_file_of_several_frames_says_only_the_first_is_used(tmp_path, name):
    frames = [Image.fromarray(np.full((16, 16, 3), 60 * i, np.uint8)) for i in range(3)]
    path = tmp_path / name
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(MultiFrameWarning, match=f"{name}: 3 frames .*only frame 1 is used"):
        image = read_image(path)
    assert image.shape == (16, 16, 3) and int(image.max()) == 0  # frame 1: black
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(_png(tmp_path / "one.png"))  # one frame: no warning


def test_gif_files_are_listed_in_folders(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.gif")
    assert [p.name for p in list_images(tmp_path)] == ["a.gif"]


def test_write_image_writes_the_format_the_name_says(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for name, fmt in (("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.png", "PNG")):
        with Image.open(write_image(tmp_path / name, image)) as saved:
            assert saved.format == fmt
    with pytest.raises(ValueError, match=r"not \.webp"):
        write_image(tmp_path / "d.webp", image)
    with pytest.raises(ValueError, match="transparency, which JPEG cannot store"):
        write_image(tmp_path / "e.jpg", image, alpha=np.zeros((8, 8), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "b.JPEG", "c.png"]


def test_upscale_o_jpg_writes_a_jpeg_and_other_endings_are_refused_first(tmp_path, capsys):
    src = _png(tmp_path / "in.png")
    base = ["upscale", str(src), "--model", "bicubic", "-s", "2", "-q", "-o"]
    assert main([*base, str(tmp_path / "out.jpg")]) == 0
    with Image.open(tmp_path / "out.jpg") as saved:
        assert saved.format == "JPEG" and saved.size == (40, 40)
    capsys.readouterr()
    assert main([*base, str(tmp_path / "out.webp")]) == 2
    assert "writes PNG (.png) or JPEG" in _one_error_line(capsys)
    assert not (tmp_path / "out.webp").exists()


def test_upscale_destinations_are_checked_before_work(tmp_path, capsys):
    src = _png(tmp_path / "in.png")
    base = ["upscale", str(src), "--model", "bicubic", "-s", "2", "-q", "-o"]
    assert main([*base, str(tmp_path / "new" / "deeper" / "out.png")]) == 0  # created
    (tmp_path / "dir.png").mkdir()
    assert main([*base, str(tmp_path / "dir.png")]) == 2
    assert "is a folder" in _one_error_line(capsys)


@pytest.mark.skipif(ROOT_USER, reason="root writes into a read-only folder")
def test_upscale_into_a_read_only_folder_is_refused_before_work(tmp_path, capsys):
    src = _png(tmp_path / "in.png")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    argv = ["upscale", str(src), "--model", "bicubic", "-s", "2", "-o", str(locked / "o.png")]
    assert main(argv) == 2
    assert "permission denied" in _one_error_line(capsys)


# --------------------------------------------------------------------------- train


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--preset", "edsr_tiny", "--batch-size", "200000", "--out", str(out)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "batch_size 200000" in line and "GB of memory" in line and "--batch-size" in line
    assert not out.exists()


def test_the_step_memory_estimate_grows_with_the_batch_and_passes_the_shipped_configs():
    small = TrainConfig(preset="edsr_tiny", batch_size=16)
    big = TrainConfig(preset="edsr_tiny", batch_size=32)
    assert 1.9 < step_memory_bytes(big) / step_memory_bytes(small) < 2.1
    assert step_memory_bytes(TrainConfig(preset="edsr_baseline", batch_size=16)) < 2e9


def test_train_out_that_is_a_file_is_refused_before_loading_data(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert main(["train", "--preset", "edsr_tiny", "--out", str(notes)]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)
    assert notes.read_text() == "mine"


@pytest.mark.skipif(ROOT_USER, reason="root writes into a read-only folder")
def test_train_out_in_a_read_only_folder_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["train", "--preset", "edsr_tiny", "--out", str(locked / "run")]) == 2
    assert "permission denied" in _one_error_line(capsys)


def test_resume_compares_data_folders_by_where_they_are(tmp_path, monkeypatch):
    data = tmp_path / "data3"
    data.mkdir()
    (tmp_path / "link").symlink_to(data)
    monkeypatch.chdir(tmp_path)
    stored = TrainConfig(preset="edsr_tiny", data=str(data)).to_dict()
    for spelling in ("data3/", "./data3", "link", str(data) + "/"):
        check_same_run(stored, TrainConfig(preset="edsr_tiny", data=spelling))
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="cannot resume: .*data"):
        check_same_run(stored, TrainConfig(preset="edsr_tiny", data="other"))


# --------------------------------------------------------------------------- eval


def test_eval_checks_every_image_before_scoring_any(tmp_path):
    for i in range(3):
        _png(tmp_path / f"a{i}.png", (60, 60), seed=i)
    _png(tmp_path / "z.png", (12, 12))  # last in name order
    calls = []

    def method(lr, scale):
        calls.append(lr.shape)
        return np.repeat(np.repeat(lr, scale, 0), scale, 1)

    with pytest.raises(ValueError, match=r"z.png: 12x12 pixels is too small .*nothing was scored"):
        evaluate(method, [str(tmp_path)], [2])
    assert calls == []


def test_eval_of_a_perfect_score_prints_valid_json_and_inf_in_the_table(tmp_path, capsys):
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(tmp_path / "flat.png")
    rows = evaluate("bicubic", [str(tmp_path)], [2])
    assert rows[0]["psnr"] == float("inf")
    assert json.loads(rows_as_json(rows))[0]["psnr"] is None
    assert "inf / 1.0000" in format_table(rows)


def test_eval_refuses_scale_1_as_upscale_does(tmp_path, capsys):
    _png(tmp_path / "a.png", (40, 40))
    with pytest.raises(ValueError, match="scale 1: .*2 or more"):
        evaluate("bicubic", [str(tmp_path)], [1])
    assert main(["eval", "--set", str(tmp_path), "--scale", "1"]) == 2
    assert "x1 is no upscaling" in _one_error_line(capsys)


def test_a_read_only_run_folder_is_named_even_where_root_could_write(tmp_path, monkeypatch):
    monkeypatch.setattr(train_config.os, "access", lambda *args, **kwargs: False)
    with pytest.raises(ValueError, match=r"out: cannot write into the folder .*permission denied"):
        train_config.check_out_writable(tmp_path / "run")

"""``edsr-lite upscale`` given bad input: every wrong path gets a clear answer and loses nothing.

One test (or a few) per item of the "bad input and faults" issue that concerns the upscale
path: each checks the user-facing message, the exit status, that no traceback is printed, and,
where files are written, that nothing else in the folder was replaced or left behind.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import edsr_lite as el
from edsr_lite.checkpoints import save_checkpoint
from edsr_lite.cli import main
from edsr_lite.core.degradation import imresize
from edsr_lite.core.models import build
from edsr_lite.files import atomic_write
from edsr_lite.images import read_image, read_image_with_alpha, write_png
from edsr_lite.infer import Upscaler, resolve_scale, upscale
from edsr_lite.locations import DATA_DIR

EXE = Path(sys.executable).parent / "edsr-lite"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (hidden ones too): its bytes and permission bits."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """A working folder (the current directory) with ``in/img.png`` (Set5 bird, 288 x 288)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    shutil.copy(DATA_DIR / "Set5" / "bird.png", tmp_path / "in" / "img.png")
    return tmp_path


@pytest.fixture
def tiny_x2(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "tiny_x2.pt", build("edsr_tiny", 2), meta={"step": 5})


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *argv], capture_output=True, text=True)


def parse_error(capsys, *argv: str) -> str:
    """Run ``edsr-lite`` in this process, expecting argparse to refuse; return stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 1. tile and memory budget checked at the argument level
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--tile", "-3", "1 or more (or 0: the whole image at once)"),
        ("--tile", "ten", "1 or more"),
        ("--max-memory-mb", "inf", "a number of megabytes above 0"),
        ("--max-memory-mb", "nan", "a number of megabytes above 0"),
        ("--max-memory-mb", "-5", "a number of megabytes above 0"),
        ("--max-memory-mb", "0", "a number of megabytes above 0"),
        ("-s", "0", "a whole number, 2 or more"),
        ("-s", "-2", "a whole number, 2 or more"),
        ("-s", "2.5", "a whole number, 2 or more"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(work, capsys, flag, value, allowed):
    before = snapshot(work)
    err = parse_error(capsys, "upscale", "in/img.png", "-s", "2", flag, value, "-o", "out.png")
    shown = "-s/--scale" if flag == "-s" else flag
    assert f"argument {shown}: expected" in err
    assert allowed in err and f"got '{value}'" in err
    assert snapshot(work) == before  # nothing written


def test_negative_tile_exits_2_without_a_traceback_or_a_black_image(work):
    before = snapshot(work)
    result = run_cli("upscale", "in/img.png", "-s", "2", "--tile", "-3", "-o", "out.png")
    assert result.returncode == 2
    assert "argument --tile" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(work) == before


def test_the_library_refuses_bad_tiles_and_budgets():
    model = build("edsr_tiny", 2).eval()
    lr = np.zeros((20, 20, 3), np.uint8)
    for bad in (-3, 2.5, True):
        with pytest.raises(ValueError, match=r"tile must be a whole number of LR pixels, 1 or"):
            upscale(model, lr, tile=bad)
    with pytest.raises(ValueError, match="tile must be"):
        upscale("bicubic", lr, scale=2, tile=-1)
    with pytest.raises(ValueError, match="overlap must be a whole number"):
        Upscaler(model, overlap=-1)
    for bad in (float("inf"), float("nan"), 0, -5):
        with pytest.raises(ValueError, match="max_memory_mb must be a number of megabytes above"):
            Upscaler(model, max_memory_mb=bad)
    assert upscale(model, lr, tile=0).shape == (40, 40, 3)  # 0: the whole image, documented


# --------------------------------------------------------------------------------------------
# 2. distinct inputs never share an output
# --------------------------------------------------------------------------------------------


@pytest.fixture
def same_stem(work) -> Path:
    """in/img.jpg, in/img.bmp, in/img.webp: one picture, three formats, one stem."""
    picture = Image.open(work / "in" / "img.png")
    for ext in ("jpg", "bmp", "webp"):
        picture.save(work / "in" / f"img.{ext}")
    (work / "in" / "img.png").unlink()
    return work


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_inputs_sharing_an_output_name_are_refused_before_computing(same_stem, capsys, overwrite):
    (same_stem / "out").mkdir()
    (same_stem / "out" / "img_x2.png").write_bytes(b"an earlier result")
    before = snapshot(same_stem)
    argv = ["upscale", "in/img.jpg", "in/img.bmp", "in/img.webp", "-s", "2", "--model"]
    code = main([*argv, "bicubic", "--out-dir", "out", "-q", *overwrite])
    err = capsys.readouterr().err
    assert code == 2
    assert "in/img.jpg, in/img.bmp, in/img.webp would all be written to out/img_x2.png" in err
    assert "nothing was upscaled" in err
    assert "add --keep-ext to name them img_bmp_x2.png, img_jpg_x2.png, img_webp_x2.png" in err
    assert "use --overwrite" not in err
    assert snapshot(same_stem) == before  # the earlier result kept, nothing else written


def test_keep_ext_gives_each_input_its_own_output(same_stem, capsys):
    argv = ["upscale", "in/img.jpg", "in/img.bmp", "in/img.webp", "-s", "2"]
    assert main([*argv, "--model", "bicubic", "--out-dir", "out", "-q", "--keep-ext"]) == 0
    written = sorted(p.name for p in (same_stem / "out").iterdir())
    assert written == ["img_bmp_x2.png", "img_jpg_x2.png", "img_webp_x2.png"]
    for ext in ("jpg", "bmp", "webp"):
        expected = imresize(read_image(same_stem / "in" / f"img.{ext}"), 2)
        np.testing.assert_array_equal(read_image(same_stem / "out" / f"img_{ext}_x2.png"), expected)


def test_same_names_from_two_folders_are_refused_with_a_fix_that_works(work, capsys):
    (work / "in2").mkdir()
    shutil.copy(work / "in" / "img.png", work / "in2" / "img.png")
    before = snapshot(work)
    code = main(["upscale", "in", "in2", "-s", "2", "--model", "bicubic", "--out-dir", "out"])
    err = capsys.readouterr().err
    assert code == 2 and "would all be written to out/img_x2.png" in err
    assert "--keep-ext" not in err  # it would not help: both are .png
    assert "give them different --out-dir folders" in err
    assert snapshot(work) == before


def test_an_output_never_replaces_an_input(work, capsys):
    shutil.copy(work / "in" / "img.png", work / "in" / "img_x2.png")
    before = snapshot(work)
    argv = ["upscale", "in/img.png", "in/img_x2.png", "-s", "2", "--model", "bicubic"]
    assert main([*argv, "--overwrite"]) == 2
    assert "would be in/img_x2.png, which is an input" in capsys.readouterr().err
    assert main(["upscale", "in/img.png", "-o", "in/img.png", "-s", "2", "--overwrite"]) == 2
    assert "which is an input" in capsys.readouterr().err
    assert snapshot(work) == before


# --------------------------------------------------------------------------------------------
# 4. an output is created without replacing what another process wrote
# --------------------------------------------------------------------------------------------


def test_atomic_write_without_replace_never_replaces(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, lambda f: f.write(b"first"), replace=False)
    assert target.read_bytes() == b"first"
    with pytest.raises(FileExistsError, match="out.bin"):
        atomic_write(target, lambda f: f.write(b"second"), replace=False)

    def another_process_wins(f):  # the name is taken while this write is under way
        (tmp_path / "late.bin").write_bytes(b"theirs")
        f.write(b"mine")

    with pytest.raises(FileExistsError, match="exists already, not replaced"):
        atomic_write(tmp_path / "late.bin", another_process_wins, replace=False)
    assert (tmp_path / "late.bin").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.bin", "out.bin"]  # no temp


def test_an_output_that_appears_during_the_upscale_is_kept(work, capsys, monkeypatch):
    import edsr_lite.cli.upscale as command

    real = command.upscale_channels

    def upscale_while_another_process_writes(*args, **kwargs):
        (work / "out.png").write_bytes(b"written by another process")
        return real(*args, **kwargs)

    monkeypatch.setattr(command, "upscale_channels", upscale_while_another_process_writes)
    code = main(["upscale", "in/img.png", "-s", "2", "--model", "bicubic", "-o", "out.png"])
    err = capsys.readouterr().err
    assert code == 1
    assert "not written in/img.png: out.png appeared while it was being upscaled" in err
    assert (work / "out.png").read_bytes() == b"written by another process"
    assert sorted(p.name for p in work.iterdir()) == ["in", "out.png"]  # no temp file


def test_two_processes_writing_one_output_one_reports_the_clash(work):
    argv = [EXE, "upscale", "in/img.png", "-s", "3", "--model", "bicubic", "-o", "out.png"]
    runs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(), run.stderr.read()) for run in runs]
    assert sorted(code for code, _ in results) == [0, 1]
    (err,) = [err for code, err in results if code == 1]
    assert "out.png exists" in err or "out.png appeared" in err
    assert "Traceback" not in err
    expected = imresize(read_image(work / "in" / "img.png"), 3)
    np.testing.assert_array_equal(read_image(work / "out.png"), expected)
    assert sorted(p.name for p in work.iterdir()) == ["in", "out.png"]


# --------------------------------------------------------------------------------------------
# 5. the destination is checked before computing
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_compute(monkeypatch):
    """Make reading an input fail the test: what is checked must be checked before."""
    import edsr_lite.cli.upscale as command

    def forbidden(*args, **kwargs):
        raise AssertionError("an input was read before the destination was checked")

    monkeypatch.setattr(command, "read_image_with_alpha", forbidden)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_output_naming_a_folder_is_one_clear_message(work, capsys, no_compute, overwrite):
    (work / "outdir").mkdir()
    before = snapshot(work)
    argv = ["upscale", "in/img.png", "-s", "2", "--model", "bicubic", "-o", "outdir"]
    assert main([*argv, *overwrite]) == 2
    err = capsys.readouterr().err
    assert "-o outdir is a folder; give the output file's name (e.g. outdir/img_x2.png)" in err
    assert "or use --out-dir outdir" in err
    assert "--overwrite" not in err and "Is a directory" not in err
    assert snapshot(work) == before


def test_read_only_folder_fails_before_the_upscale(work, capsys, no_compute, monkeypatch):
    # Simulated: the tests may run as root, who may write anywhere.
    readonly = work / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode: Path(path).resolve() != readonly and real_access(path, mode),
    )
    before = snapshot(work)
    for where in (
        ["--out-dir", "readonly"],
        ["--out-dir", "readonly/new"],
        ["-o", "readonly/x.png"],
    ):
        assert main(["upscale", "in/img.png", "-s", "2", "--model", "bicubic", *where]) == 2
        err = capsys.readouterr().err
        assert "cannot write into the folder readonly" in err and "permission denied" in err
        assert "nothing was upscaled" in err and ".tmp" not in err
    assert snapshot(work) == before and not (work / "readonly" / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_really_read_only_folder_fails_before_the_upscale(work):
    (work / "readonly").mkdir(mode=0o555)
    result = run_cli(
        "upscale", "in/img.png", "-s", "2", "--model", "bicubic", "--out-dir", "readonly"
    )
    assert result.returncode == 2
    assert "cannot write into the folder readonly: permission denied" in result.stderr
    assert "Traceback" not in result.stderr and not list((work / "readonly").iterdir())


def test_out_dir_under_a_file_and_missing_out_dir(work, capsys):
    (work / "afile").write_bytes(b"x")
    assert (
        main(["upscale", "in/img.png", "-s", "2", "--model", "bicubic", "--out-dir", "afile/sub"])
        == 2
    )
    assert "cannot write into afile/sub: afile is a file, not a folder" in capsys.readouterr().err
    # A missing --out-dir is created (documented in --help).
    assert (
        main(
            ["upscale", "in/img.png", "-s", "2", "--model", "bicubic", "--out-dir", "new/dir", "-q"]
        )
        == 0
    )
    assert [p.name for p in (work / "new" / "dir").iterdir()] == ["img_x2.png"]


# --------------------------------------------------------------------------------------------
# 6. written files get the usual permissions
# --------------------------------------------------------------------------------------------


def test_written_pngs_follow_the_umask_and_overwrite_keeps_the_mode(work, capsys):
    rgb = read_image(work / "in" / "img.png")
    old = os.umask(0o027)
    try:
        assert stat.S_IMODE(write_png(work / "a.png", rgb).stat().st_mode) == 0o640
        os.umask(0o022)
        assert stat.S_IMODE(write_png(work / "b.png", rgb).stat().st_mode) == 0o644
        argv = ["upscale", "in/img.png", "-s", "2", "--model", "bicubic", "-o", "c.png", "-q"]
        assert main(argv) == 0
        assert stat.S_IMODE((work / "c.png").stat().st_mode) == 0o644
        os.umask(0o077)  # a replaced file keeps its own mode, whatever the umask now
        assert main([*argv, "--overwrite"]) == 0
        assert stat.S_IMODE((work / "c.png").stat().st_mode) == 0o644
        (work / "c.png").chmod(0o600)
        assert main([*argv, "--overwrite"]) == 0
        assert stat.S_IMODE((work / "c.png").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in work.iterdir()) == ["a.png", "b.png", "c.png", "in"]


# --------------------------------------------------------------------------------------------
# 12. messages that send the user to a place that works
# --------------------------------------------------------------------------------------------


def test_a_folder_input_upscales_its_images(work, capsys):
    picture = Image.open(work / "in" / "img.png").crop((0, 0, 40, 30))
    picture.save(work / "in" / "small.jpg")
    (work / "in" / "notes.txt").write_text("not an image")
    before = snapshot(work)
    assert main(["upscale", "in", "-s", "2", "--model", "bicubic"]) == 0
    out = capsys.readouterr().out
    assert "in: 2 images, upscaled into in_x2" in out
    assert "list_images" not in out
    assert sorted(p.name for p in (work / "in_x2").iterdir()) == ["img_x2.png", "small_x2.png"]
    assert read_image(work / "in_x2" / "small_x2.png").shape == (60, 80, 3)
    after = snapshot(work)
    assert {k: v for k, v in after.items() if not k.startswith("in_x2")} == before


def test_an_empty_folder_is_reported(work, capsys):
    (work / "empty").mkdir()
    assert main(["upscale", "empty", "-s", "2", "--model", "bicubic"]) == 1
    err = capsys.readouterr().err
    assert "skipped empty: no image files in this folder (.png, .jpg" in err
    assert "1 of 1 inputs not written" in err


def test_scale_advice_that_works(work, capsys):
    # No shipped x7 model: the advice is bicubic, and following it works.
    assert main(["upscale", "in/img.png", "-s", "7"]) == 2
    assert "pass --model bicubic" in capsys.readouterr().err
    assert main(["upscale", "in/img.png", "-s", "7", "--model", "bicubic", "-q"]) == 0
    assert read_image(work / "in" / "img_x7.png").shape == (7 * 288, 7 * 288, 3)
    # bicubic needs a scale: said in the command's words.
    assert main(["upscale", "in/img.png", "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert "--model bicubic needs a scale: add -s/--scale, e.g. -s 2" in err and "scale=" not in err


def test_a_multi_scale_model_without_a_scale_is_asked_for_one_in_cli_words(work, capsys):
    torch.manual_seed(0)
    mdsr = save_checkpoint(work / "mdsr.pt", build("mdsr_tiny"), meta={"step": 1})
    assert main(["upscale", "in/img.png", "--model", str(mdsr)]) == 2
    err = capsys.readouterr().err
    assert "upscales x2, x3, x4: choose one with -s/--scale, e.g. -s 2" in err
    assert "scale=" not in err
    assert not (work / "in" / "img_x2.png").exists()


def test_scales_are_positive_integers_everywhere():
    lr = np.zeros((6, 6, 3), np.uint8)
    for bad in (2.5, 0, -2, True, "2"):
        with pytest.raises(ValueError, match="scale must be a positive integer"):
            el.upscale("bicubic", lr, scale=bad)
        with pytest.raises(ValueError, match="scale must be a positive integer"):
            resolve_scale(build("edsr_tiny", 2), bad)
    assert resolve_scale("bicubic", np.int64(3)) == 3


# --------------------------------------------------------------------------------------------
# 13. gray stays gray, alpha is kept
# --------------------------------------------------------------------------------------------


@pytest.fixture
def small(work) -> np.ndarray:
    """A 40 x 48 RGB crop of the bird (the tiny model is quick on it)."""
    return read_image(work / "in" / "img.png")[100:140, 100:148]


def test_gray_in_gray_out_the_mean_of_the_three_channel_run(work, tiny_x2, small, capsys):
    gray = np.asarray(Image.fromarray(small).convert("L"))
    Image.fromarray(gray).save(work / "gray.png")
    assert main(["upscale", "gray.png", "--model", str(tiny_x2), "-q"]) == 0
    with Image.open(work / "gray_x2.png") as written:
        assert written.mode == "L" and written.size == (96, 80)
    rgb_run = Upscaler(el.load_model(tiny_x2))(np.repeat(gray[:, :, None], 3, axis=2))
    assert (rgb_run[:, :, 0] != rgb_run[:, :, 1]).any()  # the tint a gray image must not get
    mean = np.round(rgb_run.astype(np.float64).mean(axis=2)).astype(np.uint8)
    np.testing.assert_array_equal(read_image(work / "gray_x2.png", mode="keep"), mean)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_upscaled_with_bicubic_and_kept(work, tiny_x2, small, mode, capsys):
    alpha = np.linspace(0, 255, small.shape[0] * small.shape[1]).reshape(small.shape[:2])
    picture = Image.fromarray(small).convert(mode[0] if mode == "LA" else "RGB")
    picture.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    picture.save(work / "t.png")
    assert main(["upscale", "t.png", "--model", str(tiny_x2)]) == 0
    assert "(96x80 " in capsys.readouterr().out
    with Image.open(work / "t_x2.png") as written:
        assert written.mode == mode and written.size == (96, 80)
    sr, sr_alpha = read_image_with_alpha(work / "t_x2.png")
    lr, lr_alpha = read_image_with_alpha(work / "t.png")
    np.testing.assert_array_equal(sr_alpha, imresize(lr_alpha, 2))
    if mode == "RGBA":
        np.testing.assert_array_equal(sr, Upscaler(el.load_model(tiny_x2))(lr))


def test_help_says_what_happens_to_gray_alpha_and_memory():
    result = run_cli("upscale", "--help")
    text = " ".join(result.stdout.split())
    assert "Gray images stay gray" in text
    assert "the alpha channel is upscaled with bicubic" in text
    assert "what upscaling one image adds to the process at its peak" in text


# --------------------------------------------------------------------------------------------
# 14. the memory budget bounds what the upscale adds to the process
# --------------------------------------------------------------------------------------------

MEASURE = textwrap.dedent(
    """
    import json, sys
    from edsr_lite.cli import main
    from edsr_lite.course.memory import peak_rss_mb, reset_peak_rss
    from edsr_lite.infer import Upscaler  # imported, as by the command, before measuring

    if not reset_peak_rss():
        print(json.dumps(None))
        sys.exit(0)
    before = peak_rss_mb()
    code = main(sys.argv[1:])
    print(json.dumps({"code": code, "growth_mb": peak_rss_mb() - before}))
    """
)


@pytest.mark.slow
def test_max_memory_mb_bounds_the_peak_of_a_fresh_process(work):
    torch.manual_seed(0)
    model = save_checkpoint(work / "baseline.pt", build("edsr_baseline", 2))
    bird = read_image(work / "in" / "img.png")
    write_png(work / "big.png", np.tile(bird, (2, 3, 1))[:400, :600])  # 600 x 400
    budget = 300  # MB: the whole image would need ~900 MB, so it is tiled
    argv = ["upscale", "big.png", "--model", str(model), "--max-memory-mb", str(budget), "-q"]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report is None:
        pytest.skip("the peak memory cannot be reset on this system")
    assert report["code"] == 0
    assert read_image(work / "big_x2.png").shape == (800, 1200, 3)
    assert report["growth_mb"] <= budget, report

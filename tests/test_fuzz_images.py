"""Property-based fuzz of image reading and writing (hypothesis).

Whatever bytes a file holds, reading it gives an image or an :class:`ImageReadError` (a
ValueError with a message naming the file), never another exception; writing never leaves a
partial file; and ``edsr-lite upscale`` on a bad file reports it and writes nothing.
"""

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edsr_lite.cli import main
from edsr_lite.images import ImageReadError, read_image, read_image_with_alpha, write_png
from edsr_lite.locations import DATA_DIR

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SUFFIXES = st.sampled_from([".png", ".jpg", ".bmp", ".webp", ".tif", ".gif", ".img"])


def _real_files() -> dict[str, bytes]:
    """A real PNG (Set5 bird, 288 x 288); JPEG, BMP, TIFF, GIF, WebP, RGBA and 16-bit PNG
    files made from a crop of it."""
    bird = Image.open(DATA_DIR / "Set5" / "bird.png").convert("RGB").crop((0, 0, 96, 64))
    files = {".png": (DATA_DIR / "Set5" / "bird.png").read_bytes()}
    formats = [
        (".jpg", "RGB", "JPEG"),
        (".rgba.png", "RGBA", "PNG"),
        (".bmp", "RGB", "BMP"),
        (".tif", "RGB", "TIFF"),
        (".gif", "P", "GIF"),
        (".webp", "RGBA", "WEBP"),
    ]
    for suffix, mode, fmt in formats:
        buffer = io.BytesIO()
        bird.convert(mode).save(buffer, format=fmt)
        files[suffix] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(bird.convert("L")).astype(np.uint16) * 257).save(buffer, "PNG")
    files[".16.png"] = buffer.getvalue()
    return files


REAL = _real_files()


def _read_or_refuse(path: Path) -> None:
    """Read ``path`` in every way; anything but an image or ImageReadError fails the test."""
    for read in (
        lambda: read_image(path),
        lambda: read_image(path, mode="keep"),
        lambda: read_image_with_alpha(path),
    ):
        try:
            result = read()
        except ImageReadError as err:
            assert str(path) in str(err)
            continue
        image, alpha = result if isinstance(result, tuple) else (result, None)
        assert image.dtype == np.uint8 and image.ndim in (2, 3) and image.size > 0
        assert alpha is None or (alpha.dtype == np.uint8 and alpha.shape == image.shape[:2])


@FUZZ
@given(data=st.binary(max_size=2000), suffix=SUFFIXES)
def test_random_bytes_read_as_an_image_or_a_clear_error(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(data)
        _read_or_refuse(path)


@FUZZ
@given(
    kind=st.sampled_from(sorted(REAL)),
    cut=st.floats(0, 1, exclude_max=True),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=3),
)
def test_truncated_or_damaged_real_files(kind, cut, flips):
    data = bytearray(REAL[kind][: int(len(REAL[kind]) * cut)])
    for where, xor in flips:  # a few damaged bytes as well
        if data:
            data[int(where * len(data))] ^= xor
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{kind}"
        path.write_bytes(bytes(data))
        _read_or_refuse(path)


@st.composite
def images(draw):
    """A small uint8 image: H x W gray or H x W x 3, with or without an alpha plane."""
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    shape = draw(st.sampled_from([(h, w), (h, w, 3)]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8) if draw(st.booleans()) else None
    return image, alpha


@FUZZ
@given(picture=images())
def test_write_png_then_read_gives_back_the_pixels(picture):
    image, alpha = picture
    with tempfile.TemporaryDirectory() as folder:
        path = write_png(Path(folder) / "x.png", image, alpha, replace=False)
        back, back_alpha = read_image_with_alpha(path)
        np.testing.assert_array_equal(back, image)
        if alpha is None:
            assert back_alpha is None
        else:
            np.testing.assert_array_equal(back_alpha, alpha)
        assert [p.name for p in Path(folder).iterdir()] == ["x.png"]  # no temp file


@FUZZ
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int64, bool]),
)
def test_write_png_refuses_what_is_not_an_image_and_writes_nothing(shape, dtype):
    array = np.zeros(shape, dtype)
    valid = dtype is np.uint8 and array.size > 0 and (len(shape) == 2 or shape[2:] == (3,))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "x.png"
        if valid:
            write_png(target, array)
        else:
            with pytest.raises(ValueError, match="write_png needs"):
                write_png(target, array)
        assert [p.name for p in Path(folder).iterdir()] == (["x.png"] if valid else [])


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(sorted(REAL)), cut=st.floats(0.05, 0.9))
def test_the_command_reports_a_damaged_file_and_writes_nothing(kind, cut):
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"x{kind}"
        source.write_bytes(REAL[kind][: int(len(REAL[kind]) * cut)])
        shutil.copy(DATA_DIR / "Set5" / "bird.png", Path(folder) / "good.png")
        out = Path(folder) / "out"
        argv = ["upscale", str(source), str(Path(folder) / "good.png"), "-s", "2"]
        code = main([*argv, "--model", "bicubic", "--out-dir", str(out), "-q"])
        written = sorted(p.name for p in out.iterdir())
        if code == 0:  # the cut left a readable image (a PNG's trailing chunks, say)
            assert len(written) == 2
        else:
            assert code == 1 and written == ["good_x2.png"]

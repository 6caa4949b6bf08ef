"""edsr_lite.images and edsr_lite.datasets: reading and writing images, benchmark sets, DIV2K.

Real images from the repository's data/ folder are the inputs; derived files (other formats,
bit depths, corrupt files) are written into tmp_path. The DIV2K download is tested against a
local HTTP server on 127.0.0.1 only; no test touches the network.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import shutil
import struct
import subprocess
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edsr_lite import datasets
from edsr_lite.core.degradation import modcrop
from edsr_lite.datasets import benchmark, div2k_paths, download_div2k, find_dataset, list_images
from edsr_lite.images import ImageReadError, as_rgb_array, read_image, write_png

REPO = Path(__file__).resolve().parents[1]
SET5 = REPO / "data" / "Set5"
BABY = SET5 / "baby.png"  # 512 x 512 RGB
WOMAN = SET5 / "woman.png"  # 228 wide x 344 high RGB
BRIDGE = REPO / "data" / "Set14" / "bridge.png"  # 512 x 512, PNG mode L


def _lr_fixture_dir() -> Path | None:
    for folder in (
        REPO / "tests" / "fixtures" / "Set5_LR_bicubic",
        REPO.parent / "shared" / "data" / "Set5_LR_bicubic",
    ):
        if folder.is_dir():
            return folder
    return None


def _rgb(path: Path = BABY) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _write_png_16bit(path: Path, samples: np.ndarray) -> None:
    """Write a 16-bit PNG (gray H x W or RGB H x W x 3) by hand: Pillow cannot write 16-bit RGB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    height, width = samples.shape[:2]
    color_type = 2 if samples.ndim == 3 else 0
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in samples)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------------------------
# read_image: formats and modes
# --------------------------------------------------------------------------------------------


def test_read_rgb_png():
    img = read_image(BABY)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, _rgb())


def test_grayscale_png_becomes_rgb_or_stays_2d():
    gray = np.asarray(Image.open(BRIDGE))
    assert gray.ndim == 2  # bridge really is a single-channel PNG
    rgb = read_image(BRIDGE)
    assert rgb.shape == (512, 512, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], gray)
    kept = read_image(BRIDGE, mode="keep")
    assert kept.shape == (512, 512) and kept.dtype == np.uint8
    np.testing.assert_array_equal(kept, gray)
    assert read_image(BABY, mode="keep").shape == (512, 512, 3)  # colour stays colour


def test_palette_png(tmp_path):
    palette = Image.open(BABY).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(
        read_image(tmp_path / "p.png"), np.asarray(palette.convert("RGB"))
    )
    palette.save(tmp_path / "p_transparent.png", transparency=0)
    np.testing.assert_array_equal(
        read_image(tmp_path / "p_transparent.png"), np.asarray(palette.convert("RGB"))
    )


def test_alpha_is_dropped_colour_unchanged(tmp_path):
    rgb = _rgb()
    alpha = np.tile(np.arange(512, dtype=np.uint16) // 2, (512, 1)).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "rgba.png")
    assert Image.open(tmp_path / "rgba.png").mode == "RGBA"
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)

    gray = np.asarray(Image.open(BRIDGE))
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png", mode="keep"), gray)


def test_16bit_grayscale_png(tmp_path):
    gray = np.asarray(Image.open(BRIDGE))
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png", mode="keep"), gray)

    values = np.array([[0, 128, 129, 385, 32767, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "values.png")
    expected = np.array([[0, 0, 1, 1, 127, 128, 255]], dtype=np.uint8)  # round(v * 255 / 65535)
    np.testing.assert_array_equal(read_image(tmp_path / "values.png", mode="keep"), expected)


def test_16bit_rgb_png_is_scaled_with_rounding(tmp_path):
    rgb = _rgb()
    _write_png_16bit(tmp_path / "rgb16.png", rgb.astype(np.uint16) * 257)
    assert Image.open(tmp_path / "rgb16.png").mode == "RGB"
    np.testing.assert_array_equal(read_image(tmp_path / "rgb16.png"), rgb)

    # Pillow alone keeps the high byte (511 -> 1); correct rounding gives round(1.99) = 2.
    values = np.array([[[65535, 511, 300], [128, 129, 32768]]], dtype=np.uint16)
    _write_png_16bit(tmp_path / "values.png", values)
    expected = np.array([[[255, 2, 1], [0, 1, 128]]], dtype=np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / "values.png"), expected)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    woman = Image.open(WOMAN)  # 228 wide, 344 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    woman.save(tmp_path / "rotated.jpg", quality=95, exif=exif)
    stored = np.asarray(Image.open(tmp_path / "rotated.jpg"))  # pixels as stored
    assert stored.shape == (344, 228, 3)
    img = read_image(tmp_path / "rotated.jpg")
    assert img.shape == (228, 344, 3)
    np.testing.assert_array_equal(img, np.rot90(stored, k=-1))  # k=-1: clockwise


@pytest.mark.parametrize("suffix", [".bmp", ".tif", ".webp"])
def test_lossless_formats_round_trip(tmp_path, suffix):
    path = tmp_path / f"woman{suffix}"
    Image.open(WOMAN).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    np.testing.assert_array_equal(read_image(path), _rgb(WOMAN))


def test_cmyk_tiff(tmp_path):
    cmyk = Image.open(WOMAN).convert("CMYK")
    cmyk.save(tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(
        read_image(tmp_path / "cmyk.tif"), np.asarray(cmyk.convert("RGB"))
    )


# --------------------------------------------------------------------------------------------
# read_image: bad files
# --------------------------------------------------------------------------------------------


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.png"
    raw = BABY.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty.png").write_bytes(b"")
    return tmp_path / "empty.png"


def _text(tmp_path: Path) -> Path:
    (tmp_path / "notes.png").write_text("this is not an image\n")
    return tmp_path / "notes.png"


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "does_not_exist.png"


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "folder.png").mkdir()
    return tmp_path / "folder.png"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_truncated, "truncated or corrupt"),
        (_empty, "empty"),
        (_text, "not an image"),
        (_missing, "no such file"),
        (_directory, "folder"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert path.name in str(info.value)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unreadable_file(monkeypatch):
    def open_denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", open_denied)  # as root, chmod 0 would not stop reading
    with pytest.raises(ImageReadError, match="baby.png: permission denied"):
        read_image(BABY)


def test_bad_mode():
    with pytest.raises(ValueError, match="keep"):
        read_image(BABY, mode="gray")


# --------------------------------------------------------------------------------------------
# as_rgb_array
# --------------------------------------------------------------------------------------------


def test_as_rgb_array_accepts_path_pil_and_array():
    rgb = _rgb()
    np.testing.assert_array_equal(as_rgb_array(BABY), rgb)
    np.testing.assert_array_equal(as_rgb_array(str(BABY)), rgb)
    np.testing.assert_array_equal(as_rgb_array(Image.open(BABY)), rgb)
    assert as_rgb_array(rgb) is rgb  # a valid array is passed through
    np.testing.assert_array_equal(as_rgb_array(np.dstack([rgb, rgb[:, :, 0]])), rgb)

    gray = np.asarray(Image.open(BRIDGE))
    assert as_rgb_array(gray).shape == (512, 512, 3)
    assert as_rgb_array(gray[:, :, None], mode="keep").shape == (512, 512)
    assert as_rgb_array(Image.open(BRIDGE), mode="keep").shape == (512, 512)


def test_as_rgb_array_rejects_bad_arrays():
    rgb = _rgb()
    with pytest.raises(ImageReadError, match="uint8"):
        as_rgb_array(rgb.astype(np.float32) / 255)
    with pytest.raises(ImageReadError, match="channels first"):
        as_rgb_array(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    with pytest.raises(ImageReadError, match="shape"):
        as_rgb_array(np.zeros((4, 4, 3, 1), np.uint8))
    with pytest.raises(ImageReadError, match="no pixels"):
        as_rgb_array(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(TypeError):
        as_rgb_array(42)


# --------------------------------------------------------------------------------------------
# write_png, modcrop
# --------------------------------------------------------------------------------------------


def test_write_png_round_trip(tmp_path):
    rgb = _rgb(WOMAN)
    out = write_png(tmp_path / "new" / "dir" / "woman.png", rgb)
    assert out == tmp_path / "new" / "dir" / "woman.png"
    np.testing.assert_array_equal(read_image(out), rgb)

    gray = np.asarray(Image.open(BRIDGE))
    write_png(tmp_path / "bridge.png", gray)
    np.testing.assert_array_equal(read_image(tmp_path / "bridge.png", mode="keep"), gray)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bridge.png", "new"]


def test_write_png_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    write_png(target, _rgb(WOMAN))
    before = target.read_bytes()

    with pytest.raises(ValueError, match="uint8"):
        write_png(target, _rgb().astype(np.float32))
    with pytest.raises(ValueError, match="H x W"):
        write_png(target, np.zeros((8, 8, 4), np.uint8))

    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_png(target, _rgb())

    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_modcrop():
    img = np.zeros((343, 229, 3), np.uint8)
    assert modcrop(img, 2).shape == (342, 228, 3)
    assert modcrop(img, 3).shape == (342, 228, 3)
    assert modcrop(img, 4).shape == (340, 228, 3)
    assert modcrop(img[:, :, 0], 4).shape == (340, 228)
    assert modcrop(img, 1).shape == img.shape
    assert np.shares_memory(modcrop(img, 4), img)  # a view: the top-left corner is kept
    with pytest.raises(ValueError, match="smaller than the scale"):
        modcrop(np.zeros((3, 10), np.uint8), 4)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(img, 0)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(img, 2.0)


# --------------------------------------------------------------------------------------------
# Benchmark sets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_benchmark_set5(scale):
    items = list(benchmark("Set5", scale))
    assert [name for name, _, _ in items] == ["baby", "bird", "butterfly", "head", "woman"]
    for _, hr, lr in items:
        assert hr.dtype == lr.dtype == np.uint8
        assert hr.ndim == 3 and hr.shape[0] % scale == 0 and hr.shape[1] % scale == 0
        assert lr.shape == (hr.shape[0] // scale, hr.shape[1] // scale, 3)
    _, hr, _ = items[2]  # butterfly, 256 x 256
    assert hr.shape == ((256 // scale) * scale,) * 2 + (3,)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_benchmark_lr_equals_matlab(scale):
    fixtures = _lr_fixture_dir()
    if fixtures is None:
        pytest.skip("no Set5_LR_bicubic fixture (tests/fixtures or ../shared/data)")
    for name, _, lr in benchmark("Set5", scale):
        matlab = read_image(fixtures / f"X{scale}" / f"{name}x{scale}.png")
        np.testing.assert_array_equal(lr, matlab, err_msg=f"{name} x{scale}")


def test_benchmark_set14_keeps_bridge_gray():
    shapes = {name: (hr.ndim, lr.ndim) for name, hr, lr in benchmark("Set14", 2, mode="keep")}
    assert len(shapes) == 14
    assert shapes["bridge"] == (2, 2)
    assert all(dims == (3, 3) for name, dims in shapes.items() if name != "bridge")


def test_benchmark_own_folder(tmp_path):
    shutil.copy(BABY, tmp_path / "b.PNG")
    shutil.copy(WOMAN, tmp_path / "a.png")
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / "._a.png").write_bytes(b"macOS metadata")
    items = list(benchmark(tmp_path, 4))
    assert [name for name, _, _ in items] == ["a", "b"]
    assert items[0][1].shape == (344, 228, 3) and items[0][2].shape == (86, 57, 3)
    assert [n for n, _, _ in benchmark(str(tmp_path), 4)] == ["a", "b"]


def test_benchmark_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no images"):
        benchmark(tmp_path, 2)  # reported at the call, before any iteration


def test_list_images(tmp_path):
    for name in ["b.JPG", "a.png", "c.Tiff", "d.txt", ".hidden.png", "e.webp", "f.bmp"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["a.png", "b.JPG", "c.Tiff", "e.webp", "f.bmp"]
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "nope")


def test_find_dataset_shipped_sets(monkeypatch):
    monkeypatch.delenv("EDSR_LITE_DATA", raising=False)  # CI points it at a folder with B100 too
    assert find_dataset("Set5") == REPO / "data" / "Set5"
    assert find_dataset("set14") == REPO / "data" / "Set14"
    assert find_dataset("BSD100") == REPO / "data" / "B100"
    assert len(list_images(find_dataset("T91"))) == 91


def test_find_dataset_env_var(tmp_path, monkeypatch):
    (tmp_path / "MySet").mkdir()
    monkeypatch.setenv("EDSR_LITE_DATA", str(tmp_path))
    assert find_dataset("MySet") == tmp_path / "MySet"
    (tmp_path / "Set5").mkdir()  # $EDSR_LITE_DATA comes first, before the clone's data/
    assert find_dataset("Set5") == tmp_path / "Set5"
    other = tmp_path / "other"
    (other / "Set14").mkdir(parents=True)
    monkeypatch.setenv("EDSR_LITE_DATA", os.pathsep.join([str(tmp_path), str(other)]))
    assert find_dataset("Set14") == other / "Set14"


def test_find_dataset_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("EDSR_LITE_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError) as info:
        find_dataset("NoSuchSet")
    message = str(info.value)
    assert "'NoSuchSet' not found" in message
    assert str(REPO / "data" / "NoSuchSet") in message
    assert str(tmp_path / "elsewhere" / "NoSuchSet") in message
    assert "shared" not in message  # the product knows no ../shared folder
    assert "folder" in message and "Set5" in message

    with pytest.raises(FileNotFoundError, match="EDSR_LITE_DATA"):
        find_dataset("BSD200")

    monkeypatch.delenv("EDSR_LITE_DATA")
    with pytest.raises(FileNotFoundError, match=r"\$EDSR_LITE_DATA is not set") as info:
        find_dataset("Urban100")
    assert str(REPO / "data" / "Urban100") in str(info.value)


# --------------------------------------------------------------------------------------------
# DIV2K: local layout
# --------------------------------------------------------------------------------------------


def _tiny_pngs(folder: Path, numbers: range) -> None:
    """Small real-image crops named like DIV2K files (e.g. 0801.png)."""
    folder.mkdir(parents=True)
    rgb = _rgb()
    for i, number in enumerate(numbers):
        y, x = divmod(i * 8, 496)
        write_png(folder / f"{number:04d}.png", rgb[y : y + 8, x : x + 8])


def test_div2k_paths_layout(tmp_path):
    _tiny_pngs(tmp_path / "DIV2K_valid_HR", range(801, 901))
    paths = div2k_paths(tmp_path, "valid")
    assert len(paths) == 100
    assert paths[0] == tmp_path / "DIV2K_valid_HR" / "0801.png"
    assert paths[-1].name == "0900.png"
    assert div2k_paths(tmp_path / "DIV2K_valid_HR", "valid") == paths  # the folder itself

    (tmp_path / "DIV2K_valid_HR" / "0850.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 of 100 images missing.*0850.png"):
        div2k_paths(tmp_path, "valid")
    with pytest.raises(FileNotFoundError, match="download_div2k"):
        div2k_paths(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        div2k_paths(tmp_path, "test")


def test_div2k_paths_found_through_env(tmp_path, monkeypatch):
    _tiny_pngs(tmp_path / "DIV2K" / "DIV2K_valid_HR", range(801, 901))
    monkeypatch.setenv("EDSR_LITE_DATA", str(tmp_path))
    assert len(div2k_paths(split="valid")) == 100


def test_div2k_official_checksums_look_right():
    for spec in datasets.DIV2K_SPLITS.values():
        assert len(spec.zip_sha256) == 64 and int(spec.zip_sha256, 16) >= 0
    assert len(datasets.DIV2K_SPLITS["train"].file_names()) == 800
    assert datasets.DIV2K_SPLITS["valid"].file_names()[0] == "0801.png"


# --------------------------------------------------------------------------------------------
# DIV2K: download from a local server
# --------------------------------------------------------------------------------------------


class _ZipHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file with optional HTTP Range support; can cut the connection short."""

    payload = b""
    honour_range = True
    cut_after: int | None = None  # send only this many body bytes, then close
    ranges: list = []  # the Range header of every request (None when absent)

    def do_GET(self):  # noqa: N802 (the name http.server looks for)
        if self.path != "/DIV2K_valid_HR.zip":
            self.send_error(404)
            return
        requested = self.headers.get("Range")
        type(self).ranges.append(requested)
        start = 0
        if requested and self.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            if start >= len(self.payload):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}"
            )
        else:
            self.send_response(200)
        body = self.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.cut_after is not None:
            body = body[: self.cut_after]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local server for DIV2K_valid_HR.zip: (base_url, handler class, zip bytes, sha256)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")

    _tiny_pngs(tmp_path / "src" / "DIV2K_valid_HR", range(801, 901))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted((tmp_path / "src" / "DIV2K_valid_HR").iterdir()):
            archive.write(path, f"DIV2K_valid_HR/{path.name}")
    payload = buffer.getvalue()

    handler = type("Handler", (_ZipHandler,), {"payload": payload, "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler, payload
    finally:
        httpd.shutdown()
        httpd.server_close()


def _download(root: Path, base_url: str, payload: bytes, **kwargs):
    sha = hashlib.sha256(payload).hexdigest()
    return download_div2k(
        root, "valid", progress=False, base_url=base_url, expected_sha256=sha, timeout=10, **kwargs
    )


def test_download_fresh(tmp_path, server):
    base_url, handler, payload = server
    root = tmp_path / "div2k"
    paths = _download(root, base_url, payload)
    assert len(paths) == 100 and paths[0] == root / "DIV2K_valid_HR" / "0801.png"
    np.testing.assert_array_equal(read_image(paths[0]), _rgb()[:8, :8])
    # zip and .part gone; the lock file of the download stays (filelock)
    assert sorted(p.name for p in root.iterdir()) == ["DIV2K_valid_HR", "DIV2K_valid_HR.zip.lock"]
    assert handler.ranges == [None]

    assert _download(root, base_url, payload) == paths  # already there: no request
    assert handler.ranges == [None]


def test_download_resumes_after_interruption(tmp_path, server):
    base_url, handler, payload = server
    root = tmp_path / "div2k"
    half = len(payload) // 2
    handler.cut_after = half
    with pytest.raises(datasets.DownloadError, match="interrupted.*again to resume"):
        _download(root, base_url, payload)
    part = root / "DIV2K_valid_HR.zip.part"
    assert part.stat().st_size == half
    assert not (root / "DIV2K_valid_HR").exists()

    handler.cut_after = None
    assert len(_download(root, base_url, payload)) == 100
    assert handler.ranges == [None, f"bytes={half}-"]
    assert not part.exists()


def test_download_resumes_from_partial_file(tmp_path, server):
    base_url, handler, payload = server
    root = tmp_path / "div2k"
    root.mkdir()
    (root / "DIV2K_valid_HR.zip.part").write_bytes(payload[:1000])
    assert len(_download(root, base_url, payload, keep_zip=True)) == 100
    assert handler.ranges == ["bytes=1000-"]
    assert (root / "DIV2K_valid_HR.zip").read_bytes() == payload


def test_download_restarts_when_server_ignores_range(tmp_path, server):
    base_url, handler, payload = server
    handler.honour_range = False
    root = tmp_path / "div2k"
    root.mkdir()
    (root / "DIV2K_valid_HR.zip.part").write_bytes(b"stale bytes")
    assert len(_download(root, base_url, payload)) == 100
    assert handler.ranges == ["bytes=11-"]


def test_download_wrong_checksum(tmp_path, server):
    base_url, _, payload = server
    root = tmp_path / "div2k"
    with pytest.raises(datasets.DownloadError, match="sha256"):
        download_div2k(
            root, "valid", progress=False, base_url=base_url, expected_sha256="0" * 64, timeout=10
        )
    assert list(root.iterdir()) == [root / "DIV2K_valid_HR.zip.lock"]  # bad download deleted


def test_download_zip_with_missing_images(tmp_path, server):
    base_url, handler, _ = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("DIV2K_valid_HR/0801.png", BABY.read_bytes())
    handler.payload = buffer.getvalue()
    root = tmp_path / "div2k"
    with pytest.raises(datasets.DownloadError, match="99 of 100 images missing"):
        _download(root, base_url, handler.payload)
    assert sorted(p.name for p in root.iterdir()) == [  # no staging left
        "DIV2K_valid_HR.zip",
        "DIV2K_valid_HR.zip.lock",
    ]


def test_download_http_error(tmp_path, server):
    base_url, _, payload = server
    with pytest.raises(datasets.DownloadError, match="404"):
        _download(tmp_path, base_url + "missing/", payload)


# ---------------------------------------------------------------------------- size budget


def test_shipped_checkpoints_and_data_fit_the_size_budget():
    """What a clone downloads stays small: each shipped checkpoint <= 6 MB (float16 where
    needed), all the files git tracks under data/ <= 100 MB, an unfinished run's latest.pt
    included."""
    from edsr_lite.weights import available_pretrained, resolve_checkpoint

    for name in available_pretrained():
        size = resolve_checkpoint(name).stat().st_size
        assert size <= 6_000_000, f"{name}: {size / 1e6:.2f} MB, over the 6 MB budget"
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "data"], cwd=REPO, capture_output=True, check=False
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = [REPO / f for f in tracked.stdout.decode().split("\0") if f]
    total = sum(f.stat().st_size for f in files if f.is_file())
    assert total <= 100_000_000, f"data/ holds {total / 1e6:.1f} MB, over the 100 MB budget"

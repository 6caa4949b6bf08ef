"""Images in and out, the benchmark sets, and DIV2K.

Every image this package handles is a numpy array of ``uint8`` values 0..255, shaped
H x W x 3 (RGB) or, where a grayscale image is kept grayscale for scoring, H x W.

The pieces, in the order data flows through them:

* :func:`read_image` / :func:`as_rgb_array` turn a file, a PIL image or an array into such an
  array; :func:`write_png` writes one back (atomically).
* :func:`modcrop` trims an image so that its sides are multiples of the scale factor.
* :func:`find_dataset` says where a set of images lives; :func:`benchmark` yields the
  (name, HR, LR) triples of a test set, the LR image made with MATLAB-compatible bicubic
  downscaling (:func:`edsr_lite.imresize.imresize`), as in the EDSR paper.
* :func:`div2k_paths` lists a local copy of DIV2K, the training set of the paper;
  :func:`download_div2k` fetches it (only when you call it).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from edsr_lite.imresize import imresize
from edsr_lite.paths import DATA_DIR, REPO_ROOT

Mode = Literal["rgb", "keep"]

#: File name endings :func:`list_images` treats as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image could not be read, or an array is not a valid image.

    The message names the file (or describes the array), says what is wrong and what to do.
    """


# --------------------------------------------------------------------------------------------
# Reading images
# --------------------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str], mode: Mode = "rgb") -> np.ndarray:
    """Read an image file into a ``uint8`` array (values 0..255).

    Any format Pillow reads works (PNG, JPEG, BMP, TIFF, WebP, ...); for a file with several
    frames (GIF, APNG, multi-page TIFF) the first frame is read. On the way in:

    * the EXIF orientation is applied (:func:`PIL.ImageOps.exif_transpose`), so a phone
      photo comes out the way it is displayed;
    * an alpha channel (LA, RGBA, palette transparency) is **dropped**: the colour values are
      kept unchanged, not blended onto a background;
    * palette, bilevel, CMYK, YCbCr, ... images are converted to RGB;
    * 16-bit samples (16-bit grayscale or colour PNG, TIFF mode ``I;16``/``I``) are scaled
      to 8 bits with rounding, ``round(v * 255 / 65535)``, so 65535 becomes 255. (Pillow
      itself keeps only the high byte of 16-bit colour PNGs; we decode those exactly.)
      Values of 32-bit integer (``I``) images are clipped to 0..65535 first.

    Args:
        path: the image file.
        mode: ``"rgb"`` (default) always returns H x W x 3. ``"keep"`` returns H x W for a
            single-channel (grayscale) image, e.g. Set14 ``bridge``, so that it can be
            scored as grayscale, and H x W x 3 otherwise.

    Returns:
        ``uint8`` array, H x W x 3 (or H x W, see ``mode``), values 0..255.

    Raises:
        ImageReadError: the path is missing, a folder, empty, not an image, or truncated.
    """
    _check_mode(mode)
    path = _existing_file(path)
    with _decode_errors(path), Image.open(path) as image:
        if _is_16bit_color_png(image):
            return _read_16bit_color_png(path)
        image = ImageOps.exif_transpose(image)  # decodes the pixels, returns a new image
    return _pil_to_array(image, mode, what=str(path))


@contextmanager
def _decode_errors(path: Path) -> Iterator[None]:
    """Turn the exceptions Pillow raises on a bad file into an :class:`ImageReadError`."""
    try:
        yield
    except UnidentifiedImageError:
        kind = path.suffix.lstrip(".").upper() or "image"
        raise ImageReadError(
            f"{path}: not an image Pillow can read (is it really a {kind} file?). "
            "Open it in an image viewer or export it again as PNG."
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied; check who may read the file.") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"{path}: refused, too large ({err}). Downscale it first.") from None
    except (OSError, EOFError, SyntaxError, ValueError, struct.error, zlib.error) as err:
        raise ImageReadError(
            f"{path}: the file is truncated or corrupt ({err}). Download or export it again."
        ) from None


def as_rgb_array(
    image: np.ndarray | Image.Image | str | os.PathLike[str], mode: Mode = "rgb"
) -> np.ndarray:
    """Turn a path, a PIL image or a numpy array into a validated ``uint8`` image array.

    This is what inference accepts. A path goes through :func:`read_image`; a PIL image is
    converted the same way (EXIF orientation applied, alpha dropped, 16-bit scaled); an
    array must already be ``uint8``, shaped H x W, H x W x 1, H x W x 3 or H x W x 4 (alpha
    dropped). A returned array may share memory with the array passed in.

    Returns:
        ``uint8`` array H x W x 3 (``mode="rgb"``), or H x W for single-channel input
        with ``mode="keep"``; values 0..255.

    Raises:
        ImageReadError: unreadable file or invalid array (wrong dtype or shape).
        TypeError: ``image`` is none of the accepted types.
    """
    _check_mode(mode)
    if isinstance(image, np.ndarray):
        return _validated_array(image, mode)
    if isinstance(image, Image.Image):
        return _pil_to_array(ImageOps.exif_transpose(image), mode, what="the PIL image")
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, mode)
    raise TypeError(
        f"expected an image path, a PIL.Image.Image or a numpy array, got {type(image).__name__}"
    )


def _check_mode(mode: str) -> None:
    if mode not in ("rgb", "keep"):
        raise ValueError(f'mode must be "rgb" or "keep", got {mode!r}')


def _existing_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, after checking that it is a non-empty regular file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ImageReadError(f"{path}: no such file. Check the spelling and the folder.")
    if path.is_dir():
        raise ImageReadError(
            f"{path}: is a folder, not an image file. "
            "Pass one image file, or use list_images(folder) to get the files in it."
        )
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes). Download or export it again.")
    return path


def _pil_to_array(image: Image.Image, mode: Mode, what: str) -> np.ndarray:
    """Pixels of a PIL image (any mode) as ``uint8`` H x W x 3, or H x W for gray + "keep"."""
    if image.mode == "F":
        raise ImageReadError(
            f"{what}: floating-point (mode F) images have no fixed value range. "
            "Convert it to an 8-bit or 16-bit image first."
        )
    if image.mode.startswith("I"):  # I;16, I;16B, I;16L, I;16N, I (32-bit integer)
        gray = _16bit_to_uint8(np.asarray(image))
    elif image.mode in ("1", "L", "LA", "La"):
        gray = np.asarray(image.convert("L"))  # "LA" -> "L" drops the alpha channel
    else:
        if image.mode in ("P", "PA"):  # palette: expand, keeping any transparency for now
            image = image.convert("RGBA")
        try:
            return np.asarray(image.convert("RGB"))  # RGBA -> RGB drops alpha, RGB unchanged
        except ValueError:
            raise ImageReadError(
                f"{what}: colour mode {image.mode} cannot be converted to RGB. "
                "Export it again as an 8-bit RGB image."
            ) from None
    return gray if mode == "keep" else np.repeat(gray[:, :, None], 3, axis=2)


def _16bit_to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples 0..65535 to 0..255: ``round(v * 255 / 65535)`` (never a tie)."""
    v = np.clip(values.astype(np.int64), 0, 65535)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


# Pillow decodes 16-bit colour PNGs with these raw modes, keeping only the high byte.
# The ";16L" variant of the same unpacker keeps the second byte of each sample instead,
# which in a PNG (big-endian) is the low byte.
_PNG_16BIT_LOW_BYTE = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


def _is_16bit_color_png(image: Image.Image) -> bool:
    return image.format == "PNG" and len(image.tile) > 0 and image.tile[0][3] in _PNG_16BIT_LOW_BYTE


def _read_16bit_color_png(path: Path) -> np.ndarray:
    """A 16-bit RGB(A) PNG, decoded at full precision and rounded to ``uint8`` H x W x 3.

    The file is decoded twice, once for the high bytes and once for the low bytes; both
    decodes undo the same PNG filters, so ``(high << 8) | low`` is the exact 16-bit value.
    """
    planes = []
    for byte in ("high", "low"):
        with Image.open(path) as image:
            rawmode = image.tile[0][3]
            if byte == "low":
                rawmode = _PNG_16BIT_LOW_BYTE[rawmode]
            image.tile = [(*tile[:3], rawmode) for tile in image.tile]
            image = ImageOps.exif_transpose(image)
            planes.append(np.asarray(image, dtype=np.uint16)[:, :, :3])  # drop alpha
    return _16bit_to_uint8((planes[0] << 8) | planes[1])


def _validated_array(image: np.ndarray, mode: Mode) -> np.ndarray:
    """Check an array is a ``uint8`` image; return H x W x 3 (or H x W for "keep")."""
    if image.dtype != np.uint8:
        raise ImageReadError(
            f"image array has dtype {image.dtype}; expected uint8 (0..255). For floats in "
            "0..1 use (x * 255).round().clip(0, 255).astype(np.uint8)."
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]  # drop alpha
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        hint = ""
        if image.ndim == 3 and image.shape[0] in (1, 3, 4):
            hint = " (channels first? use np.transpose(x, (1, 2, 0)))"
        raise ImageReadError(
            f"image array has shape {image.shape}; expected H x W or H x W x 3{hint}."
        )
    if image.size == 0:
        raise ImageReadError(f"image array has shape {image.shape}: it holds no pixels.")
    if image.ndim == 2 and mode == "rgb":
        return np.repeat(image[:, :, None], 3, axis=2)
    return image


# --------------------------------------------------------------------------------------------
# Writing images, cropping
# --------------------------------------------------------------------------------------------


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a ``uint8`` image (H x W gray or H x W x 3 RGB, 0..255) to a PNG file, atomically.

    The PNG is written to a temporary file next to ``path`` and then renamed over it, so
    ``path`` is either the old file or the complete new one, never half-written; the temporary
    file is removed if anything fails. Missing parent folders are created.

    Returns:
        The path written.

    Raises:
        ValueError: ``image`` is not a ``uint8`` array of shape H x W or H x W x 3.
    """
    _check_writable_image(image)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(np.ascontiguousarray(image)).save(f, format="PNG")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _check_writable_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"write_png needs a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"write_png needs dtype uint8 (0..255), got {image.dtype}. For floats in 0..1 use "
            "(x * 255).round().clip(0, 255).astype(np.uint8)."
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or image.size == 0:
        raise ValueError(f"write_png needs shape H x W or H x W x 3, got {image.shape}")


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom rows and right columns so that H and W are multiples of ``scale``.

    This is the usual SR benchmark convention (``modcrop`` in the SRCNN/EDSR MATLAB code):
    the top-left corner is kept, so at most ``scale - 1`` rows and columns are lost.

    Args:
        image: H x W or H x W x C array (any dtype).
        scale: the super-resolution factor, a positive integer.

    Returns:
        A view of ``image`` of shape (H - H % scale) x (W - W % scale) [x C].

    Raises:
        ValueError: ``scale`` is not a positive integer, or the image is smaller than it.
    """
    _check_scale(scale)
    height, width = image.shape[:2]
    if height < scale or width < scale:
        raise ValueError(
            f"image of size {height} x {width} is smaller than the scale factor {scale}; "
            "nothing would be left after cropping to a multiple of it."
        )
    return image[: height - height % scale, : width - width % scale]


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer (2, 3, 4, ...), got {scale!r}")


# --------------------------------------------------------------------------------------------
# Where the image sets live
# --------------------------------------------------------------------------------------------

#: How each known set is spelled on disk, by lower-case name or alias.
_SET_NAMES = {
    "set5": "Set5",
    "set14": "Set14",
    "b100": "B100",
    "bsd100": "B100",
    "bsd200": "BSD200",
    "t91": "T91",
    "urban100": "Urban100",
    "div2k": "DIV2K",
}

#: How to get a set that is not found (shown in the error message).
_HOW_TO_GET = {
    "Set5": "it ships in the repository's data/ folder; restore it with git.",
    "Set14": "it ships in the repository's data/ folder; restore it with git.",
    "B100": "it ships in the repository's data/ folder; restore it with git.",
    "T91": "it ships in the repository's data/ folder; restore it with git.",
    "BSD200": (
        "it does not ship (52 MB). Copy the 200 PNGs of jiny2001/dcscn-super-resolution "
        "data/bsd200/ into a folder BSD200/ inside a folder named by $EDSR_LITE_DATA "
        "(see data/README.md)."
    ),
    "Urban100": (
        "it does not ship (136 MB). Put img_001.png ... img_100.png (majedelhelou/"
        "denoising_datasets CUrban100/) in a folder Urban100/ inside $EDSR_LITE_DATA."
    ),
    "DIV2K": "call edsr_lite.data.download_div2k(root) (3.5 GB), then set EDSR_LITE_DATA=root.",
}


def data_dir() -> Path:
    """The repository's own ``data/`` folder (Set5, Set14, B100 and T91 ship there)."""
    return DATA_DIR


def dataset_search_path() -> list[Path]:
    """The folders :func:`find_dataset` looks in, in order.

    1. the repository's ``data/``;
    2. each folder in ``$EDSR_LITE_DATA`` (several may be given, separated by ``os.pathsep``);
    3. ``../shared/data`` next to the repository (the developers' and CI layout).
    """
    places = [data_dir()]
    env = os.environ.get("EDSR_LITE_DATA", "")
    places += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    places.append(REPO_ROOT.parent / "shared" / "data")
    return places


def find_dataset(name: str | os.PathLike[str]) -> Path:
    """The folder holding the image set ``name``.

    ``name`` is a set name such as ``"Set5"``, ``"Set14"``, ``"B100"`` (alias ``"BSD100"``),
    ``"BSD200"``, ``"T91"`` (case does not matter), looked up in :func:`dataset_search_path`;
    or the path of a folder of your own images (a :class:`pathlib.Path` is always taken as a
    path; a string is, when no set of that name is found and it names an existing folder).

    Raises:
        FileNotFoundError: listing the places looked in and how to get the set.
    """
    if isinstance(name, os.PathLike):
        folder = Path(name).expanduser()
        if folder.is_dir():
            return folder
        raise FileNotFoundError(f"{folder}: no such folder of images.")
    canonical = _SET_NAMES.get(name.lower(), name)
    places = dataset_search_path()
    for place in places:
        if (place / canonical).is_dir():
            return place / canonical
    if Path(name).expanduser().is_dir():
        return Path(name).expanduser()
    looked = "\n".join(f"  {place / canonical}" for place in places)
    how = _HOW_TO_GET.get(
        canonical,
        f"{name!r} is not a set this package knows ({', '.join(sorted(_HOW_TO_GET))}); "
        "to use your own images, pass the path of a folder that holds them.",
    )
    raise FileNotFoundError(f"image set {name!r} not found. Looked in:\n{looked}\nTo get it: {how}")


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder``, sorted by file name.

    Files whose name ends in one of :data:`IMAGE_EXTENSIONS` (any case) count; hidden files
    (name starting with ``.``, e.g. macOS ``._x.png``) and sub-folders are skipped.

    Raises:
        FileNotFoundError: ``folder`` is not an existing folder.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of images.")
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name,
    )


# --------------------------------------------------------------------------------------------
# Benchmark sets
# --------------------------------------------------------------------------------------------


def benchmark(
    name: str | os.PathLike[str], scale: int, mode: Mode = "rgb"
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(image name, HR, LR)`` for every image of a test set, in sorted name order.

    The protocol of the EDSR paper (and of SRCNN, VDSR, ...): the ground truth ``HR`` is the
    image cropped to a multiple of ``scale`` (:func:`modcrop`), and ``LR`` is HR downscaled by
    MATLAB-compatible bicubic ``imresize(HR, 1/scale)``, rounded to ``uint8``. Nothing is
    cached on disk; each image is read when the iteration reaches it (a missing set or an
    empty folder is reported at once, when ``benchmark`` is called).

    Args:
        name: ``"Set5"``, ``"Set14"``, ``"B100"``, ... or a folder of images (see
            :func:`find_dataset`).
        scale: the super-resolution factor (2, 3, 4, ...).
        mode: ``"rgb"``: HR and LR are always H x W x 3. ``"keep"``: a grayscale image
            (Set14 ``bridge``) stays H x W, so it can be scored as grayscale.

    Yields:
        ``(stem, hr, lr)``: the file name without extension; ``uint8`` HR of shape
        (s*h) x (s*w) [x 3]; ``uint8`` LR of shape h x w [x 3]; values 0..255.

    Raises:
        FileNotFoundError: the set is not found, or its folder holds no images.
    """
    _check_scale(scale)
    _check_mode(mode)
    folder = find_dataset(name)
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(
            f"{folder}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)}). "
            "Put the set's images there or point to another folder."
        )
    return _benchmark_items(paths, scale, mode)


def _benchmark_items(
    paths: list[Path], scale: int, mode: Mode
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    for path in paths:
        hr = modcrop(read_image(path, mode), scale)
        yield path.stem, hr, downscale(hr, scale)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-compatible bicubic ``imresize(hr, 1/scale)`` of a ``uint8`` H x W [x 3] image.

    ``hr`` should have sides divisible by ``scale`` (see :func:`modcrop`); the result is then
    (H/scale) x (W/scale) [x 3], ``uint8`` 0..255. (``ceil(H * (1/scale))``, MATLAB's output
    size, equals ``H/scale`` exactly for every such H: checked for s = 2..8, H < 20000.)
    """
    return imresize(hr, scale=1 / scale)


# --------------------------------------------------------------------------------------------
# DIV2K
# --------------------------------------------------------------------------------------------

DIV2K_BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"


@dataclass(frozen=True)
class Div2kSplit:
    """One split of DIV2K: its folder, image numbers and official archive."""

    folder: str  # folder name inside the zip and on disk
    first: int  # first image number (file f"{first:04d}.png")
    last: int  # last image number
    zip_bytes: int  # size of the official zip
    zip_sha256: str  # sha256 of the official zip

    @property
    def zip_name(self) -> str:
        return f"{self.folder}.zip"

    def file_names(self) -> list[str]:
        return [f"{i:04d}.png" for i in range(self.first, self.last + 1)]


# Archive sizes and sha256 as recorded by TensorFlow Datasets
# (tensorflow/datasets, tensorflow_datasets/url_checksums/div2k.txt), and independently
# by several other projects that downloaded the same files from the official server.
DIV2K_SPLITS = {
    "train": Div2kSplit(
        "DIV2K_train_HR",
        1,
        800,
        3_530_603_713,
        "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
    ),
    "valid": Div2kSplit(
        "DIV2K_valid_HR",
        801,
        900,
        448_993_893,
        "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
    ),
}


class DownloadError(OSError):
    """A download failed or gave a wrong file; the message says whether re-running resumes it."""


def div2k_paths(
    root: str | os.PathLike[str] | None = None, split: Literal["train", "valid"] = "train"
) -> list[Path]:
    """The HR image paths of a local DIV2K copy, in the standard layout.

    ``root/DIV2K_train_HR/0001.png ... 0800.png`` (``split="train"``) or
    ``root/DIV2K_valid_HR/0801.png ... 0900.png`` (``split="valid"``). ``root`` may also be
    the split's folder itself. With ``root=None`` a ``DIV2K`` folder is looked for in
    :func:`dataset_search_path` (e.g. ``$EDSR_LITE_DATA/DIV2K``).

    Returns:
        The 800 (train) or 100 (valid) PNG paths, in number order.

    Raises:
        FileNotFoundError: the folder or some of its files are missing; the message says how
            to get them.
    """
    spec = _div2k_split(split)
    root = find_dataset("DIV2K") if root is None else Path(root).expanduser()
    folder = root if root.name == spec.folder else root / spec.folder
    how = (
        f"Run edsr_lite.data.download_div2k({str(root)!r}, {split!r}) (downloads "
        f"{spec.zip_bytes / 1e9:.1f} GB), or download {DIV2K_BASE_URL}{spec.zip_name} "
        f"yourself and unzip it into {root}."
    )
    if not folder.is_dir():
        raise FileNotFoundError(f"DIV2K {split} images not found: {folder} does not exist. {how}")
    paths = [folder / name for name in spec.file_names()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"DIV2K {split} is incomplete: {len(missing)} of {len(paths)} images missing from "
            f"{folder} (first: {', '.join(missing[:3])}). {how}"
        )
    return paths


def download_div2k(
    root: str | os.PathLike[str],
    split: Literal["train", "valid"] = "train",
    progress: bool = True,
    *,
    base_url: str = DIV2K_BASE_URL,
    expected_sha256: str | None = None,
    keep_zip: bool = False,
    timeout: float = 60.0,
) -> list[Path]:
    """Download and unpack the DIV2K HR images of one split into ``root``; return their paths.

    Nothing is downloaded if ``root`` already holds the split (see :func:`div2k_paths`).
    Otherwise the official zip (``train``: 800 images, 3.5 GB; ``valid``: 100 images,
    0.45 GB) is downloaded into ``root/<name>.zip.part``. If that is interrupted, calling
    again resumes where it stopped (HTTP Range request). The finished zip is checked against
    its sha256 (:data:`DIV2K_SPLITS`), extracted into a hidden staging folder, checked for
    all expected files, and only then renamed to ``root/DIV2K_<split>_HR``: a half-done
    extraction is never mistaken for the data set.

    Args:
        root: the folder to put ``DIV2K_train_HR/`` (or ``DIV2K_valid_HR/``) in.
        split: ``"train"`` (0001..0800) or ``"valid"`` (0801..0900).
        progress: show a tqdm progress bar.
        base_url: where the zips are (a mirror, or a local server in the tests).
        expected_sha256: the zip's sha256; defaults to the official one. Pass ``""`` to skip
            the check (the file count is still checked).
        keep_zip: keep the zip after extraction (by default it is deleted).
        timeout: seconds to wait for the server before giving up.

    Returns:
        The image paths, as :func:`div2k_paths` returns them.

    Raises:
        DownloadError: the download failed (run again to resume) or the zip is wrong.
        FileExistsError: ``root`` holds an incomplete split folder (move it away first).
    """
    spec = _div2k_split(split)
    root = Path(root).expanduser()
    try:
        return div2k_paths(root, split)
    except FileNotFoundError:
        pass
    if (root / spec.folder).exists():
        raise FileExistsError(
            f"{root / spec.folder} exists but is incomplete; move or delete it and run again."
        )
    root.mkdir(parents=True, exist_ok=True)
    zip_path = root / spec.zip_name
    sha256 = spec.zip_sha256 if expected_sha256 is None else expected_sha256
    if zip_path.is_file():  # downloaded before (keep_zip=True), or by hand
        if not _sha256_matches(zip_path, sha256):
            raise DownloadError(
                f"{zip_path}: sha256 differs from the expected {sha256}: the file is damaged "
                "or not the official one. Delete it and run again to download it."
            )
    else:
        part = zip_path.with_name(zip_path.name + ".part")
        _download(base_url.rstrip("/") + "/" + spec.zip_name, part, progress, timeout)
        if not _sha256_matches(part, sha256):
            part.unlink()
            raise DownloadError(
                f"{part}: sha256 differs from the expected {sha256}: the download was "
                "corrupted and has been deleted. Run again to download it afresh."
            )
        os.replace(part, zip_path)
    _extract_split(zip_path, root, spec)
    if not keep_zip:
        zip_path.unlink()
    return div2k_paths(root, split)


def _div2k_split(split: str) -> Div2kSplit:
    if split not in DIV2K_SPLITS:
        raise ValueError(f'split must be "train" or "valid", got {split!r}')
    return DIV2K_SPLITS[split]


def _download(url: str, part: Path, progress: bool, timeout: float) -> None:
    """Download ``url`` into ``part``, continuing after the bytes it already holds."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "edsr-lite", **({"Range": f"bytes={have}-"} if have else {})}
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # "range not satisfiable": the .part is already whole
            return
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(
            f"{url}: cannot connect ({err}). Check the network, then retry."
        ) from None
    with response:
        if have and response.status != 206:  # the server ignored the Range: start again
            have = 0
        elif have and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise DownloadError(
                f"{url}: the server sent another part of the file than asked for. "
                f"Delete {part} and run again."
            )
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            disable=not progress,
            desc=part.name.removesuffix(".part"),
        )
        try:
            with bar, open(part, "ab" if have else "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(_interrupted(url, part, err)) from None
    if total is not None and part.stat().st_size < total:
        raise DownloadError(_interrupted(url, part, "the connection closed early"))


def _interrupted(url: str, part: Path, why: object) -> str:
    size = part.stat().st_size if part.exists() else 0
    return (
        f"{url}: download interrupted after {size:,} bytes ({why}). "
        f"Run the same call again to resume from {part}."
    )


def _sha256_matches(path: Path, expected: str) -> bool:
    """Whether the sha256 of the file ``path`` is ``expected`` (always true for ``""``)."""
    if not expected:
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest() == expected.lower()


def _extract_split(zip_path: Path, root: Path, spec: Div2kSplit) -> None:
    """Unzip ``spec.folder`` from ``zip_path`` into ``root``, via a staging folder."""
    staging = root / f".{spec.folder}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                if Path(member).is_absolute() or ".." in Path(member).parts:
                    raise DownloadError(f"{zip_path}: unsafe file name {member!r} in the zip.")
            archive.extractall(staging)
        extracted = staging / spec.folder
        missing = [n for n in spec.file_names() if not (extracted / n).is_file()]
        if missing:
            raise DownloadError(
                f"{zip_path}: {len(missing)} of {spec.last - spec.first + 1} images missing "
                f"from the zip (first: {', '.join(missing[:3])}). Delete it and download again."
            )
        os.replace(extracted, root / spec.folder)
    except zipfile.BadZipFile as err:
        raise DownloadError(
            f"{zip_path}: not a valid zip ({err}). Delete it and download again."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)

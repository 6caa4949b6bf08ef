"""Images in and out: files, PIL images and arrays as ``uint8`` arrays, and as network input.

Every image the package handles is a numpy ``uint8`` array, values 0..255, shaped H x W x 3
(RGB) or, where a gray image is kept gray for scoring (``mode="keep"``), H x W.

* :func:`read_image`: any format Pillow reads (PNG, JPEG, BMP, TIFF, WebP, GIF, ...; the first
  frame of an animation, with a :class:`MultiFrameWarning`; at most :data:`MAX_PIXELS` pixels,
  checked from the header before decoding, ``$EDSR_LITE_MAX_PIXELS`` to raise it). EXIF
  orientation applied; alpha dropped, not blended; 16-bit samples rounded to 8 bits,
  ``round(v * 255 / 65535)`` (16-bit colour PNGs decoded exactly); a gray image becomes three
  equal channels unless ``mode="keep"``. :func:`as_rgb_array` does the same
  for a PIL image or an array. :func:`read_image_with_alpha` also returns the alpha channel.
* :func:`write_png`: a uint8 gray or RGB array (and an optional alpha plane) to PNG,
  atomically, replacing an existing file or refusing to (:mod:`edsr_lite.files`);
  :func:`write_image`: PNG or JPEG, as the file name's ending says.
* :func:`to_tensor`: uint8 H x W x 3 (or a batch) -> float32 N x 3 x H x W, values 0..255,
  the network's input (EDSR subtracts the DIV2K mean itself).

A bad file raises :class:`ImageReadError`, whose message names it, says what is wrong and what
to do.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from filelock import FileLock
from PIL import Image, ImageOps, UnidentifiedImageError

from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import atomic_write

Mode = Literal["rgb", "keep"]

#: File name endings :func:`list_images` treats as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")

#: The most pixels (width x height) an image file may have: 200 megapixels, a 14142 x 14142
#: image, 600 MB as uint8 RGB. Checked from the file's header before any pixel is decoded (a
#: small file can decode to gigabytes: a "decompression bomb"). Raise it with the environment
#: variable ``EDSR_LITE_MAX_PIXELS`` (a number of pixels).
MAX_PIXELS = 200_000_000

#: File name endings :func:`write_image` writes, and the format each names.
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: The quality :func:`write_image` gives a JPEG (Pillow's scale, 1..95; 95: visually lossless).
JPEG_QUALITY = 95

# Pillow decodes 16-bit colour PNGs with these raw modes, keeping only the high byte.
# The ";16L" variant of the same unpacker keeps the second byte of each sample instead,
# which in a PNG (big-endian) is the low byte.
_PNG_16BIT_LOW_BYTE = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


class ImageReadError(EdsrLiteError, ValueError):
    """An image could not be read, or an array is not a valid image.

    The message names the file (or describes the array), says what is wrong and what to do.
    """


class MultiFrameWarning(UserWarning):
    """An image file holds several frames (an animation, a multi-page TIFF): only the first
    is read. The message names the file and the number of frames."""


def max_pixels() -> int:
    """The pixel limit in force: ``$EDSR_LITE_MAX_PIXELS`` when set, else :data:`MAX_PIXELS`.

    Raises:
        ValueError: the variable is set to something other than a whole number above 0.
    """
    text = os.environ.get("EDSR_LITE_MAX_PIXELS", "").strip()
    if not text:
        return MAX_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"EDSR_LITE_MAX_PIXELS={text!r}: expected a whole number of pixels above 0 (e.g. "
            f"{MAX_PIXELS}); unset it for the default"
        )
    return value


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
    return _read(path, mode, with_alpha=False)[0]


def read_image_with_alpha(
    path: str | os.PathLike[str], mode: Mode = "keep"
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image` (gray kept gray by default), and the alpha channel it drops.

    Returns:
        ``(image, alpha)``: ``image`` as :func:`read_image` gives it for ``mode``; ``alpha``
        the file's transparency as ``uint8`` H x W (0: transparent, 255: opaque) when it has
        some (an LA/RGBA channel, a transparent palette entry or colour key), else ``None``.

    Raises:
        ImageReadError: as :func:`read_image`.
    """
    return _read(path, mode, with_alpha=True)


def _read(
    path: str | os.PathLike[str], mode: Mode, with_alpha: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode ``path`` once: (pixels for ``mode``, alpha plane or None if not ``with_alpha``)."""
    check_mode(mode)
    path = _existing_file(path)
    limit = max_pixels()  # a bad $EDSR_LITE_MAX_PIXELS is its own error, not the file's
    with _decode_errors(path, limit), _open_bounded(path, limit) as image:
        _warn_frames(image, path)
        if _is_16bit_color_png(image):
            return _read_16bit_color_png(path, with_alpha)
        image = ImageOps.exif_transpose(image)  # decodes the pixels, returns a new image
    pixels = _pil_to_array(image, mode, what=str(path))
    return pixels, _alpha_plane(image, what=str(path)) if with_alpha else None


def _open_bounded(path: Path, limit: int) -> Image.Image:
    """``Image.open(path)`` (the header only) after checking the image's pixel count against
    :func:`max_pixels`. Pillow's own guard is set to the same limit (``Image.MAX_IMAGE_PIXELS``,
    a global of Pillow: what a refused image says comes from here), and its warning between
    one and two times its limit is not shown: our refusal says it."""
    Image.MAX_IMAGE_PIXELS = limit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(path)
    if image.width * image.height > limit:
        image.close()
        pixels = image.width * image.height
        raise _too_many_pixels(path, f"{image.width}x{image.height} = {pixels:,}", pixels, limit)
    return image


def _too_many_pixels(path: Path, size: str, pixels: int, limit: int) -> ImageReadError:
    return ImageReadError(
        f"{path}: {size} pixels, above the limit of {limit:,} pixels per image (a guard "
        "against decompression bombs, small files that decode to gigabytes). Downscale it, "
        f"or raise the limit if the machine has the memory: EDSR_LITE_MAX_PIXELS={pixels}."
    )


def _warn_frames(image: Image.Image, path: Path) -> None:
    """Say once, for a file of several frames, that only the first is used."""
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        warnings.warn(
            f"{path}: {frames} frames (an animation or a multi-page file): only frame 1 is used",
            MultiFrameWarning,
            stacklevel=4,  # the caller of read_image
        )


def _alpha_plane(image: Image.Image, what: str) -> np.ndarray | None:
    """The transparency of a decoded PIL image as ``uint8`` H x W, or None if it has none."""
    if not image.has_transparency_data:
        return None
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa"):  # a channel: the last band
        return np.asarray(image.getchannel(image.getbands()[-1]))
    try:  # a transparent palette entry or colour key: expand it to a channel
        return np.asarray(image.convert("RGBA").getchannel("A"))
    except ValueError:
        raise ImageReadError(
            f"{what}: the transparency of a mode {image.mode} image cannot be read. "
            "Export it again as an 8-bit RGBA PNG."
        ) from None


@contextmanager
def _decode_errors(path: Path, limit: int = MAX_PIXELS) -> Iterator[None]:
    """Turn the exceptions Pillow raises on a bad file into an :class:`ImageReadError`."""
    try:
        yield
    except ImageReadError:  # ours already says what is wrong
        raise
    except UnidentifiedImageError:
        kind = path.suffix.lstrip(".").upper() or "image"
        raise ImageReadError(
            f"{path}: not an image Pillow can read (is it really a {kind} file?). "
            "Open it in an image viewer or export it again as PNG."
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied; check who may read the file.") from None
    except Image.DecompressionBombError as err:  # above twice our limit: Pillow's own refusal
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = int(found.group(1)) if found else 2 * limit + 1
        raise _too_many_pixels(path, f"{pixels:,}", pixels, limit) from None
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
    check_mode(mode)
    if isinstance(image, np.ndarray):
        return _validated_array(image, mode)
    if isinstance(image, Image.Image):
        return _pil_to_array(ImageOps.exif_transpose(image), mode, what="the PIL image")
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, mode)
    raise TypeError(
        f"expected an image path, a PIL.Image.Image or a numpy array, got {type(image).__name__}"
    )


def check_mode(mode: str) -> None:
    """Refuse a read mode other than ``"rgb"`` (3 channels) and ``"keep"`` (as stored)."""
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


def _is_16bit_color_png(image: Image.Image) -> bool:
    return image.format == "PNG" and len(image.tile) > 0 and image.tile[0][3] in _PNG_16BIT_LOW_BYTE


def _read_16bit_color_png(path: Path, with_alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A 16-bit RGB(A) PNG, decoded at full precision and rounded to ``uint8`` H x W x 3 (and
    its alpha plane H x W, if ``with_alpha`` and it has one).

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
            planes.append(np.asarray(image, dtype=np.uint16))
    values = _16bit_to_uint8((planes[0] << 8) | planes[1])
    alpha = values[:, :, 3] if with_alpha and values.shape[2] == 4 else None
    return np.ascontiguousarray(values[:, :, :3]), alpha


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


def write_png(
    path: str | os.PathLike[str],
    image: np.ndarray,
    alpha: np.ndarray | None = None,
    replace: bool = True,
) -> Path:
    """Write a ``uint8`` image (H x W gray or H x W x 3 RGB, 0..255) to a PNG file, atomically.

    The PNG is written to a temporary file next to ``path`` and then renamed over it, so
    ``path`` is either the old file or the complete new one, never half-written; the temporary
    file is removed if anything fails. Missing parent folders are created. A new file gets
    the permissions ``0o666`` less the umask; a replaced one keeps its own.

    Args:
        path: the PNG file.
        image: ``uint8`` H x W (gray) or H x W x 3 (RGB).
        alpha: an optional ``uint8`` H x W transparency plane: the PNG is then gray + alpha
            (LA) or RGBA.
        replace: ``False``: never replace an existing ``path``, not even one another process
            creates while this one writes (:func:`edsr_lite.files.atomic_write`).

    Returns:
        The path written.

    Raises:
        ValueError: ``image`` is not a ``uint8`` array of shape H x W or H x W x 3, or
            ``alpha`` not a ``uint8`` H x W plane of the same size.
        FileExistsError: ``replace=False`` and ``path`` exists.
    """
    _check_writable_image(image)
    if alpha is not None:
        _check_alpha(alpha, image.shape[:2])
        image = np.dstack([image, alpha])  # H x W x 2 (LA) or H x W x 4 (RGBA)
    pixels = Image.fromarray(np.ascontiguousarray(image))
    return atomic_write(path, lambda f: pixels.save(f, format="PNG"), replace=replace)


def output_format(path: str | os.PathLike[str]) -> str:
    """The format :func:`write_image` writes to ``path``, named by its ending (any case):
    ``"PNG"`` (``.png``, or a name without an ending) or ``"JPEG"`` (``.jpg``, ``.jpeg``).

    Raises:
        ValueError: another ending, naming the ones written.
    """
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"{path}: edsr-lite writes PNG (.png) or JPEG (.jpg, .jpeg) images, not {suffix}; "
            "end the name in .png (lossless) or .jpg"
        )
    return OUTPUT_FORMATS[suffix]


def write_image(
    path: str | os.PathLike[str],
    image: np.ndarray,
    alpha: np.ndarray | None = None,
    replace: bool = True,
) -> Path:
    """Write a ``uint8`` image in the format its name ends in (:func:`output_format`): PNG as
    :func:`write_png` does, or JPEG at quality :data:`JPEG_QUALITY` (95). Atomic, as
    :func:`write_png`, and under an inter-process lock on ``path`` (:mod:`filelock`, its lock
    file in the system's temporary folder), so that two processes writing one file take turns.

    Raises:
        ValueError: an ending other than .png/.jpg/.jpeg, an ``alpha`` plane for a JPEG (JPEG
            has no transparency), or an image :func:`write_png` refuses.
        FileExistsError: ``replace=False`` and ``path`` exists.
    """
    fmt = output_format(path)
    if fmt == "JPEG" and alpha is not None:
        raise ValueError(
            f"{path}: the image has transparency, which JPEG cannot store; write a .png instead"
        )
    with FileLock(output_lock_path(path)):
        if fmt == "PNG":
            return write_png(path, image, alpha, replace=replace)
        _check_writable_image(image)
        pixels = Image.fromarray(np.ascontiguousarray(image))

        def save(f) -> None:
            pixels.save(f, format="JPEG", quality=JPEG_QUALITY)

        return atomic_write(path, save, replace=replace)


def output_lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file :func:`write_image` holds while it writes ``path``: named by a hash of
    the resolved path, in ``<temporary folder>/edsr-lite-locks`` (not beside the output, where
    it would be left among the user's images)."""
    key = hashlib.sha256(os.fsencode(Path(path).expanduser().resolve())).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "edsr-lite-locks"
    folder.mkdir(exist_ok=True)
    return folder / f"{key}.lock"


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


def _check_alpha(alpha: np.ndarray, size: tuple[int, ...]) -> None:
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.uint8 or alpha.shape != size:
        got = (
            f"{alpha.dtype} {alpha.shape}"
            if isinstance(alpha, np.ndarray)
            else type(alpha).__name__
        )
        raise ValueError(f"write_png: alpha must be a uint8 {size[0]} x {size[1]} plane, got {got}")


# --------------------------------------------------------------------------------------------
# Images as tensors
# --------------------------------------------------------------------------------------------


def to_tensor(
    images: np.ndarray, device: torch.device | str = "cpu", channels_last: bool = True
) -> torch.Tensor:
    """uint8 H x W x 3 image, or N x H x W x 3 batch -> float32 N x 3 x H x W tensor, 0..255.

    The network's input convention (EDSR works on 0..255 values and subtracts the DIV2K mean
    itself). The result never shares memory with ``images``. ``permute`` only changes strides,
    so the result is in the channels_last memory format (the fastest for convolutions on the
    CPU); ``channels_last=False`` gives a contiguous NCHW tensor. The uint8 data move to
    ``device`` first, as 4 times fewer bytes than float32.
    """
    batch = images[None] if images.ndim == 3 else images
    # torch.from_numpy warns on a read-only array (np.asarray of a PIL image is one): copy
    # such an array first (uint8, a quarter of the float32 copy made below anyway).
    batch = np.ascontiguousarray(batch) if batch.flags.writeable else batch.copy()
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
    tensor = tensor.to(device, non_blocking=True).float()  # .float() copies uint8 data
    return tensor if channels_last else tensor.contiguous()

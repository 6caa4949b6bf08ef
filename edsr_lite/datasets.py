"""The image sets: the benchmarks (Set5, Set14, B100), training sets, and DIV2K on request.

* :func:`find_dataset` says where a set lives (the folders of ``$EDSR_LITE_DATA`` first, then
  the project's own data, :func:`dataset_search_path`), or takes a folder of your own images;
  :func:`list_images` lists a folder's images in name order.
* :func:`benchmark` yields the ``(name, HR, LR)`` triples of a test set, as in the EDSR paper:
  HR mod-cropped to a multiple of the scale, LR its MATLAB-exact bicubic downscale
  (:func:`edsr_lite.core.degradation.downscale`), both uint8.
* :func:`div2k_paths` lists a local copy of DIV2K, the paper's training set;
  :func:`download_div2k` fetches it (train 3.5 GB, valid 0.45 GB, checked against their
  SHA-256 sums), only when you call it.

Images are uint8 arrays as :mod:`edsr_lite.images` reads them. A set that is not found raises
``FileNotFoundError`` saying where it was looked for and how to get it.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from edsr_lite.checks import check_scale
from edsr_lite.core.degradation import downscale, modcrop
from edsr_lite.download import DownloadError, download
from edsr_lite.images import IMAGE_EXTENSIONS, Mode, check_mode, read_image
from edsr_lite.locations import DATA_DIR, data_search_path

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

#: The clone's ``data/``, as the "not found" messages name it.
_CLONE_DATA = "the data/ folder of a clone of the edsr-lite repository"

#: How to get a set that is not found (shown in the error message).
_HOW_TO_GET = {
    "Set5": f"it ships in {_CLONE_DATA} and in the installed package; restore it with git, "
    "or reinstall edsr-lite.",
    "Set14": f"it ships in {_CLONE_DATA} and in the installed package; restore it with git, "
    "or reinstall edsr-lite.",
    "B100": f"it ships in {_CLONE_DATA} (26 MB, not in the installed package): work in a clone, "
    "or copy its data/B100 folder into a folder named by $EDSR_LITE_DATA.",
    "T91": f"it ships in {_CLONE_DATA} (not in the installed package): work in a clone, "
    "or copy its data/T91 folder into a folder named by $EDSR_LITE_DATA.",
    "BSD200": (
        "it does not ship (52 MB). Copy the 200 PNGs of jiny2001/dcscn-super-resolution "
        "data/bsd200/ into a folder BSD200/ inside a folder named by $EDSR_LITE_DATA "
        "(see data/README.md)."
    ),
    "Urban100": (
        "it does not ship (136 MB). Put img_001.png ... img_100.png (majedelhelou/"
        "denoising_datasets CUrban100/) in a folder Urban100/ inside $EDSR_LITE_DATA."
    ),
    "DIV2K": "call edsr_lite.datasets.download_div2k(root) (3.5 GB), then set EDSR_LITE_DATA=root.",
}


def data_dir() -> Path:
    """The project's own data folder: the clone's ``data/`` (Set5, Set14, B100 and T91 ship
    there), or, installed from a wheel, the copy inside the package (Set5 and Set14)."""
    return DATA_DIR


def dataset_search_path() -> list[Path]:
    """The folders :func:`find_dataset` looks in, in order
    (:func:`edsr_lite.locations.data_search_path`).

    1. each folder in ``$EDSR_LITE_DATA`` (several may be given, separated by ``os.pathsep``);
    2. the project's own data (:func:`data_dir`): the clone's ``data/`` in a source checkout,
       else the copy inside the installed package.
    """
    return data_search_path()


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
    raise FileNotFoundError(_not_found_message(name, canonical, places))


def _not_found_message(name: str, canonical: str, places: list[Path]) -> str:
    """Where :func:`find_dataset` looked for a set, and how to get it."""
    looked = "\n".join(f"  {place / canonical}" for place in places)
    if not os.environ.get("EDSR_LITE_DATA"):
        looked += "\n  ($EDSR_LITE_DATA is not set)"
    how = _HOW_TO_GET.get(
        canonical,
        f"{name!r} is not a set this package knows ({', '.join(sorted(_HOW_TO_GET))}); "
        "to use your own images, pass the path of a folder that holds them.",
    )
    return f"image set {name!r} not found. Looked in:\n{looked}\nTo get it: {how}"


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
    check_scale(scale)
    check_mode(mode)
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
    need = 2 * scale + 11  # scale px shaved from each border, then SSIM's 11 x 11 window
    for path in paths:
        image = read_image(path, mode)
        if min(side - side % scale for side in image.shape[:2]) < need:
            raise ValueError(
                f"{path}: {image.shape[1]}x{image.shape[0]} pixels is too small to score at "
                f"x{scale}: cropped to a multiple of {scale}, a side needs at least {need} px "
                f"({scale} shaved from each border, 11 for SSIM's window). Remove it from the set."
            )
        hr = modcrop(image, scale)
        yield path.stem, hr, downscale(hr, scale)


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
        f"Run edsr_lite.datasets.download_div2k({str(root)!r}, {split!r}) (downloads "
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
    0.45 GB) is downloaded into ``root/<name>.zip.part`` (:func:`edsr_lite.download.download`).
    If that is interrupted, calling again resumes where it stopped (HTTP Range request). The
    finished zip is checked against its sha256 (:data:`DIV2K_SPLITS`), extracted into a hidden
    staging folder, checked for all expected files, and only then renamed to
    ``root/DIV2K_<split>_HR``: a half-done extraction is never mistaken for the data set.

    Args:
        root: the folder to put ``DIV2K_train_HR/`` (or ``DIV2K_valid_HR/``) in.
        split: ``"train"`` (0001..0800) or ``"valid"`` (0801..0900).
        progress: show a progress bar.
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
    zip_path = root / spec.zip_name  # a zip there (kept, or fetched by hand) is checked, used
    sha256 = spec.zip_sha256 if expected_sha256 is None else expected_sha256
    url = base_url.rstrip("/") + "/" + spec.zip_name
    download(url, zip_path, sha256, progress=progress, timeout=timeout)
    _extract_split(zip_path, root, spec)
    if not keep_zip:
        zip_path.unlink()
    return div2k_paths(root, split)


def _div2k_split(split: str) -> Div2kSplit:
    if split not in DIV2K_SPLITS:
        raise ValueError(f'split must be "train" or "valid", got {split!r}')
    return DIV2K_SPLITS[split]


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

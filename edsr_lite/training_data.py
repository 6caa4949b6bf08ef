"""The training set of a run: HR images read from folders, their LR versions made once, cached.

1. Read every HR image of the training folder (T91, BSD200, DIV2K, or your own) as uint8 RGB.
2. For each scale ``s``: crop the HR image to a multiple of ``s`` and make its LR version *once*
   with MATLAB's bicubic ``imresize(HR, 1/s)`` (:mod:`edsr_lite.core.degradation`). The pairs
   are cached (in memory, or as ``.npy`` files on disk for large sets) so that making a
   minibatch is only cropping and flipping, never resizing: loading data then costs well under
   1% of a step.
3. Each minibatch: :func:`edsr_lite.core.patches.sample_patches` (the paper's 48 x 48 LR
   patches and the 8 symmetries), through :meth:`TrainingSet.sample`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from edsr_lite.core.degradation import downscale, modcrop
from edsr_lite.core.patches import PATCH_SIZE, sample_patches
from edsr_lite.datasets import benchmark, find_dataset, list_images
from edsr_lite.files import atomic_write
from edsr_lite.images import IMAGE_EXTENSIONS, ImageReadError, read_image

CacheMode = Literal["auto", "memory", "disk"]

#: ``cache="auto"`` keeps a set in memory up to this many bytes (HR + all LR), else on disk.
MEMORY_CACHE_LIMIT = 4 * 2**30

#: Test sets: training on them would make every benchmark number meaningless.
BENCHMARK_SETS = ("Set5", "Set14", "B100", "Urban100")


class SkippedImagesWarning(UserWarning):
    """Some training images could not be used (unreadable, or smaller than a patch)."""


#: The kinds of problem a skipped file has (``TrainingSet.skipped[i]["kind"]``).
UNREADABLE, TOO_SMALL = "unreadable", "too_small"


# --------------------------------------------------------------------------------------------
# The training set
# --------------------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    """HR images and their LR versions at each scale, ready for patch sampling.

    ``pairs[s]`` lists ``(hr, lr)`` uint8 arrays for scale ``s``: HR (s*h) x (s*w) x 3
    (mod-cropped), LR h x w x 3. Arrays are in memory, or read-only memory maps of ``.npy``
    files (``cache="disk"``). Images smaller than a patch at a scale are left out of that scale.

    Every image file found is counted once: used (at a scale), too small (for that scale) or
    unreadable (at every scale): :meth:`report` and :func:`describe_counts` keep them apart.
    """

    folders: list[Path]  # the HR folders the images came from, in order
    patch_size: int
    pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    names: list[str]  # the images read (used at some scale, or too small at all of them)
    # {"file", "reason", "kind": UNREADABLE | TOO_SMALL, "scale" (too small only)} per problem
    skipped: list[dict] = field(default_factory=list)
    cache: str = "memory"
    shard: tuple[int, int] = (0, 1)  # (rank, world_size): this process's part of the folder
    files: int | None = None  # image files found (this shard's); None: len(names) + unreadable
    # {"set": the name or path as given, "folder": where it was found}, in order
    sources: list[dict] = field(default_factory=list)

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(self.pairs)

    def sample(
        self, scale: int, batch_size: int, rng: np.random.Generator, augment_patches: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """A minibatch of random patches: uint8 LR N x p x p x 3 and HR N x sp x sp x 3.

        Each patch comes from an image drawn uniformly (with replacement), at a uniform random
        position, then one of the 8 flips/rotations if ``augment_patches``.
        """
        return sample_patches(
            self.pairs[scale], scale, batch_size, self.patch_size, rng, augment_patches
        )

    def report(self) -> dict:
        """Plain-data summary for logs and checkpoint metadata (run.json's ``data``).

        ``files``: image files found; ``images``: those read; ``unreadable``: those that could
        not be read; ``used`` and ``too_small``: per scale (``{"x2": 2}``), the images kept and
        those whose LR version is smaller than a patch. ``used + too_small + unreadable ==
        files`` at every scale. ``sets``: each set as given and the folder it was found in.
        """
        unreadable = sum(s.get("kind") == UNREADABLE for s in self.skipped)
        too_small = {f"x{s}": 0 for s in self.pairs}
        for problem in self.skipped:
            if problem.get("kind") == TOO_SMALL:
                too_small[f"x{problem['scale']}"] += 1
        return {
            "sets": [dict(source) for source in self.sources],
            "folders": [str(f) for f in self.folders],
            "files": len(self.names) + unreadable if self.files is None else self.files,
            "images": len(self.names),
            "unreadable": unreadable,
            "used": {f"x{s}": len(p) for s, p in self.pairs.items()},
            "too_small": too_small,
            "patch_size_lr": self.patch_size,
            "cache": self.cache,
            "shard": list(self.shard),
            "skipped": list(self.skipped),
        }


def resolve_training_folder(data: str | os.PathLike[str]) -> Path:
    """The folder of HR training images for a set name ("T91", "BSD200", "DIV2K") or a path.

    A DIV2K root holding ``DIV2K_train_HR/`` resolves to that folder. Refuses the benchmark
    test sets (Set5, Set14, B100, Urban100): never train on what you measure on.
    """
    folder = find_dataset(data)
    if not list_images(folder) and (folder / "DIV2K_train_HR").is_dir():
        folder = folder / "DIV2K_train_HR"
    check_not_benchmark(folder)
    return folder


def check_not_benchmark(folder: Path) -> None:
    """Raise ValueError if ``folder`` is one of the benchmark test sets."""
    resolved = folder.resolve()
    for name in BENCHMARK_SETS:
        try:
            is_benchmark = find_dataset(name).resolve() == resolved
        except FileNotFoundError:
            is_benchmark = False
        if is_benchmark or folder.name.lower() in (name.lower(), "bsd100"):
            raise ValueError(
                f"{folder} is the {name} benchmark: training on a test set makes its PSNR "
                "meaningless. Train on T91, BSD200 or DIV2K (or your own images) instead."
            )


def load_training_set(
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    scales: Sequence[int],
    patch_size: int = PATCH_SIZE,
    cache: CacheMode = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] = (0, 1),
    exclude: Sequence[str] = (),
) -> TrainingSet:
    """Read the HR images of ``data`` and make their LR versions at every scale, once.

    Args:
        data: a set name ("T91", "BSD200", "DIV2K") or a folder of images, or a list of them
            (``["T91", "BSD200"]``: the 291 images VDSR trained on), used together.
        scales: the scales to prepare, e.g. ``[2]`` or ``[2, 3, 4]``.
        patch_size: LR patch side; images with an LR side smaller than this are skipped.
        cache: ``"memory"`` (arrays in RAM), ``"disk"`` (``.npy`` files in ``cache_dir``,
            memory-mapped, reused by later runs) or ``"auto"`` (memory below
            :data:`MEMORY_CACHE_LIMIT` bytes, else disk).
        cache_dir: where ``.npy`` files go (needed for ``"disk"``; ``"auto"`` falls back to
            memory without one).
        shard: ``(rank, world_size)``: this process takes images ``rank, rank + world_size, ...``
            of the sorted list, so distributed processes each see their own part.
        exclude: file names (``"t10.png"``) left out of training: the held-out validation
            images (:func:`load_holdout_set`).

    Unreadable images, and images whose LR version at a scale is smaller than a patch (left
    out of that scale only), are skipped and reported (a :class:`SkippedImagesWarning`, and
    :attr:`TrainingSet.skipped`). Raises ValueError if no image is usable at some scale.
    """
    given = as_data_list(data)
    folders = [resolve_training_folder(d) for d in given]
    sources = [{"set": str(d), "folder": str(f)} for d, f in zip(given, folders, strict=True)]
    where = ", ".join(str(f) for f in folders)
    paths = _my_shard(_list_training_images(folders, exclude), shard, where)
    mode = _choose_cache(cache, paths, scales, cache_dir)
    pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {int(s): [] for s in scales}
    names, skipped = [], []
    for path in paths:
        try:
            images = _load_pairs(path, scales, mode, cache_dir)  # {scale: (hr, lr)}
        except ImageReadError as err:
            skipped.append(_unreadable(path, err))
            continue
        names.append(path.stem)
        for s, (hr, lr) in images.items():
            if min(lr.shape[:2]) >= patch_size:  # a whole patch fits in the LR image
                pairs[s].append((hr, lr))
            else:
                skipped.append(_too_small(path, lr, s, patch_size))
    found = TrainingSet(
        folders, patch_size, pairs, names, skipped, mode, tuple(shard), len(paths), sources
    )
    _report_skipped(where, found)
    _refuse_empty_scales(pairs, where, describe_counts(found.report()), patch_size)
    return found


def as_data_list(data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list:
    """``data`` as a non-empty list of set names / folders (one name becomes a list of one)."""
    items = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not items:
        raise ValueError("no training data given: name a set (T91, BSD200, DIV2K) or a folder")
    return items


# --------------------------------------------------------------------------------------------
# The bookkeeping of load_training_set: which files, which cache, what was skipped
# --------------------------------------------------------------------------------------------


def _list_training_images(folders: Sequence[Path], exclude: Sequence[str]) -> list[Path]:
    """The image files of ``folders``, folder by folder, each in name order, less the held-out
    file names in ``exclude``. Raises ValueError for a folder with none."""
    excluded = set(exclude)
    paths = []
    for folder in folders:
        found = [p for p in list_images(folder) if p.name not in excluded]
        if not found:
            raise ValueError(
                f"no usable training image: {folder} holds no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}). Point --data at a folder of HR images."
            )
        paths += found
    return paths


def _my_shard(paths: list[Path], shard: tuple[int, int], where: str) -> list[Path]:
    """This process's part of ``paths``: with ``shard = (rank, world_size)``, images ``rank,
    rank + world_size, ...``, so that distributed processes each see their own images."""
    rank, world_size = shard
    if len(paths) < world_size:
        raise ValueError(
            f"{where} hold(s) {len(paths)} image(s), fewer than the {world_size} processes "
            "that share them; add images or use fewer processes"
        )
    return paths[rank::world_size]


def _too_small(path: Path, lr: np.ndarray, scale: int, patch_size: int) -> dict:
    """The ``skipped`` entry of an image whose LR version at ``scale`` is smaller than a patch."""
    size = f"LR {lr.shape[1]}x{lr.shape[0]} at x{scale} < patch {patch_size}"
    reason = f"too small for x{scale}: {size}"
    return {"file": path.name, "reason": reason, "kind": TOO_SMALL, "scale": int(scale)}


def _unreadable(path: Path, err: ImageReadError) -> dict:
    """The ``skipped`` entry of a file that is not a readable image. The reason leaves out the
    folder (the message starts with the path): a run record names no machine's folders."""
    reason = str(err).removeprefix(f"{path}: ")
    return {"file": path.name, "reason": reason, "kind": UNREADABLE}


def _report_skipped(where: str, found: TrainingSet) -> None:
    """Warn (:class:`SkippedImagesWarning`, at the caller of :func:`load_training_set`) with the
    counts and the first 20 skipped files and why, so that a broken or tiny image is never
    dropped silently."""
    skipped = found.skipped
    if skipped:
        lines = "\n".join(f"  {s['file']}: {s['reason']}" for s in skipped[:20])
        more = f"\n  ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""
        warnings.warn(
            f"training data {where}: {describe_counts(found.report())}; skipped:\n{lines}{more}",
            SkippedImagesWarning,
            stacklevel=3,
        )


def _refuse_empty_scales(
    pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]], where: str, read: str, patch_size: int
) -> None:
    """Raise ValueError if some scale kept no image: training at it could never draw a patch."""
    for s, usable in pairs.items():
        if not usable:
            raise ValueError(
                f"no usable training image in {where} for x{s} ({read}; LR patches are "
                f"{patch_size}x{patch_size}). Check the folder, or lower patch_size."
            )


def _choose_cache(
    cache: str, paths: list[Path], scales: Sequence[int], cache_dir: str | os.PathLike | None
) -> str:
    """Resolve ``"auto"`` to ``"memory"`` or ``"disk"`` from the set's estimated size."""
    if cache not in ("auto", "memory", "disk"):
        raise ValueError(f'cache must be "auto", "memory" or "disk", got {cache!r}')
    if cache == "disk" and cache_dir is None:
        raise ValueError('cache="disk" needs a cache_dir for its .npy files')
    if cache != "auto":
        return cache
    if cache_dir is None:
        return "memory"
    # HR pixels x 3 bytes, plus the LR images (1/s^2 of that each). Only file headers are read.
    factor = 1 + sum(1 / s**2 for s in scales)
    total = sum(_pixels(p) * 3 * factor for p in paths)
    return "memory" if total <= MEMORY_CACHE_LIMIT else "disk"


def _pixels(path: Path) -> int:
    try:
        with Image.open(path) as image:
            return image.width * image.height
    except Exception:  # a bad file is reported when it is read for real
        return 0


def _load_pairs(
    path: Path, scales: Sequence[int], mode: str, cache_dir: str | os.PathLike | None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{s: (hr, lr)}`` for one image; HR arrays are views of one array shared by all scales."""
    if mode == "disk":
        return _load_pairs_from_disk(path, scales, Path(cache_dir))
    hr = read_image(path)
    return {int(s): _pair(hr, s) for s in scales}


def _pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, its MATLAB-bicubic LR), both uint8."""
    hr = modcrop(hr, scale)
    return hr, downscale(hr, scale)


def _load_pairs_from_disk(
    path: Path, scales: Sequence[int], cache_dir: Path
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Like :func:`_load_pairs`, through ``.npy`` files named after the source file's identity.

    The key hashes the file's absolute path, size and modification time, so an edited image
    gets new cache files. Missing files are made (written to a temporary name, then renamed).
    """
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    stem = f"{path.stem}-{hashlib.sha1(ident).hexdigest()[:12]}"
    files = {"hr": cache_dir / f"{stem}-hr.npy"}
    files.update({f"x{s}": cache_dir / f"{stem}-lr-x{s}.npy" for s in scales})
    if not all(f.is_file() for f in files.values()):
        hr = read_image(path)
        _save_npy(files["hr"], hr)
        for s in scales:
            _save_npy(files[f"x{s}"], _pair(hr, s)[1])
    hr = np.load(files["hr"], mmap_mode="r")
    return {int(s): (modcrop(hr, s), np.load(files[f"x{s}"], mmap_mode="r")) for s in scales}


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array))


# --------------------------------------------------------------------------------------------
# The counts of a training set, in words (the warning above, edsr-lite info)
# --------------------------------------------------------------------------------------------


def training_counts(report: Mapping) -> dict:
    """``{"files", "unreadable", "used", "too_small"}`` of a training set's report
    (:meth:`TrainingSet.report`, run.json's ``data``), also from records written before the
    counts were kept apart: their ``skipped`` reasons say which problem each file had.

    ``used`` and ``too_small`` map ``"x2"`` to a count; ``used`` is ``{}`` when the record
    does not say; a too-small file of an old record that names no scale counts under ``"x?"``;
    ``files`` is None when the record does not say. Entries that are not counts are ignored
    (a record edited by hand may hold anything).
    """
    skipped = [p for p in _list(report.get("skipped")) if isinstance(p, Mapping)]
    unreadable, too_small = _count(report.get("unreadable")), _counts(report.get("too_small"))
    if unreadable is None:  # an older record: {"file", "reason"} entries only
        unreadable, too_small = 0, {}
        for problem in skipped:
            reason = str(problem.get("reason", ""))
            if not reason.startswith("too small"):
                unreadable += 1
                continue
            scale = reason.removeprefix("too small for ").split(":")[0].strip()
            key = scale if scale.startswith("x") and scale[1:].isdigit() else "x?"
            too_small[key] = too_small.get(key, 0) + 1
        too_small = dict(sorted(too_small.items(), key=lambda kv: (len(kv[0]), kv[0])))
    used = _counts(report.get("used")) or _counts(report.get("per_scale"))
    files, images = _count(report.get("files")), _count(report.get("images"))
    if files is None and images is not None:
        files = images + unreadable
    return {"files": files, "unreadable": unreadable, "used": used, "too_small": too_small}


def _count(value: object) -> int | None:
    """``value`` if it is a count (a whole number, not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _counts(value: object) -> dict[str, int]:
    """The ``{"x2": count}`` entries of ``value`` that are counts (``{}`` for anything else)."""
    items = value.items() if isinstance(value, Mapping) else ()
    return {str(k): n for k, n in items if _count(n) is not None}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def describe_counts(report: Mapping) -> str:
    """A training set's counts in words: ``"4 images (2 used, 1 too small for x2, 1
    unreadable)"``; with several scales ``"291 images (290 used for x2, 274 for x3; 1 too
    small for x2, 17 for x3)"``. Used, too small and unreadable are never lumped together."""
    counts = training_counts(report)
    small = {k: n for k, n in counts["too_small"].items() if n}
    groups = [_per_scale("used", counts["used"])] if counts["used"] else []
    groups += [_per_scale("too small", small)] if small else []
    groups += [f"{counts['unreadable']} unreadable"] if counts["unreadable"] else []
    total = "images" if counts["files"] is None else f"{counts['files']} images"
    if groups == [f"{counts['files']} used"]:
        return total  # nothing skipped
    separator = "; " if any(", " in g for g in groups) else ", "
    return f"{total} ({separator.join(groups)})" if groups else total


def _per_scale(what: str, counts: Mapping[str, int]) -> str:
    """``"2 used"``, ``"1 too small for x2"``, ``"290 used for x2, 274 for x3"``."""
    if what == "used" and len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} used"  # the same at every scale
    (scale, n), *rest = counts.items()
    first = f"{n} {what}" + (f" for {scale}" if scale != "x?" else "")
    return ", ".join([first, *(f"{m} for {k}" for k, m in rest)])


# --------------------------------------------------------------------------------------------
# Validation set
# --------------------------------------------------------------------------------------------


def load_holdout_set(
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    names: Sequence[str],
    scales: Sequence[int],
    max_images: int | None = None,
) -> dict[int, list[tuple[str, np.ndarray, np.ndarray]]]:
    """``{s: [(image name, HR, LR), ...]}``: the training images named in ``names`` (file names,
    e.g. ``"t10.png"``), held out of training (``load_training_set(exclude=names)``) to
    validate on, in the order of ``names``; those not in ``data`` are left out (T91 alone holds
    5 of the default 10). HR mod-cropped, LR by MATLAB bicubic, uint8, as for a benchmark.

    Raises ValueError if none of ``names`` is in ``data``.
    """
    folders = [resolve_training_folder(d) for d in as_data_list(data)]
    found = {p.name: p for folder in folders for p in list_images(folder)}
    paths = [found[n] for n in names if n in found][:max_images]
    if not paths:
        raise ValueError(
            f"val_data: holdout validates on the training images named in val_holdout, and none "
            f"of them ({', '.join(names) or 'an empty list'}) is in the training data "
            f"{data}. List some of its file names in val_holdout, or name a validation set "
            "with val_data (e.g. a folder of images; Set5 is a test set: for reporting)."
        )
    return {int(s): [(p.stem, *_pair(read_image(p), int(s))) for p in paths] for s in scales}


def load_validation_set(
    name: str | os.PathLike[str], scales: Sequence[int], max_images: int | None = None
) -> dict[int, list[tuple[str, np.ndarray, np.ndarray]]]:
    """``{s: [(image name, HR, LR), ...]}``: a benchmark set prepared once for validation.

    Same protocol as the paper's evaluation (:func:`edsr_lite.datasets.benchmark`): HR mod-cropped,
    LR by MATLAB bicubic, uint8. ``max_images`` keeps the first N images (sorted by name), for
    faster validation during training.
    """
    if max_images is not None and max_images < 1:
        raise ValueError(f"val_images must be at least 1, got {max_images}")
    val = {}
    for s in scales:
        items = []
        for item in benchmark(name, int(s)):
            if max_images is not None and len(items) >= max_images:
                break
            items.append(item)
        val[int(s)] = items
    return val

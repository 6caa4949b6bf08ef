"""Evaluation: a method's mean PSNR/SSIM on the benchmark sets, under one of two protocols.

Each image is scored with :func:`edsr_lite.core.metrics.psnr` and
:func:`edsr_lite.core.metrics.ssim` (the Y of MATLAB's ``rgb2ycbcr``, ``scale`` border pixels
shaved, peak 255, the SSIM of Wang et al. 2004); a set's score (:func:`set_score`) is the **mean
of the per-image scores** (not the PSNR of the mean squared error).  What differs between papers
is how the LR input and the SR output are made: two *protocols*, which differ by about 0.1 dB on
Set14, so every result row names its own.

``"model"`` (:func:`evaluate_model_protocol`), EDSR's protocol, for any method
    Everything stays 8-bit RGB: HR read as uint8 RGB (a gray image becomes three equal
    channels) and mod-cropped; LR = MATLAB-exact bicubic ``imresize`` of HR, uint8; the method
    returns uint8 RGB; scores on the unrounded Y of SR and HR.
``"paper_bicubic"`` (:func:`evaluate_paper_bicubic`), only for bicubic upscaling
    The Y-plane recipe of the SRCNN/VDSR MATLAB scripts behind the "Bicubic" column that EDSR's
    Table 6 copies; it reproduces all nine published pairs
    (:data:`edsr_lite.core.published.PAPER_BICUBIC`) within 0.01 dB and 0.001 SSIM. How it was
    found: ``docs/protocol.md``.

Main functions: :func:`evaluate` (``"bicubic"``, a function ``fn(lr, scale) -> sr`` or a
network, which runs through :class:`edsr_lite.infer.Upscaler`, the code ``edsr-lite upscale``
runs) and :func:`format_table` (rows as the papers print them). Scoring a checkpoint file as
``edsr-lite eval`` does, and how long that takes: :mod:`edsr_lite.checkpoint_eval`.

Example::

    >>> from edsr_lite.evaluation import evaluate, format_table
    >>> rows = evaluate("bicubic", sets=("Set5",), protocol="paper_bicubic")  # doctest: +SKIP
    >>> print(format_table(rows))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from edsr_lite.checks import is_int
from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import psnr, rgb_to_y, ssim
from edsr_lite.datasets import benchmark, find_dataset, list_images
from edsr_lite.images import read_image
from edsr_lite.infer import Upscaler, model_scales
from edsr_lite.progress import progress_bar


class Protocol(str, Enum):
    """The two evaluation protocols (see the module docstring)."""

    MODEL = "model"
    PAPER_BICUBIC = "paper_bicubic"


class ImageScore(NamedTuple):
    """PSNR (dB) and SSIM of one image."""

    name: str
    psnr: float
    ssim: float


# ---------------------------------------------------------------------------------------------
# The two protocols
# ---------------------------------------------------------------------------------------------

#: A super-resolution method: ``fn(lr, scale) -> sr`` with uint8 H x W x 3 RGB in and uint8
#: (scale*H) x (scale*W) x 3 RGB out.
SRFunction = Callable[[np.ndarray, int], np.ndarray]


def _matlab_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8(x)`` as float64: clip to 0..255, round halves away from zero."""
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5)


def bicubic_sr(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline as an :data:`SRFunction`: MATLAB ``imresize(lr, scale, 'bicubic')``
    on the uint8 RGB image (uint8 out, each 1-D pass rounded as MATLAB does)."""
    return imresize(lr, scale)


def evaluate_model_protocol(
    sr_fn: SRFunction, set_name: str, scale: int, progress: bool = False
) -> list[ImageScore]:
    """Score an SR method on one benchmark set with protocol ``"model"`` (EDSR's protocol).

    Recipe, for each image of the set:

    1. HR: the image read as uint8 RGB (a gray image, e.g. Set14's ``bridge``, becomes three
       equal channels), mod-cropped to a multiple of ``scale``.
    2. LR: MATLAB ``imresize(HR, 1/scale, 'bicubic')`` on uint8, so uint8 RGB
       (:func:`edsr_lite.datasets.benchmark` does steps 1-2).
    3. SR: ``sr_fn(LR, scale)``, which must return uint8 RGB of HR's shape.
    4. :func:`psnr` and :func:`ssim` on the unrounded Y of SR and HR, shave = ``scale``.

    This is what EDSR's code reports for networks.  For the bicubic baseline it gives slightly
    *higher* numbers than the published "Bicubic" column (protocol ``"paper_bicubic"``),
    mostly because of gray images: here a gray image is scored on
    ``Y = 16 + 219/255 * gray``, which shrinks its errors by 219/255 (+1.32 dB for ``bridge``,
    about +0.09 dB on the Set14 mean), while the old scripts scored it on the gray values.
    """
    scores = []
    items = benchmark(set_name, scale, mode="rgb")
    if progress:
        total = len(list_images(find_dataset(set_name)))
        items = progress_bar(items, f"{set_name} x{scale}", total)
    for name, hr, lr in items:
        sr = np.asarray(sr_fn(lr, scale))
        if sr.dtype != np.uint8:
            raise TypeError(
                f"protocol 'model' expects the method to return uint8 RGB, got {sr.dtype} "
                f"for {set_name}/{name}; round and clip the output to 0..255 first"
            )
        scores.append(ImageScore(name, psnr(sr, hr, scale), ssim(sr, hr, scale)))
    return scores


def evaluate_paper_bicubic(set_name: str, scale: int, progress: bool = False) -> list[ImageScore]:
    """Score bicubic upscaling on one set with protocol ``"paper_bicubic"``.

    This reproduces the "Bicubic" column that EDSR's Table 6 copies from VDSR (whose
    MATLAB scripts follow SRCNN's ``demo_SR.m``).  Those scripts never touch RGB:

    1. Read the HR file as stored (``mode="keep"``) and mod-crop it to a multiple of ``scale``.
    2. RGB images: take Y with MATLAB ``rgb2ycbcr`` on uint8, which *returns uint8*, so Y is
       **rounded** to integers.  Gray images (Set14's ``bridge``) use their gray values as Y.
    3. Convert to floating point and downscale with ``imresize(Y, 1/scale, 'bicubic')``.  The LR
       image is **not rounded** (it never exists as an 8-bit file).
    4. Upscale back with ``imresize(LR, scale, 'bicubic')`` in floating point.
    5. **Round** SR to integers and clip to 0..255 (``uint8(im_b * 255)`` in ``demo_SR.m``).
    6. :func:`psnr` / :func:`ssim` of SR against the rounded Y, shave = ``scale`` pixels.

    It reproduces Set5 to every printed digit (33.66/0.9299, 30.39/0.8682, 28.42/0.8104), B100
    to within one unit of the last digit, and Set14 within 0.01 dB / 0.0009 SSIM: all nine
    pairs of :data:`edsr_lite.core.published.PAPER_BICUBIC` within 0.01 dB and 0.001
    (``tests/test_protocol.py``).  Why these three rounding choices and this shave, and how
    much each detail moves the numbers: ``docs/protocol.md``.
    """
    scores = []
    paths = list_images(find_dataset(set_name))
    if progress:
        paths = progress_bar(paths, f"{set_name} x{scale}")
    for path in paths:
        hr = modcrop(read_image(path, mode="keep"), scale)
        # MATLAB rgb2ycbcr on uint8 returns uint8: Y is rounded.  Gray images are used as is.
        hr_y = _matlab_uint8(rgb_to_y(hr)) if hr.ndim == 3 else hr.astype(np.float64)
        lr_y = imresize(hr_y, 1 / scale)
        sr_y = _matlab_uint8(imresize(lr_y, scale))
        scores.append(ImageScore(Path(path).stem, psnr(sr_y, hr_y, scale), ssim(sr_y, hr_y, scale)))
    return scores


# ---------------------------------------------------------------------------------------------
# Evaluating a method: the checks, then one protocol per (set, scale)
# ---------------------------------------------------------------------------------------------


def evaluate(
    model_or_fn: str | SRFunction | torch.nn.Module,
    sets: Sequence[str] = ("Set5", "Set14", "B100"),
    scales: Sequence[int] = (2, 3, 4),
    protocol: str | Protocol = "model",
    progress: bool = False,
    ensemble: bool = False,
    device: str | torch.device | None = None,
) -> list[dict]:
    """Evaluate a method on benchmark sets and scales; one result row per (set, scale).

    Args:
        model_or_fn: ``"bicubic"``; a callable ``fn(lr_uint8_rgb, scale) -> sr_uint8_rgb``; or an
            EDSR/MDSR network, run as ``edsr-lite upscale`` runs it: by
            :class:`edsr_lite.infer.Upscaler` (eval mode, then its previous mode again; tiled
            above the memory budget, with the same pixels; output rounded to uint8).
        sets: benchmark names known to :func:`edsr_lite.datasets.find_dataset`.
        scales: integer scale factors (a network must have each of them).
        protocol: ``"model"`` (any method) or ``"paper_bicubic"`` (only ``"bicubic"``); see the
            module docstring.
        progress: show a progress bar per (set, scale).
        ensemble: a network only: the x8 self-ensemble (the paper's "+"; method name + "+").
        device: a network only: where it runs; default: where its parameters are.

    Returns:
        A list of dicts with keys ``method``, ``protocol``, ``set``, ``scale``, ``psnr`` (mean
        dB over the images), ``ssim`` (mean), ``n_images``.
    """
    protocol = _protocol(protocol)
    _check_method(model_or_fn, protocol, ensemble)
    check_scales(scales)
    check_set_sizes(sets, scales)  # every image, before any is scored
    sr_fn = _sr_function(model_or_fn, ensemble, device)
    method = _method_name(model_or_fn, ensemble)
    rows = []
    for set_name in sets:
        for scale in scales:
            if protocol is Protocol.PAPER_BICUBIC:
                scores = evaluate_paper_bicubic(set_name, scale, progress)
            else:
                scores = evaluate_model_protocol(sr_fn, set_name, scale, progress)
            rows.append(set_score(scores, method, protocol, set_name, scale))
    return rows


def check_scales(scales: Sequence[int]) -> None:
    """Refuse a scale below 2 (x1 is no upscaling: every method scores an infinite PSNR) or not
    a whole number, as ``edsr-lite upscale`` does."""
    for scale in scales:
        if not is_int(scale) or scale < 2:
            raise ValueError(
                f"scale {scale!r}: a scale is a whole number, 2 or more (2, 3, 4, ...); x1 is no "
                "upscaling (every method would score an infinite PSNR)"
            )


def check_set_sizes(sets: Sequence[str], scales: Sequence[int]) -> None:
    """Refuse, before any image is scored, a set holding an image too small to score at one of
    ``scales``: cropped to a multiple of the scale, each side needs ``2 * scale + 11`` pixels
    (the shaved borders and SSIM's 11 x 11 window). Sizes are read from the file headers; a
    file that cannot be read is left for scoring to report."""
    from PIL import Image

    for set_name in sets:
        for path in list_images(find_dataset(set_name)):
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except (OSError, ValueError, Image.DecompressionBombError):
                continue
            for scale in scales:
                need = 2 * scale + 11
                if min(width - width % scale, height - height % scale) < need:
                    raise ValueError(
                        f"{path}: {width}x{height} pixels is too small to score at x{scale}: "
                        f"cropped to a multiple of {scale}, a side needs at least {need} px "
                        f"({scale} shaved from each border, 11 for SSIM's window). Remove it "
                        "from the set; nothing was scored."
                    )


def rows_as_json(rows: Sequence[dict]) -> str:
    """:func:`evaluate` rows as JSON text (indented): an infinite or NaN score, which JSON
    cannot hold (``json.dumps`` would write ``Infinity``, which JSON readers refuse), is
    ``null``; :func:`format_table` shows it as ``inf``. A PSNR is infinite when every image of
    a set is reproduced exactly (a flat image, for one)."""

    def finite(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    clean = [{key: finite(value) for key, value in row.items()} for row in rows]
    return json.dumps(clean, indent=2, allow_nan=False)


def set_score(
    scores: Sequence[ImageScore], method: str, protocol: Protocol, set_name: str, scale: int
) -> dict:
    """One result row: the **mean of the per-image scores** (not the PSNR of the mean squared
    error), as the papers' MATLAB code averages; the keys :func:`evaluate` returns."""
    if not scores:
        raise ValueError(f"no images found for set {set_name!r}")
    return {
        "method": method,
        "protocol": protocol.value,
        "set": set_name,
        "scale": int(scale),
        "psnr": float(np.mean([s.psnr for s in scores])),
        "ssim": float(np.mean([s.ssim for s in scores])),
        "n_images": len(scores),
    }


def _protocol(protocol: str | Protocol) -> Protocol:
    """``protocol`` as a :class:`Protocol`, or a ValueError naming the known ones."""
    try:
        return Protocol(protocol)
    except ValueError:
        known = ", ".join(repr(p.value) for p in Protocol)
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {known}") from None


def _method_name(model_or_fn: Any, ensemble: bool = False) -> str:
    """The ``method`` column: ``"bicubic"``, a network's class name (+ ``"+"`` under
    self-ensemble) or a function's name."""
    if isinstance(model_or_fn, str):
        return model_or_fn
    if isinstance(model_or_fn, torch.nn.Module):
        return type(model_or_fn).__name__ + ("+" if ensemble else "")
    return getattr(model_or_fn, "__name__", type(model_or_fn).__name__)


def _check_method(model_or_fn: Any, protocol: Protocol, ensemble: bool) -> None:
    """Refuse a method that ``protocol`` (or ``ensemble``) does not apply to, saying why."""
    if isinstance(model_or_fn, str) and model_or_fn != "bicubic":
        raise ValueError(f"unknown method {model_or_fn!r}; the only named method is 'bicubic'")
    if protocol is Protocol.PAPER_BICUBIC and model_or_fn != "bicubic":
        raise ValueError(
            "protocol 'paper_bicubic' rebuilds the published bicubic column on the Y plane and "
            "is only defined for model_or_fn='bicubic'; evaluate networks and other methods "
            "with protocol='model'"
        )
    if not (isinstance(model_or_fn, str) or callable(model_or_fn)):
        raise TypeError(f"expected 'bicubic', a callable or an nn.Module, got {model_or_fn!r}")
    if ensemble and not isinstance(model_or_fn, torch.nn.Module):
        raise ValueError("ensemble=True needs a network (the x8 self-ensemble runs the model)")
    if isinstance(model_or_fn, torch.nn.Module):
        try:
            model_scales(model_or_fn)
        except TypeError as exc:
            raise TypeError(
                f"{exc}; evaluate() runs networks through edsr_lite.infer.Upscaler: pass any "
                "other method as a function fn(lr, scale) -> sr (uint8 RGB in and out)"
            ) from None


def _sr_function(
    model_or_fn: str | SRFunction | torch.nn.Module,
    ensemble: bool,
    device: str | torch.device | None,
) -> SRFunction:
    """The method as ``fn(lr, scale) -> sr``: a network runs through an :class:`Upscaler`."""
    if isinstance(model_or_fn, str):
        return bicubic_sr
    if not isinstance(model_or_fn, torch.nn.Module):
        return model_or_fn
    if device is None:  # stay where the model is
        param = next(model_or_fn.parameters(), None)
        device = param.device if param is not None else "cpu"
    return Upscaler(model_or_fn, ensemble=ensemble, device=device)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def format_table(
    rows: Sequence[dict], reference: dict[tuple[str, int], tuple[float, float]] | None = None
) -> str:
    """Render :func:`evaluate` rows as a markdown table: sets as rows, scales as columns,
    cells "PSNR / SSIM" (dB to 2 decimals, SSIM to 4, as in the papers).

    If the rows come from several methods or protocols, a first column names them.  With
    ``reference`` (e.g. :data:`PAPER_BICUBIC`) each cell also shows the published value.
    Missing (set, scale) pairs are shown as "-".
    """
    groups: dict[tuple[str, str], dict[tuple[str, int], dict]] = {}
    sets: list[str] = []
    scales: list[int] = []
    for row in rows:
        key = (row.get("method", ""), row.get("protocol", ""))
        groups.setdefault(key, {})[(row["set"], row["scale"])] = row
        if row["set"] not in sets:
            sets.append(row["set"])
        if row["scale"] not in scales:
            scales.append(row["scale"])
    scales.sort()
    several = len(groups) > 1

    header = (["Method (protocol)"] if several else []) + ["Set"] + [f"×{s}" for s in scales]
    align = (["---"] if several else []) + ["---"] + ["---:"] * len(scales)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for (method, protocol), cells in groups.items():
        for set_name in sets:
            if not any((set_name, s) in cells for s in scales):
                continue
            out = [f"{method} ({protocol})"] if several else []
            out.append(set_name)
            for s in scales:
                row = cells.get((set_name, s))
                cell = "-" if row is None else f"{row['psnr']:.2f} / {row['ssim']:.4f}"
                if reference is not None and (set_name, s) in reference:
                    p, q = reference[(set_name, s)]
                    cell += f" (paper {p:.2f} / {q:.4f})"
                out.append(cell)
            lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines)

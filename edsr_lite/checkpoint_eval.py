"""Scoring a checkpoint, as ``edsr-lite eval`` does, and how long that will take.

:mod:`edsr_lite.evaluation` is the protocol: how a method is scored. This module is what a
command around it needs:

* :func:`checkpoint_label`: the name a checkpoint goes by in result rows;
* :func:`scale_mismatch` and :func:`evaluate_checkpoint`: load a checkpoint (or take it
  loaded), check the scales asked for, run :func:`edsr_lite.evaluation.evaluate`;
* :func:`estimate_seconds`: a rough time for that, from one timed forward pass
  (:func:`seconds_per_lr_pixel`) and the pixels the sets hold (:func:`lr_work`), so that a
  long run can say so before it starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from edsr_lite.core.forward import computed_pixels, receptive_radius
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.evaluation import evaluate
from edsr_lite.infer import Upscaler
from edsr_lite.memory_budget import DEFAULT_MAX_MEMORY_MB, choose_tile
from edsr_lite.weights import load_model, resolve_checkpoint

# --------------------------------------------------------------------------------------------
# Scoring a checkpoint
# --------------------------------------------------------------------------------------------


def checkpoint_label(checkpoint: str | os.PathLike) -> str:
    """The name a checkpoint goes by in result rows: a shipped name as given; a file by its stem,
    or by its run folder for ``.../<run>/best.pt``."""
    path = Path(checkpoint)
    if path.is_dir():
        return path.name
    if path.suffix == ".pt":
        return path.parent.name if path.stem == "best" and path.parent.name else path.stem
    return str(checkpoint)


def scale_mismatch(name: str, model: nn.Module, scales: Sequence[int]) -> str | None:
    """``"<name> is a x2 model (no x3/x4)"`` when the network lacks some of ``scales``, else
    None: the one wording of this mistake, for one checkpoint or several."""
    missing = [s for s in scales if s not in model.scales]
    if not missing:
        return None
    has, lacks = "/x".join(map(str, model.scales)), "/x".join(map(str, missing))
    return f"{name} is a x{has} model (no x{lacks})"


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    sets: Sequence[str] = ("Set5", "Set14", "B100"),
    scales: Sequence[int] | None = None,
    ensemble: bool = False,
    device: str = "cpu",
    protocol: str = "model",
    progress: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    model: nn.Module | None = None,
) -> list[dict]:
    """Score a checkpoint as ``edsr-lite eval --model CHECKPOINT`` does (the same function).

    ``model``: the checkpoint's network when the caller has loaded it already (a full-size
    EDSR takes seconds to load); by default it is loaded here.

    The model is loaded in float32 (:func:`edsr_lite.weights.load_model`) and scored by
    :func:`edsr_lite.evaluation.evaluate` with these options (so through
    :class:`edsr_lite.infer.Upscaler`, tiled, self-ensembled when ``ensemble``) on ``scales``
    (default: the model's own).

    Returns:
        :func:`~edsr_lite.evaluation.evaluate` rows whose ``method`` is the checkpoint's name
        (:func:`checkpoint_label`) with ``+`` appended under self-ensemble, plus ``ensemble``.

    Raises:
        ValueError: the model lacks one of ``scales``.
    """
    if model is None:
        model = load_model(resolve_checkpoint(checkpoint, checkpoint_dir))
    scales = tuple(model.scales) if scales is None else tuple(scales)
    mismatch = scale_mismatch(checkpoint_label(checkpoint), model, scales)
    if mismatch:
        raise ValueError(f"{mismatch}; leave out --scale to use its own scales")
    rows = evaluate(model, sets, scales, protocol, progress, ensemble=ensemble, device=device)
    name = checkpoint_label(checkpoint) + ("+" if ensemble else "")
    return [{**row, "method": name, "ensemble": bool(ensemble)} for row in rows]


# --------------------------------------------------------------------------------------------
# How long it takes
# --------------------------------------------------------------------------------------------

#: The side (LR pixels) of the input that :func:`seconds_per_lr_pixel` times.
PROBE = 48


def lr_work(
    model: nn.Module,
    set_name: str,
    scale: int,
    ensemble: bool = False,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
) -> int:
    """The LR pixels a network computes to upscale a set at ``scale``: each image's, plus the
    overlap of its tiles where the memory budget tiles it (as :class:`Upscaler` does)."""
    from PIL import Image  # only the sizes are read, not the pixels

    overlap = receptive_radius(model, scale)
    total = 0
    for path in list_images(find_dataset(set_name)):
        with Image.open(path) as img:
            h, w = img.height // scale, img.width // scale
        tile = choose_tile(model, scale, (1, h, w), max_memory_mb, ensemble, overlap)
        total += computed_pixels(h, w, tile, overlap)
    return total


def seconds_per_lr_pixel(model: nn.Module, scale: int, device: str = "cpu") -> float:
    """One timed forward pass of a :data:`PROBE` x :data:`PROBE` input, per LR pixel (after a
    small warm-up pass, which also pays for setting up). On the high side: a small input costs
    more per pixel than a whole image."""
    upscaler = Upscaler(model, device=device)
    upscaler.upscale_tensor(torch.rand(1, 3, 8, 8) * 255, scale)
    start = time.perf_counter()
    upscaler.upscale_tensor(torch.rand(1, 3, PROBE, PROBE) * 255, scale)
    return (time.perf_counter() - start) / PROBE**2


def estimate_seconds(
    model: nn.Module,
    sets: Sequence[str],
    scales: Sequence[int],
    ensemble: bool = False,
    device: str = "cpu",
) -> float:
    """Seconds :func:`evaluate_checkpoint` will take: :func:`seconds_per_lr_pixel` times
    :func:`lr_work` for each set and scale (x8 for the self-ensemble). A rough figure, on the
    high side."""
    seconds = 0.0
    for scale in scales:
        per_pixel = seconds_per_lr_pixel(model, scale, device)
        work = sum(lr_work(model, s, scale, ensemble) for s in sets)
        seconds += per_pixel * work * (8 if ensemble else 1)
    return seconds

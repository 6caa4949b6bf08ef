"""Upscaling real images: tiled forward for any size, self-ensemble (EDSR+).

Pieces that compose, the first two functions of a *forward function* ``fn(x) -> y`` on tensors
(N x 3 x h x w in 0..255 -> N x 3 x sh x sw):

* :func:`self_ensemble` — the paper's "+": average the outputs for the 8 flips/transposes.
* :func:`tiled_forward` — cut a big image into tiles with an overlap margin, run each, stitch.
  With the margin at least the model's receptive radius (:func:`receptive_radius`) the result
  is the untiled forward's, pixel for pixel.
* :class:`Upscaler` — a network with those choices (ensemble, tile size or memory budget,
  device) as ``fn(lr, scale) -> sr``, uint8 RGB in and out, rounded and clamped like a saved
  PNG. The one way a network is run on images: by :func:`upscale`, ``edsr-lite upscale``,
  :func:`edsr_lite.evaluation.evaluate` and ``edsr-lite eval``.
* :func:`upscale` — the user-facing call: image in (array, PIL image or path), uint8 RGB out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edsr_lite.images import as_rgb_array, read_image, to_tensor
from edsr_lite.imresize import imresize
from edsr_lite.models import EDSR, MDSR
from edsr_lite.progress import progress_bar

Forward = Callable[[torch.Tensor], torch.Tensor]

DEFAULT_MAX_MEMORY_MB = 2048
MIN_TILE = 16


# --------------------------------------------------------------------------- scale and device


def model_scales(model: nn.Module) -> tuple[int, ...]:
    """The scales a network can produce: (s,) for EDSR, the branches' scales for MDSR."""
    model = getattr(model, "module", model)
    if not isinstance(model, EDSR | MDSR):
        raise TypeError(f"expected an EDSR or MDSR model, got {type(model).__name__}")
    return model.scales


def resolve_scale(model: nn.Module | str, scale: int | None) -> int:
    """The scale to run: the EDSR model's own, or the one asked for (checked against the model)."""
    if isinstance(model, str):  # "bicubic"
        if scale is None:
            raise ValueError("bicubic upscaling needs a scale, e.g. scale=4")
        return int(scale)
    scales = model_scales(model)
    if scale is None:
        if len(scales) > 1:
            raise ValueError(f"this MDSR model has x{', x'.join(map(str, scales))}: pass scale=")
        return scales[0]
    if scale not in scales:
        kind = "EDSR" if len(scales) == 1 else "MDSR"
        raise ValueError(
            f"this {kind} model upscales x{'/x'.join(map(str, scales))}, not x{scale}: "
            f"use a x{scale} model (or --scale {scales[0]})"
        )
    return int(scale)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"`` (default) or ``"cuda"``; asking for CUDA without a GPU is a clear error."""
    device = torch.device(device or "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but PyTorch sees no CUDA GPU: use --device cpu")
    return device


# --------------------------------------------------------------------------- receptive field


def receptive_radius(model: nn.Module, scale: int | None = None) -> int:
    """How far (in LR pixels) an output pixel can see: the overlap tiling needs.

    Each k x k convolution widens the view by k // 2 pixels *at the resolution it runs at*:
    a 3x3 conv after a x2 PixelShuffle adds half an LR pixel. Summing over the path that
    ``scale`` takes (head, MDSR's pre_process, body, upsampler, tail) and rounding up gives the
    radius R: output pixels whose LR position is at least R from a tile's cut edge are exactly
    those of the untiled forward. EDSR-baseline: 1 + 16*2 + 1 + 1 + 1/2 -> 36 at x2.
    """
    model = getattr(model, "module", model)
    scale = resolve_scale(model, scale)
    if isinstance(model, MDSR):
        i = model.branch(scale)
        path = [model.head, model.pre_process[i], model.body, model.upsample[i], model.tail]
    else:
        path = [model.head, model.body, model.tail]
    radius, resolution = 0.0, 1
    for part in path:
        for layer in part.modules():
            if isinstance(layer, nn.Conv2d):
                radius += (layer.kernel_size[0] // 2) * layer.dilation[0] / resolution
            elif isinstance(layer, nn.PixelShuffle):
                resolution *= layer.upscale_factor
    return math.ceil(radius)


# --------------------------------------------------------------------------- self-ensemble


def self_ensemble(fn: Forward, x: torch.Tensor) -> torch.Tensor:
    """The paper's geometric self-ensemble ("+"): mean of the 8 flipped/transposed outputs.

    ``x`` is a batch N x 3 x h x w; every image of the batch gets its own ensemble (the
    official code collapses the batch). The 4 flips share a shape and run as one batch of 4N,
    the 4 transposed flips as another, then each output is transformed back and averaged.
    """
    n = x.shape[0]
    flips = [(), (3,), (2,), (2, 3)]  # identity, horizontal, vertical, both

    def transforms(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t.flip(d) if d else t for d in flips])

    def untransforms(y: torch.Tensor) -> torch.Tensor:
        parts = y.split(n)
        return sum(p.flip(d) if d else p for p, d in zip(parts, flips, strict=True))

    total = untransforms(fn(transforms(x)))
    transposed = fn(transforms(x.transpose(2, 3)))
    total = total + untransforms(transposed).transpose(2, 3)
    return total / 8


# --------------------------------------------------------------------------- tiling


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut [0, length) into consecutive core spans of at most ``tile`` pixels."""
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[tuple[slice, ...]]:
    """The tiles of an LR image: for each, (input rows, input cols, core rows, core cols).

    Cores partition the image; each input span is its core widened by ``overlap`` on every
    side that is not the image border.
    """
    grid = []
    for r0, r1 in _spans(height, tile):
        for c0, c1 in _spans(width, tile):
            rows = slice(max(0, r0 - overlap), min(height, r1 + overlap))
            cols = slice(max(0, c0 - overlap), min(width, c1 + overlap))
            grid.append((rows, cols, slice(r0, r1), slice(c0, c1)))
    return grid


def tiled_forward(
    fn: Forward,
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    progress: bool = False,
    out_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Run ``fn`` tile by tile and stitch: N x 3 x h x w -> N x 3 x sh x sw.

    ``tile`` is the core size in LR pixels and ``overlap`` the margin added around each core
    (use :func:`receptive_radius`); the margin's outputs are computed and thrown away. With
    ``out_dtype=torch.uint8`` each tile is rounded and clamped before it is stored, so a big
    output costs 1 byte per value instead of 4.
    """
    n, c, h, w = x.shape
    out = torch.empty(n, c, h * scale, w * scale, dtype=out_dtype, device=x.device)
    for rows, cols, core_r, core_c in progress_bar(
        tile_grid(h, w, tile, overlap), "tiles", enabled=progress
    ):
        y = fn(x[:, :, rows, cols].contiguous(memory_format=torch.channels_last))
        # The core's place inside this tile's output, and inside the whole output (HR pixels).
        y = y[:, :, _hr(core_r, rows.start, scale), _hr(core_c, cols.start, scale)]
        if out_dtype == torch.uint8:
            y = y.round().clamp(0, 255)
        out[:, :, _hr(core_r, 0, scale), _hr(core_c, 0, scale)] = y.to(out_dtype)
    return out


def _hr(core: slice, origin: int, scale: int) -> slice:
    """The HR-pixel slice of an LR ``core`` span, counted from LR position ``origin``."""
    return slice((core.start - origin) * scale, (core.stop - origin) * scale)


def bytes_per_lr_pixel(model: nn.Module, scale: int, ensemble: bool = False) -> int:
    """A conservative estimate of inference memory per LR pixel of a tile (float32).

    The peak is in the upsampler: the last stage holds its input (F channels at s/2 times the
    resolution, x3: at LR), its conv output (4F or 9F there) and the PixelShuffle copy, i.e.
    about 2 s^2 F + 4F values per LR pixel; the body holds ~5F (skip, input, two convs).
    The self-ensemble runs 4 transformed copies at once.
    """
    model = getattr(model, "module", model)
    n_feats = model.head[0].out_channels
    values = max(5 * n_feats, (2 * scale * scale + 4) * n_feats) + 6 * scale * scale
    return int(1.25 * 4 * values * (4 if ensemble else 1))


def auto_tile(
    model: nn.Module, scale: int, overlap: int, max_memory_mb: float, ensemble: bool = False
) -> int:
    """The largest core size whose tile (core + 2 * overlap) fits ``max_memory_mb``."""
    budget_pixels = max_memory_mb * 2**20 / bytes_per_lr_pixel(model, scale, ensemble)
    side = int(math.sqrt(budget_pixels)) - 2 * overlap
    if side < MIN_TILE:
        need = bytes_per_lr_pixel(model, scale, ensemble) * (MIN_TILE + 2 * overlap) ** 2 / 2**20
        raise ValueError(
            f"max_memory_mb={max_memory_mb:g} is too small for this model; it needs at least "
            f"{math.ceil(need)} MB for a {MIN_TILE}-pixel tile"
        )
    return side


# --------------------------------------------------------------------------- upscale


class Upscaler:
    """A model ready to upscale uint8 images: ``Upscaler(model)(lr, scale) -> sr``.

    Holds the choices (self-ensemble, tile size, memory budget, device), so one object serves
    every image; it is an ``fn(lr, scale)`` as :func:`edsr_lite.evaluation.evaluate` takes one
    (``evaluate(model)`` wraps a network in one). The model is moved to ``device`` (default:
    the CPU) in the channels_last memory format; each call runs it in eval mode under
    ``torch.inference_mode`` and puts back its previous mode.
    """

    def __init__(
        self,
        model: nn.Module,
        ensemble: bool = False,
        tile: int | None = None,
        overlap: int | None = None,
        max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
        device: str | torch.device | None = None,
        progress: bool = False,
    ):
        self.device = resolve_device(device)
        self.model = model.to(self.device, memory_format=torch.channels_last)
        self.ensemble, self.tile, self.overlap = ensemble, tile, overlap
        self.max_memory_mb, self.progress = max_memory_mb, progress
        self.name = (
            f"{getattr(model, 'config', {}).get('preset', 'model')}{'+' if ensemble else ''}"
        )

    def __call__(self, lr: np.ndarray, scale: int | None = None) -> np.ndarray:
        """``lr`` uint8 H x W x 3 -> uint8 (sH) x (sW) x 3."""
        return np.ascontiguousarray(self.upscale_tensor(to_tensor(lr), scale)[0])

    def upscale_tensor(self, x: torch.Tensor, scale: int | None = None) -> np.ndarray:
        """N x 3 x H x W floats in 0..255 -> N x sH x sW x 3 uint8 (rounded, clamped)."""
        scale = resolve_scale(self.model, scale)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                y = self._forward(x.to(self.device), scale)
        finally:
            self.model.train(was_training)
        return y.permute(0, 2, 3, 1).cpu().numpy()

    def _forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """N x 3 x H x W floats -> N x 3 x sH x sW uint8, tiled when the budget says so."""

        def fn(t: torch.Tensor) -> torch.Tensor:
            return self.model(t.contiguous(memory_format=torch.channels_last), scale)

        run = (lambda t: self_ensemble(fn, t)) if self.ensemble else fn
        overlap = receptive_radius(self.model, scale) if self.overlap is None else self.overlap
        tile = self.tile
        if tile is None:
            tile = auto_tile(self.model, scale, overlap, self.max_memory_mb, self.ensemble)
        if tile == 0 or tile >= max(x.shape[2:]):  # one tile: skip the bookkeeping
            return run(x).round().clamp(0, 255).to(torch.uint8)
        return tiled_forward(run, x, scale, tile, overlap, self.progress, out_dtype=torch.uint8)


def upscale(
    model: nn.Module | str,
    image,
    scale: int | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    ensemble: bool = False,
    progress: bool = False,
    device: str | torch.device | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
) -> np.ndarray:
    """Upscale one image; returns uint8 RGB of (scale*H) x (scale*W) x 3.

    Args:
        model: an EDSR/MDSR network, or ``"bicubic"`` (MATLAB bicubic, the baseline).
        image: uint8 H x W x 3 (or H x W gray) array, a PIL image, or a file path.
        scale: the factor; EDSR models default to their own and refuse others.
        tile: core tile size in LR pixels; ``None`` picks it from ``max_memory_mb``,
            ``0`` disables tiling.
        overlap: margin around each tile; default: the model's receptive radius, which makes
            the tiled result equal to the untiled one.
        ensemble: self-ensemble x8 (the paper's "+", 8 times the compute).
        progress: a tqdm bar over the tiles.
        device: ``"cpu"`` (default) or ``"cuda"``.
        max_memory_mb: the memory budget that sets the automatic tile size. It bounds what
            the model's forward pass allocates per tile, not the whole process: the input and
            output images come on top, and the allocator may keep freed memory.
    """
    lr = read_image(image) if isinstance(image, str | Path) else as_rgb_array(image)
    if isinstance(model, str):
        if model != "bicubic":
            raise ValueError(f"model must be a network or 'bicubic', got {model!r}")
        return imresize(lr, resolve_scale(model, scale))
    upscaler = Upscaler(model, ensemble, tile, overlap, max_memory_mb, device, progress)
    return upscaler(lr, scale)

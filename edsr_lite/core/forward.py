"""The forward tools of inference: receptive radius, tiled forward, self-ensemble (EDSR+).

Each takes a *forward function* ``fn(x) -> y`` on tensors, N x 3 x h x w in 0..255 ->
N x 3 x sh x sw (a network, or a network wrapped in another of these), so that they compose:
``tiled_forward(lambda t: self_ensemble(model, t), x, scale, tile, overlap)``.

* :func:`receptive_radius` -- how far an output pixel sees: the overlap that makes tiles exact.
* :func:`self_ensemble` -- the paper's "+" (Sec. 4.3, Table 6's EDSR+ and MDSR+): the mean of
  the outputs for the 8 flips/transposes of the input.
* :func:`tiled_forward` -- cut a big image into tiles with an overlap margin, run each, stitch.
  With the margin at least the receptive radius the result is the untiled forward's, pixel
  for pixel (the paper's networks are fully convolutional, so a tile is just a smaller image).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from edsr_lite.core.models import MDSR

Forward = Callable[[torch.Tensor], torch.Tensor]


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
    if isinstance(model, MDSR):
        i = model.branch(model.scales[0] if scale is None and len(model.scales) == 1 else scale)
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


def computed_pixels(height: int, width: int, tile: int, overlap: int) -> int:
    """The LR pixels the network computes for a ``height`` x ``width`` image cut into ``tile``
    cores (``0``, or a tile covering the image: the image once; else each tile's input, its
    overlap included, so overlap is counted as often as it is recomputed)."""
    grid = tile_grid(height, width, tile or max(height, width), overlap)
    return sum((r.stop - r.start) * (c.stop - c.start) for r, c, _, _ in grid)


def tiled_forward(
    fn: Forward,
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    out_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Run ``fn`` tile by tile and stitch: N x 3 x h x w -> N x 3 x sh x sw.

    ``tile`` is the core size in LR pixels and ``overlap`` the margin added around each core
    (use :func:`receptive_radius`); the margin's outputs are computed and thrown away. With
    ``out_dtype=torch.uint8`` each tile is rounded and clamped before it is stored, so a big
    output costs 1 byte per value instead of 4.
    """
    n, c, h, w = x.shape
    # channels_last: the N x sH x sW x C view the caller hands out as numpy needs no copy.
    shape, layout = (n, c, h * scale, w * scale), torch.channels_last
    out = torch.empty(shape, dtype=out_dtype, device=x.device, memory_format=layout)
    for rows, cols, core_r, core_c in tile_grid(h, w, tile, overlap):
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

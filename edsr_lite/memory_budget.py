"""How big a tile fits a memory budget: the estimate behind :class:`edsr_lite.infer.Upscaler`'s
automatic tile size.

An upscale holds its images (input, output) and, at its peak, one tile's activations. The
activations grow with the tile's area, so a budget in MiB is a tile size in LR pixels:

* :func:`bytes_per_lr_pixel` — a tile's activations per LR pixel (the upsampler's peak);
* :func:`fixed_memory_mb` — what the budget holds besides the tile (the images, the runtime);
* :func:`auto_tile` — the largest tile the rest of the budget holds;
* :func:`even_tile` — the same number of tiles, none a sliver;
* :func:`choose_tile` — the one an :class:`~edsr_lite.infer.Upscaler` uses: the whole image
  when it fits, else :func:`auto_tile` evened out;
* :func:`bicubic_memory_mb` — what a MATLAB bicubic upscale (:func:`imresize`) holds;
* :func:`check_budget` — refuse, before the first allocation, images whose input, output and
  working copies alone pass the budget (``-s 100000`` on a 2 x 2 image asks for 894 GiB).

The tiling itself (the grid, the overlap that makes it exact) is the core's:
:mod:`edsr_lite.core.forward`. The estimate is checked against a fresh process's measured
peak by the test suite (``tests/test_upscale_bad_input.py``, ``edsr_lite.course.memory``).
"""

from __future__ import annotations

import math

from torch import nn

from edsr_lite.core.forward import receptive_radius

__all__ = [
    "DEFAULT_MAX_MEMORY_MB",
    "MIN_TILE",
    "MiB",
    "RUNTIME_MARGIN_MB",
    "BICUBIC_BYTES_PER_OUTPUT_PIXEL",
    "auto_tile",
    "bicubic_memory_mb",
    "bytes_per_lr_pixel",
    "check_budget",
    "choose_tile",
    "even_tile",
    "fixed_memory_mb",
]

#: The budget (MiB) of ``upscale()``, ``Upscaler`` and ``edsr-lite upscale --max-memory-mb``.
DEFAULT_MAX_MEMORY_MB = 4096
#: The smallest core tile (LR pixels) a budget may leave; below it the budget is refused.
MIN_TILE = 16
MiB = 2**20

#: What an upscale needs besides its images and a tile's activations (MiB): the working space
#: PyTorch and oneDNN set up on the first call, and the freed tiles the memory allocator keeps
#: (measured on 2 CPU cores: 60 to 90 MB above the tile estimate, EDSR-baseline x2).
RUNTIME_MARGIN_MB = 100


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


def fixed_memory_mb(shape: tuple[int, int, int], scale: int) -> float:
    """Memory (MiB) an upscale of ``shape`` = (N, H, W) LR images needs besides the tiles.

    Per LR pixel: the uint8 input and one copy of it (3 + 3 bytes), its float32 tensor (12) and
    the uint8 output (3 s^2); plus :data:`RUNTIME_MARGIN_MB` once.
    """
    n, h, w = shape
    return n * h * w * (3 + 3 + 12 + 3 * scale * scale) / MiB + RUNTIME_MARGIN_MB


def auto_tile(
    model: nn.Module,
    scale: int,
    overlap: int,
    max_memory_mb: float,
    ensemble: bool = False,
    fixed_mb: float = 0.0,
) -> int:
    """The largest core size whose tile (core + 2 * overlap) fits ``max_memory_mb``.

    The largest, because larger tiles recompute less overlap (a 64-pixel core with the
    36-pixel margin of EDSR-baseline computes 4.5 times its pixels): the whole image was the
    fastest, tiles of 256 and 512 took about 1.1 times as long, 128 1.7 times
    (``benchmarks/bench_tiles.py``, docs/speed.md). ``fixed_mb``: what the budget must hold
    besides the tile (:func:`fixed_memory_mb`: the images and the runtime's working space),
    taken off the budget first.
    """
    per_pixel = bytes_per_lr_pixel(model, scale, ensemble)
    budget_pixels = max(0.0, max_memory_mb - fixed_mb) * MiB / per_pixel
    side = int(math.sqrt(budget_pixels)) - 2 * overlap
    if side < MIN_TILE:
        need = fixed_mb + per_pixel * (MIN_TILE + 2 * overlap) ** 2 / MiB
        images = f" ({fixed_mb:.0f} MB of it for the images and working space)" if fixed_mb else ""
        raise ValueError(
            f"a memory budget of {max_memory_mb:g} MB is too small for this model; it needs at "
            f"least {math.ceil(need)} MB for a {MIN_TILE}-pixel tile{images}. Raise it with "
            "--max-memory-mb (max_memory_mb=), or upscale a smaller image"
        )
    return side


def even_tile(height: int, width: int, tile: int) -> int:
    """The smallest core size that cuts a ``height`` x ``width`` image into as many tiles as
    ``tile`` does (``tile`` itself when it covers the image): about the same overlap to
    recompute (up to 3% more: a sliver thinner than the overlap clips its neighbour's), no
    sliver (1000 x 750 cut by 244 leaves an 18-pixel last row; by 200, none), less memory.
    """
    if tile >= max(height, width):
        return tile
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    return max(math.ceil(height / rows), math.ceil(width / cols))


def choose_tile(
    model: nn.Module,
    scale: int,
    shape: tuple[int, int, int],
    max_memory_mb: float,
    ensemble: bool = False,
    overlap: int | None = None,
) -> int:
    """The core tile size (LR pixels) :class:`~edsr_lite.infer.Upscaler` uses for ``shape`` =
    (N, H, W) images.

    The whole image (``max(H, W)``: one tile, no overlap to recompute, the fastest) when all of
    it fits the budget left after :func:`fixed_memory_mb`; otherwise :func:`auto_tile` of that
    budget, evened out by :func:`even_tile`. ``overlap``: default, the model's receptive radius.
    """
    overlap = receptive_radius(model, scale) if overlap is None else overlap
    n, height, width = shape
    fixed = fixed_memory_mb(shape, scale)
    whole_mb = n * height * width * bytes_per_lr_pixel(model, scale, ensemble) / MiB
    if fixed + whole_mb <= max_memory_mb:
        return max(height, width)
    tile = auto_tile(model, scale, overlap, max_memory_mb, ensemble, fixed)
    return even_tile(height, width, tile)


#: Bytes per output pixel of a MATLAB bicubic upscale (:func:`edsr_lite.core.degradation.
#: imresize`): the uint8 result (3) and the float64 RGB result of each of its two 1-D passes
#: (2 x 24; the first, along the height only, is smaller by the scale: counted whole).
BICUBIC_BYTES_PER_OUTPUT_PIXEL = 3 + 2 * 3 * 8


def bicubic_memory_mb(shape: tuple[int, int, int], scale: int) -> float:
    """Memory (MiB) a bicubic upscale of ``shape`` = (N, H, W) uint8 RGB images holds at its
    peak: :data:`BICUBIC_BYTES_PER_OUTPUT_PIXEL` per output pixel, and the input as float64
    (24 bytes per LR pixel). No runtime margin: no network runs."""
    n, h, w = shape
    return n * h * w * (24 + BICUBIC_BYTES_PER_OUTPUT_PIXEL * scale * scale) / MiB


def check_budget(
    shape: tuple[int, int, int], scale: int, need_mb: float, max_memory_mb: float, what: str = ""
) -> None:
    """Refuse (ValueError) an upscale of ``shape`` = (N, H, W) images whose ``need_mb`` (the
    images and working space: :func:`fixed_memory_mb`, :func:`bicubic_memory_mb`) is above
    ``max_memory_mb``, before anything is allocated: no tiling can make the output smaller.

    ``what``: the input's name, for the message (e.g. the file).
    """
    if need_mb <= max_memory_mb:
        return
    _, h, w = shape
    name = f"{what}: " if what else ""
    out_mp = h * scale * w * scale / 1e6
    raise ValueError(
        f"{name}upscaling {w}x{h} pixels x{scale} makes a {w * scale}x{h * scale} image "
        f"({out_mp:,.3g} megapixels), which needs about {math.ceil(need_mb):,} MB with its "
        f"working copies: more than the memory budget of {max_memory_mb:g} MB. Raise it with "
        "--max-memory-mb (max_memory_mb=) if the machine has the memory, or use a smaller "
        "scale or image; nothing was allocated."
    )

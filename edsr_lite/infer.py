"""Upscaling real images with the core's forward tools (:mod:`edsr_lite.core.forward`: the
receptive radius, the tiled forward, the self-ensemble), within a memory budget.

* :class:`Upscaler` — a network with those choices (ensemble, tile size or memory budget,
  device) as ``fn(lr, scale) -> sr``, uint8 RGB in and out, rounded and clamped like a saved
  PNG. The one way a network is run on images: by :func:`upscale`, ``edsr-lite upscale``,
  :func:`edsr_lite.evaluation.evaluate` and ``edsr-lite eval``.
* :func:`upscale` — the user-facing call: image in (array, PIL image or path), uint8 RGB out.
* :func:`upscale_channels` — gray stays gray, an alpha plane is kept (``edsr-lite upscale``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edsr_lite.backends import openvino_forward, resolve_backend
from edsr_lite.checks import check_scale, is_int
from edsr_lite.core.degradation import imresize
from edsr_lite.core.forward import receptive_radius, self_ensemble, tile_grid, tiled_forward
from edsr_lite.core.models import EDSR, MDSR
from edsr_lite.download import user_cache_dir
from edsr_lite.images import as_rgb_array, read_image, to_tensor
from edsr_lite.progress import progress_ticks

DEFAULT_MAX_MEMORY_MB = 4096
MIN_TILE = 16
MiB = 2**20

#: What an upscale needs besides its images and a tile's activations (MiB): the working space
#: PyTorch and oneDNN set up on the first call, and the freed tiles the memory allocator keeps
#: (measured on 2 CPU cores: 60 to 90 MB above the tile estimate, EDSR-baseline x2).
RUNTIME_MARGIN_MB = 100


# --------------------------------------------------------------------------- scale and device


def model_scales(model: nn.Module) -> tuple[int, ...]:
    """The scales a network can produce: (s,) for EDSR, the branches' scales for MDSR."""
    model = getattr(model, "module", model)
    if not isinstance(model, EDSR | MDSR):
        raise TypeError(f"expected an EDSR or MDSR model, got {type(model).__name__}")
    return model.scales


def resolve_scale(model: nn.Module | str, scale: int | None) -> int:
    """The scale to run: the EDSR model's own, or the one asked for (checked against the model).

    A scale is a positive integer (``2.5`` is refused, not rounded).
    """
    if scale is not None:
        check_scale(scale)
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
            f"least {math.ceil(need)} MB for a {MIN_TILE}-pixel tile{images}"
        )
    return side


def choose_tile(
    model: nn.Module,
    scale: int,
    shape: tuple[int, ...],
    max_memory_mb: float,
    ensemble: bool = False,
    overlap: int | None = None,
) -> int:
    """The core tile size (LR pixels) :class:`Upscaler` uses for ``shape`` = (N, H, W) images.

    The whole image (``max(H, W)``: one tile, no overlap to recompute, the fastest) when all of
    it fits the budget left after :func:`fixed_memory_mb`; otherwise :func:`auto_tile` of that
    budget, evened out by :func:`even_tile`.
    """
    overlap = receptive_radius(model, scale) if overlap is None else overlap
    n, height, width = shape
    fixed = fixed_memory_mb(shape, scale)
    whole_mb = n * height * width * bytes_per_lr_pixel(model, scale, ensemble) / MiB
    if fixed + whole_mb <= max_memory_mb:
        return max(height, width)
    tile = auto_tile(model, scale, overlap, max_memory_mb, ensemble, fixed)
    return even_tile(height, width, tile)


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


def fixed_memory_mb(shape: tuple[int, int, int], scale: int) -> float:
    """Memory (MiB) an upscale of ``shape`` = (N, H, W) LR images needs besides the tiles.

    Per LR pixel: the uint8 input and one copy of it (3 + 3 bytes), its float32 tensor (12) and
    the uint8 output (3 s^2); plus :data:`RUNTIME_MARGIN_MB` once.
    """
    n, h, w = shape
    return n * h * w * (3 + 3 + 12 + 3 * scale * scale) / MiB + RUNTIME_MARGIN_MB


def check_tiling(tile: int | None, overlap: int | None, max_memory_mb: float) -> None:
    """Refuse tiling settings that cannot work (a negative tile would write no pixel at all)."""
    if tile is not None and not (is_int(tile) and tile >= 0):
        raise ValueError(
            f"tile must be a whole number of LR pixels, 1 or more (0: the whole image at once; "
            f"None: from max_memory_mb), got {tile!r}"
        )
    if overlap is not None and not (is_int(overlap) and overlap >= 0):
        raise ValueError(
            f"overlap must be a whole number of LR pixels, 0 or more (None: the model's "
            f"receptive radius), got {overlap!r}"
        )
    number = isinstance(max_memory_mb, int | float | np.number) and not isinstance(
        max_memory_mb, bool
    )
    if not (number and math.isfinite(max_memory_mb) and max_memory_mb > 0):
        raise ValueError(
            f"max_memory_mb must be a number of megabytes above 0 (default "
            f"{DEFAULT_MAX_MEMORY_MB}), got {max_memory_mb!r}"
        )


#: The arithmetic an :class:`Upscaler` runs the network in: float32, or bfloat16 autocast
#: (convolutions in bfloat16, the output back to float32 before rounding). Its speed and PSNR
#: cost: ``python benchmarks/bench_runtimes.py`` prints them.
PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


# --------------------------------------------------------------------------- upscale


class Upscaler:
    """A model ready to upscale uint8 images: ``Upscaler(model)(lr, scale) -> sr``.

    Holds the choices (self-ensemble, tile size, memory budget, device, precision, backend:
    see :func:`upscale`), so one object serves every image; it is an ``fn(lr, scale)`` as
    :func:`edsr_lite.evaluation.evaluate` takes one (``evaluate(model)`` wraps a network in one).
    The model is moved to ``device`` (default: the CPU) in the channels_last memory format;
    each call runs it in eval mode under ``torch.inference_mode`` and puts back its previous
    mode.
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
        precision: str = "fp32",
        backend: str = "torch",
    ):
        check_tiling(tile, overlap, max_memory_mb)
        self.precision = check_precision(precision)
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)  # "torch" or "openvino"
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
            t = t.contiguous(memory_format=torch.channels_last)
            if self.precision == "fp32":
                return self.model(t, scale)
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self.model(t, scale).float()

        if self.backend == "openvino":  # the same tile forward, compiled once per scale
            fn = openvino_forward(self.model, scale, self.precision, openvino_cache_dir())
        run = (lambda t: self_ensemble(fn, t)) if self.ensemble else fn
        overlap = receptive_radius(self.model, scale) if self.overlap is None else self.overlap
        tile = self.tile
        if tile is None:
            n, _, h, w = x.shape
            tile = choose_tile(
                self.model, scale, (n, h, w), self.max_memory_mb, self.ensemble, overlap
            )
        if tile == 0 or tile >= max(x.shape[2:]):  # one tile: skip the bookkeeping
            y = run(x).round_().clamp_(0, 255)
            return y.to(torch.uint8, memory_format=torch.channels_last)
        tiles = tile_grid(x.shape[2], x.shape[3], tile, overlap)
        with progress_ticks(len(tiles), "tiles", enabled=self.progress) as tick:

            def run_tile(t: torch.Tensor) -> torch.Tensor:
                y = run(t)
                tick()
                return y

            return tiled_forward(run_tile, x, scale, tile, overlap, out_dtype=torch.uint8)


def openvino_cache_dir() -> Path:
    """Where converted OpenVINO networks are kept: ``openvino/`` in the user cache
    (:func:`edsr_lite.download.user_cache_dir`, ``$EDSR_LITE_CACHE`` when set)."""
    return user_cache_dir() / "openvino"


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
    precision: str = "fp32",
    backend: str = "torch",
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
        max_memory_mb: the memory budget (MiB) that sets the automatic tile size: what the
            upscale adds to the process at its peak, the input and output images, a tile's
            activations and :data:`RUNTIME_MARGIN_MB` for PyTorch's working space included;
            not the Python, PyTorch and model memory the process held before (about 300 MB).
            An estimate, checked by the test suite in a fresh process.
        precision: ``"fp32"`` (default) or ``"bf16"``: bfloat16 autocast, about 2x faster
            on a CPU with native bfloat16 (AVX512-BF16, AMX) and about 10x slower on the
            others (check with :func:`edsr_lite.train.bf16_available`); it moves some output
            values by a gray level (:data:`PRECISIONS`).
        backend: ``"torch"`` (default: PyTorch runs the network), ``"openvino"`` (the
            network compiled by OpenVINO for the CPU: the same uint8 image, faster; converted
            once per model and kept in the user cache; ``pip install 'edsr-lite[fast]'``), or
            ``"auto"`` (OpenVINO when installed and the device is the CPU), the default of
            ``edsr-lite upscale``: :mod:`edsr_lite.backends`. The library stays on torch by
            default so that a call does what the model object does, with nothing converted
            or written to disk behind the caller's back.
    """
    check_tiling(tile, overlap, max_memory_mb)
    lr = read_image(image) if isinstance(image, str | Path) else as_rgb_array(image)
    if isinstance(model, str):
        if model != "bicubic":
            raise ValueError(f"model must be a network or 'bicubic', got {model!r}")
        return imresize(lr, resolve_scale(model, scale))
    upscaler = Upscaler(
        model, ensemble, tile, overlap, max_memory_mb, device, progress, precision, backend
    )
    return upscaler(lr, scale)


def upscale_channels(
    fn: Callable[[np.ndarray, int], np.ndarray],
    image: np.ndarray,
    scale: int,
    alpha: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Upscale a gray or RGB image, and its alpha plane, with an RGB upscaler ``fn(lr, scale)``.

    The network sees colour: a gray H x W image runs as three equal channels and comes out as
    the mean of the three output channels, rounded (the channels differ by a few levels, a
    tint a gray picture must not get). The alpha plane (transparency) is upscaled with MATLAB
    bicubic (:func:`edsr_lite.core.degradation.imresize`): the network never learned transparency.

    Args:
        fn: an :class:`Upscaler`, or :func:`edsr_lite.core.degradation.imresize` for bicubic.
        image: ``uint8`` H x W (gray) or H x W x 3 (RGB).
        scale: the factor s.
        alpha: ``uint8`` H x W, or None.

    Returns:
        ``(sr, sr_alpha)``: ``uint8`` sH x sW (gray) or sH x sW x 3, and sH x sW or None.
    """
    if image.ndim == 2:
        sr = fn(np.repeat(image[:, :, None], 3, axis=2), scale)
        # The mean of three integers is k, k + 1/3 or k + 2/3: rounding never meets a tie.
        sr = ((sr.sum(axis=2, dtype=np.uint16) + 1) // 3).astype(np.uint8)
    else:
        sr = fn(image, scale)
    return sr, None if alpha is None else imresize(alpha, scale)

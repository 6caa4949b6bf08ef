"""Upscaling real images with the core's forward tools (:mod:`edsr_lite.core.forward`: the
receptive radius, the tiled forward, the self-ensemble).

* :class:`InferenceOptions` — how a network runs (self-ensemble, tile size or memory budget,
  device, precision, backend, progress bar): every choice checked and resolved in one place.
* :class:`Upscaler` — a network with those options as ``fn(lr, scale) -> sr``, uint8 RGB in
  and out, rounded and clamped like a saved PNG. The one way a network is run on images: by
  :func:`upscale`, ``edsr-lite upscale``, :func:`edsr_lite.evaluation.evaluate` and
  ``edsr-lite eval``.
* :func:`upscale` — the user-facing call: image in (array, PIL image or path), uint8 RGB out.
* :func:`upscale_channels` — gray stays gray, an alpha plane is kept (``edsr-lite upscale``).

How big a tile fits the memory budget is :mod:`edsr_lite.memory_budget`'s question.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
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
from edsr_lite.memory_budget import (
    DEFAULT_MAX_MEMORY_MB,
    bicubic_memory_mb,
    check_budget,
    choose_tile,
    fixed_memory_mb,
)
from edsr_lite.precision import PRECISIONS, Bf16UnavailableWarning, bf16_available
from edsr_lite.progress import progress_ticks

# --------------------------------------------------------------------------- scale

#: The largest scale bicubic upscaling takes (a network's scales are its own): x16 already
#: turns each pixel into a 16 x 16 smear; beyond it an input is a mistake more often than not.
MAX_BICUBIC_SCALE = 16


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
        if scale > MAX_BICUBIC_SCALE:
            raise ValueError(
                f"bicubic upscales by up to x{MAX_BICUBIC_SCALE} (the stated limit, "
                f"edsr_lite.infer.MAX_BICUBIC_SCALE), not x{scale}: choose a scale from 2 to "
                f"{MAX_BICUBIC_SCALE}"
            )
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


# --------------------------------------------------------------------------- the options


@dataclass(frozen=True)
class InferenceOptions:
    """How an :class:`Upscaler` runs a network: the choices, checked and resolved here, once.

    Built from keywords (``InferenceOptions(tile=256, backend="auto")``); a value that cannot
    work is a ValueError naming it. Once built, the fields say what runs: ``device`` is a
    :class:`torch.device`, ``backend`` is ``"torch"`` or ``"openvino"`` (``"auto"`` resolved),
    and ``precision`` is ``"bf16"`` only where bfloat16 is fast (else ``"fp32"``, with a
    :class:`~edsr_lite.precision.Bf16UnavailableWarning`).

    Attributes:
        ensemble: self-ensemble x8 (the paper's "+", 8 times the compute).
        tile: core tile size in LR pixels, 1 or more; ``0``: the whole image at once;
            ``None`` (default): from ``max_memory_mb``
            (:func:`edsr_lite.memory_budget.choose_tile`: the whole image when it fits).
        overlap: margin around each tile (LR pixels); ``None`` (default): the model's receptive
            radius, which makes the tiled result equal to the untiled one.
        max_memory_mb: the memory budget (MiB) that sets the automatic tile size: what the
            upscale adds to the process at its peak, the input and output images, a tile's
            activations and :data:`~edsr_lite.memory_budget.RUNTIME_MARGIN_MB` for PyTorch's
            working space included; not the Python, PyTorch and model memory the process held
            before (about 300 MB). An estimate, checked by the test suite in a fresh process.
        device: ``"cpu"`` (default) or ``"cuda"`` (or a :class:`torch.device`).
        precision: ``"fp32"`` (default) or ``"bf16"``: bfloat16 autocast, about 2x faster on a
            CPU with native bfloat16 (AVX512-BF16, AMX; :func:`edsr_lite.precision.bf16_available`),
            elsewhere fp32 (autocast would be about 10x slower); it moves some output values by
            a gray level (:data:`~edsr_lite.precision.PRECISIONS`).
        backend: ``"torch"`` (default: PyTorch runs the network), ``"openvino"`` (the network
            compiled by OpenVINO for the CPU: the same uint8 image, faster; converted once per
            model and kept in the user cache; ``pip install 'edsr-lite[fast]'``), or ``"auto"``
            (OpenVINO when installed and the device is the CPU, the default of ``edsr-lite
            upscale``): :mod:`edsr_lite.backends`. The library stays on torch by default so that
            a call does what the model object does, with nothing converted or written to disk
            behind the caller's back.
        progress: a tqdm bar over the tiles.
    """

    ensemble: bool = False
    tile: int | None = None
    overlap: int | None = None
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    device: torch.device | str | None = None
    precision: str = "fp32"
    backend: str = "torch"
    progress: bool = False

    def __post_init__(self) -> None:
        _check_switches(ensemble=self.ensemble, progress=self.progress)
        _check_tiling(self.tile, self.overlap, self.max_memory_mb)
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        device = _resolve_device(self.device)
        resolved = {
            "device": device,
            "backend": resolve_backend(self.backend, device),  # "torch" or "openvino"
            "precision": _fast_precision(self.precision, device),
        }
        for name, value in resolved.items():  # frozen: the resolved values are set once, here
            object.__setattr__(self, name, value)


def _check_switches(**switches) -> None:
    """Refuse an on/off choice that is not a bool (``ensemble="no"`` would switch it on)."""
    for name, value in switches.items():
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_tiling(tile: int | None, overlap: int | None, max_memory_mb: float) -> None:
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


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"`` (default) or ``"cuda"``; asking for CUDA without a GPU is a clear error."""
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError):  # torch's own message lists every device type it knows
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but PyTorch sees no CUDA GPU: use --device cpu")
    return device


def _fast_precision(precision: str, device: torch.device) -> str:
    """``precision``, or fp32 (with a warning) for bf16 on a device without fast bfloat16,
    where autocast would run generic kernels about 10x slower than fp32."""
    if precision == "bf16" and not bf16_available(device):
        # worded as the flag: `edsr-lite upscale` shows this warning as it is
        warnings.warn(
            f"--precision bf16 asked for, but this {device} has no native bfloat16 (no "
            "AVX512-BF16 or AMX): it would be slower, so fp32 is used",
            Bf16UnavailableWarning,
            stacklevel=4,  # the caller of InferenceOptions (upscale(), Upscaler() or yours)
        )
        return "fp32"
    return precision


# --------------------------------------------------------------------------- upscale


class Upscaler:
    """A model ready to upscale uint8 images: ``Upscaler(model)(lr, scale) -> sr``.

    Holds the :class:`InferenceOptions`, given as keywords (``Upscaler(model, tile=256)``) or
    built (``Upscaler(model, options=InferenceOptions(tile=256))``), so one object serves every
    image; it is an ``fn(lr, scale)`` as :func:`edsr_lite.evaluation.evaluate` takes one
    (``evaluate(model)`` wraps a network in one). The model is moved to the options' device
    (default: the CPU) in the channels_last memory format; each call runs it in eval mode
    under ``torch.inference_mode`` and puts back its previous mode.
    """

    def __init__(self, model: nn.Module, *, options: InferenceOptions | None = None, **choices):
        if options is None:
            options = InferenceOptions(**choices)
        elif choices or not isinstance(options, InferenceOptions):
            raise TypeError("options= takes an InferenceOptions, and no other keyword beside it")
        self.options = options
        self.model = model.to(options.device, memory_format=torch.channels_last)
        preset = getattr(model, "config", {}).get("preset", "model")
        self.name = f"{preset}{'+' if options.ensemble else ''}"

    def __call__(self, lr: np.ndarray, scale: int | None = None) -> np.ndarray:
        """``lr`` uint8 H x W x 3 -> uint8 (sH) x (sW) x 3."""
        return np.ascontiguousarray(self.upscale_tensor(to_tensor(lr), scale)[0])

    def upscale_tensor(self, x: torch.Tensor, scale: int | None = None) -> np.ndarray:
        """N x 3 x H x W floats in 0..255 -> N x sH x sW x 3 uint8 (rounded, clamped).

        Raises ValueError, before the output is allocated, when the images (input, output,
        working space: :func:`~edsr_lite.memory_budget.fixed_memory_mb`) pass the budget.
        """
        scale = resolve_scale(self.model, scale)
        n, _, h, w = x.shape
        need = fixed_memory_mb((n, h, w), scale)
        check_budget((n, h, w), scale, need, self.options.max_memory_mb)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                y = self._forward(x.to(self.options.device), scale)
        finally:
            self.model.train(was_training)
        return y.permute(0, 2, 3, 1).cpu().numpy()

    def _tile_forward(self, scale: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """One tile's forward, ``fn(x) -> y`` in float32 (the backend's, in the precision)."""
        options = self.options
        if options.backend == "openvino":  # the same tile forward, compiled once per scale
            return openvino_forward(self.model, scale, options.precision, openvino_cache_dir())

        def fn(t: torch.Tensor) -> torch.Tensor:
            t = t.contiguous(memory_format=torch.channels_last)
            if options.precision == "fp32":
                return self.model(t, scale)
            with torch.autocast(options.device.type, dtype=torch.bfloat16):
                return self.model(t, scale).float()

        return fn

    def _forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """N x 3 x H x W floats -> N x 3 x sH x sW uint8, tiled when the budget says so."""
        options, fn = self.options, self._tile_forward(scale)
        run = (lambda t: self_ensemble(fn, t)) if options.ensemble else fn
        overlap, tile = options.overlap, options.tile
        if overlap is None:  # the receptive radius: tiled == untiled, pixel for pixel
            overlap = receptive_radius(self.model, scale)
        if tile is None:
            n, _, h, w = x.shape
            budget = options.max_memory_mb
            tile = choose_tile(self.model, scale, (n, h, w), budget, options.ensemble, overlap)
        if tile == 0 or tile >= max(x.shape[2:]):  # one tile: skip the bookkeeping
            y = run(x).round_().clamp_(0, 255)
            return y.to(torch.uint8, memory_format=torch.channels_last)
        tiles = tile_grid(x.shape[2], x.shape[3], tile, overlap)
        with progress_ticks(len(tiles), "tiles", enabled=options.progress) as tick:

            def run_tile(t: torch.Tensor) -> torch.Tensor:
                y = run(t)
                tick()
                return y

            return tiled_forward(run_tile, x, scale, tile, overlap, out_dtype=torch.uint8)


def openvino_cache_dir() -> Path:
    """Where converted OpenVINO networks are kept: ``openvino/`` in the user cache
    (:func:`edsr_lite.download.user_cache_dir`, ``$EDSR_LITE_CACHE`` when set)."""
    return user_cache_dir() / "openvino"


def upscale(model: nn.Module | str, image, scale: int | None = None, **choices) -> np.ndarray:
    """Upscale one image; returns uint8 RGB of (scale*H) x (scale*W) x 3.

    Args:
        model: an EDSR/MDSR network, or ``"bicubic"`` (MATLAB bicubic, the baseline).
        image: uint8 H x W x 3 (or H x W gray) array, a PIL image, or a file path.
        scale: the factor; EDSR models default to their own and refuse others.
        **choices: how the network runs, as keywords (``tile=0``, ``ensemble=True``,
            ``backend="auto"``, ...): the fields of :class:`InferenceOptions`, which says what
            each does. Default: PyTorch float32 on the CPU, tiled to fit 4 GiB.
    """
    options = InferenceOptions(**choices)  # checked for bicubic too, which runs none of them
    lr = read_image(image) if isinstance(image, str | Path) else as_rgb_array(image)
    if isinstance(model, str):
        if model != "bicubic":
            raise ValueError(f"model must be a network or 'bicubic', got {model!r}")
        scale = resolve_scale(model, scale)
        shape = (1, *lr.shape[:2])
        check_budget(shape, scale, bicubic_memory_mb(shape, scale), options.max_memory_mb)
        return imresize(lr, scale)
    return Upscaler(model, options=options)(lr, scale)


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

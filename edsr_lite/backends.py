"""Optional inference backends: the network's forward run by OpenVINO instead of PyTorch.

A *backend* only replaces the forward call of one tile, ``fn(x) -> y`` with ``x`` N x 3 x h x w
float32 in 0..255 and ``y`` N x 3 x sh x sw float32 (not rounded or clamped);
:class:`edsr_lite.infer.Upscaler` keeps the tiling, the self-ensemble and the rounding.

* ``"torch"``: the network itself (``model(x, scale)``), on any device.
* ``"openvino"``: the network converted once per (model, scale, precision) by
  ``openvino.convert_model`` with dynamic height and width, compiled for the CPU with the
  precision hint ``f32`` or ``bf16``. Same uint8 output as torch float32 on Set5 x2 and x4
  (measured: no value differs), and about 1.3x faster at float32 on a 2-core AVX512 CPU
  (``python benchmarks/bench_runtimes.py`` prints the ratios).
* ``"auto"``: OpenVINO when it is installed and the device is the CPU, else torch.

OpenVINO is an optional dependency: ``pip install openvino`` or ``pip install 'edsr-lite[fast]'``.
"""

from __future__ import annotations

import importlib.util
import weakref
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = [
    "BACKENDS",
    "INSTALL_HINT",
    "openvino_available",
    "openvino_forward",
    "resolve_backend",
]

#: The backends an :class:`edsr_lite.infer.Upscaler` runs a tile with.
BACKENDS = ("auto", "torch", "openvino")

INSTALL_HINT = "pip install openvino (or pip install 'edsr-lite[fast]')"

#: OpenVINO's name of each of :data:`edsr_lite.infer.PRECISIONS`.
OPENVINO_PRECISION = {"fp32": "f32", "bf16": "bf16"}

Forward = Callable[[torch.Tensor], torch.Tensor]

#: Compiled networks, per model (held weakly: a model that is freed drops its entries), keyed by
#: (scale, precision, threads); stored with the parameters' version counters at conversion, so
#: that weights changed in place since (a training step, load_state_dict) are converted again.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported (without importing it: it is slow)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"torch"`` or ``"openvino"``: the backend to run ``backend`` with on ``device``.

    ``"auto"`` is OpenVINO when installed and ``device`` is the CPU, else torch. Asking for
    ``"openvino"`` on a GPU, or without the package, is a clear ValueError.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "openvino" if device.type == "cpu" and openvino_available() else "torch"
    if backend == "openvino":
        if device.type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU, not {device.type}")
        if not openvino_available():
            raise ValueError(f"the openvino backend needs OpenVINO, not installed: {INSTALL_HINT}")
    return backend


class OneScale(nn.Module):
    """``model(x, scale)`` with the scale fixed, so that a converted or exported graph has one
    input, the image (OpenVINO here, ONNX in :mod:`edsr_lite.export`)."""

    def __init__(self, model: nn.Module, scale: int):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.scale)


def openvino_forward(model: nn.Module, scale: int, precision: str = "fp32") -> Forward:
    """The network at ``scale`` compiled by OpenVINO for the CPU, as a tile's forward.

    Returns ``fn(x) -> y``: ``x`` N x 3 x h x w float32 in 0..255 (any h, w, any memory
    format), ``y`` N x 3 x sh x sw float32, as ``model(x, scale)`` computes it. ``precision``
    ``"fp32"`` or ``"bf16"`` sets OpenVINO's inference precision hint (the caller checks that
    the CPU runs bfloat16 natively). It runs on ``torch.get_num_threads()`` threads. Converted
    and compiled once per model, scale, precision and thread count (a few seconds), then cached.
    """
    threads = torch.get_num_threads()
    versions = tuple(p._version for p in model.parameters())
    cached_versions, compiled = _COMPILED.get(model, (None, {}))
    if cached_versions != versions:
        compiled = {}
        _COMPILED[model] = (versions, compiled)
    key = (scale, precision, threads)
    if key not in compiled:
        compiled[key] = _compile(model, scale, OPENVINO_PRECISION[precision], threads)
    network = compiled[key]

    def fn(x: torch.Tensor) -> torch.Tensor:
        y = network(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32))
        return torch.from_numpy(y[network.output(0)])

    return fn


def _compile(model: nn.Module, scale: int, hint: str, threads: int):
    """Convert (dynamic N, H, W) and compile for the CPU with the precision ``hint``."""
    import openvino as ov

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():  # conversion traces the network: no autograd needed
            example = torch.full((1, 3, 16, 16), 128.0)
            converted = ov.convert_model(
                OneScale(model, scale), example_input=example, input=[-1, 3, -1, -1]
            )
    finally:
        model.train(was_training)
    config = {
        "INFERENCE_PRECISION_HINT": hint,
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    }
    return ov.Core().compile_model(converted, "CPU", config)

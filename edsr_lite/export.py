"""Exporting a network to ONNX, for ONNX Runtime, OpenVINO and other inference engines.

:func:`export_onnx` writes one scale of an EDSR or MDSR network as an ONNX graph with one input
``lr`` (N x 3 x H x W float32, values 0..255, any height and width) and one output ``sr``
(N x 3 x sH x sW float32, 0..255, not rounded or clamped: that is the caller's job, as in
:class:`edsr_lite.infer.Upscaler`). An MDSR model is exported one scale at a time (its branch
is chosen by ``scale``). The file is then checked: ONNX Runtime runs it on a real image (a
Set5 image, downscaled as the benchmark protocol does) and its output must match PyTorch's
within :data:`CHECK_TOLERANCE` of a gray level, before rounding.

The export uses ``torch.onnx.export`` (the ``torch.export``-based exporter) and needs the
optional packages ``onnx``, ``onnxscript`` and ``onnxruntime``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edsr_lite.backends import OneScale
from edsr_lite.datasets import benchmark
from edsr_lite.files import atomic_write
from edsr_lite.images import to_tensor
from edsr_lite.infer import resolve_scale

__all__ = ["CHECK_TOLERANCE", "ExportCheckError", "check_onnx", "export_onnx", "require_onnx"]

#: The largest difference allowed between ONNX Runtime and PyTorch on the 0..255 output, before
#: rounding: a hundredth of a gray level, so that a saved pixel can differ only where the value
#: sits that close to a half level (measured: about 2e-4 for EDSR-baseline and MDSR-baseline,
#: float32 on the CPU).
CHECK_TOLERANCE = 0.01

#: The packages the export needs, and how to get them.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INSTALL_HINT = "pip install onnx onnxscript onnxruntime (all three are in edsr-lite[dev])"

#: The check's image: a real photograph, cropped so that the check takes a second.
CHECK_SET, CHECK_CROP = "Set5", 96


class ExportCheckError(ValueError):
    """The exported graph does not compute what the PyTorch network computes."""


def require_onnx() -> None:
    """Raise :class:`ModuleNotFoundError` naming what to install when a package is missing."""
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"ONNX export needs the package {name!r}, which is not installed: {INSTALL_HINT}",
                name=name,
            ) from None


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    scale: int | None = None,
    opset: int = 17,
    check: bool = True,
) -> Path:
    """Write ``model`` at ``scale`` to the ONNX file ``path``; returns the path.

    Args:
        model: an EDSR or MDSR network (float32; it is exported from the CPU, in eval mode,
            and left in the mode it had).
        path: the ``.onnx`` file, written atomically (:func:`edsr_lite.files.atomic_write`).
        scale: the factor; EDSR models default to their own, MDSR needs one of its scales.
        opset: the ONNX operator set (17: ONNX Runtime 1.14+, OpenVINO 2023+).
        check: run the file in ONNX Runtime against PyTorch (:func:`check_onnx`) and raise
            :class:`ExportCheckError` (the file removed) if they differ by more than
            :data:`CHECK_TOLERANCE`.

    The graph's input ``lr`` is N x 3 x H x W float32 in 0..255, with N, H and W dynamic; its
    output ``sr`` is N x 3 x sH x sW float32 (round and clamp to get the image).
    """
    require_onnx()
    scale = resolve_scale(model, scale)
    net = OneScale(getattr(model, "module", model), scale).cpu()
    was_training = net.training
    net.eval()
    try:
        data = _export_bytes(net, opset)
    finally:
        net.train(was_training)
    path = atomic_write(path, lambda f: f.write(data))
    if check:
        try:
            check_onnx(model, path, scale)
        except ExportCheckError:
            path.unlink(missing_ok=True)  # a file that computes something else is no export
            raise
    return path


def _export_bytes(net: nn.Module, opset: int) -> bytes:
    """The serialized ONNX model of ``net`` (one image input, dynamic batch, height, width)."""
    example = torch.rand(1, 3, 32, 40) * 255  # any size: the graph keeps them symbolic
    batch = torch.export.Dim("batch", min=1)
    height, width = torch.export.Dim("height", min=2), torch.export.Dim("width", min=2)
    with _quiet_exporter():
        program = torch.onnx.export(
            net,
            (example,),
            input_names=["lr"],
            output_names=["sr"],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=({0: batch, 2: height, 3: width},),
            external_data=False,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


#: The loggers the exporter reports its steps (and optional operators it skips) through.
EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress lines and deprecation notices (not the user's
    business), then restore the loggers as they were."""
    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def check_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    scale: int | None = None,
    image: np.ndarray | None = None,
    tolerance: float = CHECK_TOLERANCE,
) -> float:
    """Run the ONNX file ``path`` in ONNX Runtime and ``model`` in PyTorch on one image.

    ``image``: uint8 H x W x 3 LR input; default: the first image of Set5 downscaled by
    ``scale`` (the benchmark protocol), top-left 96 x 96 crop. Returns the largest absolute
    difference on the 0..255 float output; raises :class:`ExportCheckError` above ``tolerance``.
    """
    require_onnx()
    import onnxruntime

    scale = resolve_scale(model, scale)
    if image is None:
        _, _, lr = next(iter(benchmark(CHECK_SET, scale)))
        image = lr[:CHECK_CROP, :CHECK_CROP]
    x = to_tensor(image, channels_last=False)  # ONNX Runtime reads contiguous NCHW
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            expected = model(x, scale).numpy()
    finally:
        model.train(was_training)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"lr": x.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportCheckError(f"{path}: ONNX output {got.shape}, PyTorch {expected.shape}")
    diff = float(np.abs(got - expected).max())
    if not diff <= tolerance:
        raise ExportCheckError(
            f"{path}: ONNX Runtime and PyTorch differ by up to {diff:.4g} gray levels (allowed: "
            f"{tolerance}) on a {image.shape[1]}x{image.shape[0]} image at x{scale}: the "
            "graph does not compute what the network does"
        )
    return diff

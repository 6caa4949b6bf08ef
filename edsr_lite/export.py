"""Exporting a network to ONNX, for ONNX Runtime, OpenVINO and other inference engines.

:func:`export_onnx` writes one scale of an EDSR or MDSR network as an ONNX graph with one input
``lr`` (N x 3 x H x W float32, values 0..255, any height and width) and one output ``sr``
(N x 3 x sH x sW float32, 0..255, not rounded or clamped: that is the caller's job, as in
:class:`edsr_lite.infer.Upscaler`). An MDSR model is exported one scale at a time (its branch
is chosen by ``scale``). The file is then checked: ONNX Runtime runs it on a real image (a
Set5 image, downscaled as the benchmark protocol does) and its output must match PyTorch's
within :data:`CHECK_TOLERANCE` of a gray level, before rounding.

The destination is checked before the export starts (:func:`check_destination`: an ``.onnx``
name, not a folder, in an existing folder that can be written), and the opset before it too
(:func:`check_opset`: :data:`MIN_OPSET` to :data:`MAX_OPSET`, the ones the exporter writes as
asked). The written model's own opset is read back (:func:`onnx_opset`) and must be the one
asked for. Only a checked graph reaches ``path``: it is checked from memory, then written
atomically (a temporary file in the same folder, then a rename) under an inter-process lock
on the destination (:mod:`filelock`), so two exports to one file never mix.

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
from filelock import FileLock
from torch import nn

from edsr_lite.backends import OneScale
from edsr_lite.datasets import benchmark
from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import atomic_write
from edsr_lite.images import to_tensor
from edsr_lite.infer import resolve_scale

__all__ = [
    "CHECK_TOLERANCE",
    "DEFAULT_OPSET",
    "MAX_OPSET",
    "MIN_OPSET",
    "ExportCheckError",
    "ExportError",
    "check_destination",
    "check_onnx",
    "check_opset",
    "export_onnx",
    "onnx_opset",
    "require_onnx",
]

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

#: The ONNX operator sets (``ai.onnx``) an export can ask for: those ``torch.onnx.export``
#: (torch 2.13, onnxscript 0.7) writes as asked for these networks. Measured: 14 to 28 are
#: written as asked and run in ONNX Runtime 1.32; below 14 its version converter gives up
#: and the file holds opset 18 whatever was asked (so did -1, 29 and 99).
MIN_OPSET, MAX_OPSET = 14, 28
#: 17: ONNX Runtime 1.14+, OpenVINO 2023+.
DEFAULT_OPSET = 17
#: The file extension of an export.
SUFFIX = ".onnx"


class ExportError(EdsrLiteError, ValueError):
    """An export that cannot be done as asked (the destination, the opset); nothing written."""


class ExportCheckError(ExportError):
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


def check_destination(path: str | os.PathLike, overwrite: bool = True) -> Path:
    """``path`` as a :class:`~pathlib.Path` if an export can be written there, else one
    :class:`ExportError` line that says what to change: a name without ``.onnx``, a folder, an
    existing file (with ``overwrite=False``), a folder that does not exist or cannot be written.
    Checked before the export starts (it takes seconds)."""
    path = Path(path).expanduser()
    folder = path.parent
    if path.suffix.lower() != SUFFIX:
        raise ExportError(f"{path}: an ONNX file's name ends in {SUFFIX}; name it so.")
    if path.is_dir():
        raise ExportError(
            f"{path} is a folder: name a file to write, such as {path / 'model'}.onnx."
        )
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; use --overwrite to replace it.")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ExportError(f"{folder} {what}: create that folder first, or write elsewhere.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write into {folder} (no permission): write elsewhere.")
    return path


def check_opset(opset: int) -> int:
    """``opset`` if the exporter writes it as asked (:data:`MIN_OPSET`..:data:`MAX_OPSET`),
    else one :class:`ExportError` line naming the range."""
    if not (isinstance(opset, int) and MIN_OPSET <= opset <= MAX_OPSET):
        raise ExportError(
            f"ONNX opset {opset} cannot be written: the exporter writes opsets {MIN_OPSET} to "
            f"{MAX_OPSET}. Choose one of them (--opset {DEFAULT_OPSET}, the default, runs in "
            "ONNX Runtime 1.14+ and OpenVINO 2023+)."
        )
    return opset


def onnx_opset(model: str | os.PathLike | bytes) -> int:
    """The ``ai.onnx`` operator set an ONNX model holds (a file, or its bytes): what was
    written, whatever was asked for."""
    import onnx

    if isinstance(model, bytes):
        proto = onnx.load_from_string(model)
    else:
        proto = onnx.load(os.fspath(model), load_external_data=False)
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ExportError(
            f"{model if not isinstance(model, bytes) else 'the model'}: no ai.onnx opset"
        )
    return int(versions[0])


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    scale: int | None = None,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    overwrite: bool = True,
) -> Path:
    """Write ``model`` at ``scale`` to the ONNX file ``path``; returns the path.

    Args:
        model: an EDSR or MDSR network (float32; it is exported from the CPU, in eval mode,
            and left in the mode it had).
        path: the ``.onnx`` file, checked first (:func:`check_destination`), written
            atomically under a lock on it.
        scale: the factor; EDSR models default to their own, MDSR needs one of its scales.
        opset: the ONNX operator set, :data:`MIN_OPSET` to :data:`MAX_OPSET` (17: ONNX
            Runtime 1.14+, OpenVINO 2023+); the file holds exactly this one
            (:func:`onnx_opset` reads it back).
        check: run the graph in ONNX Runtime against PyTorch (:func:`check_onnx`) before it is
            written; raise :class:`ExportCheckError` (nothing written) if they differ by more
            than :data:`CHECK_TOLERANCE`.
        overwrite: replace an existing file (``False``: :class:`ExportError` instead).

    Raises:
        ExportError: the destination or the opset, before any work; an opset not written as
            asked; the check. Nothing is written then.

    The graph's input ``lr`` is N x 3 x H x W float32 in 0..255, with N, H and W dynamic; its
    output ``sr`` is N x 3 x sH x sW float32 (round and clamp to get the image).
    """
    path = check_destination(path, overwrite)
    check_opset(opset)
    require_onnx()
    scale = resolve_scale(model, scale)
    net = OneScale(getattr(model, "module", model), scale).cpu()
    was_training = net.training
    net.eval()
    try:
        data = _export_bytes(net, opset)
    finally:
        net.train(was_training)
    if (written := onnx_opset(data)) != opset:  # never report an opset the file does not hold
        raise ExportError(
            f"the exporter wrote ONNX opset {written} when {opset} was asked; nothing was "
            f"written. Use --opset {DEFAULT_OPSET}, or {written}."
        )
    if check:
        check_onnx(model, data, scale)  # before writing: only a checked graph reaches path
    _write_locked(path, data, overwrite)
    return path


def _write_locked(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically, holding ``<path>.lock`` (removed while still
    held, so the folder keeps only the export; :mod:`filelock` never counts a removed lock
    file as held). ``overwrite=False``: a file that appeared meanwhile is not replaced."""
    lock_file = path.with_name(path.name + ".lock")
    lock = FileLock(lock_file)
    with lock:
        try:
            atomic_write(path, lambda f: f.write(data), replace=overwrite)
        except FileExistsError:
            raise ExportError(f"{path} exists; use --overwrite to replace it.") from None
        finally:
            with contextlib.suppress(OSError):
                lock_file.unlink()


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
    path: str | os.PathLike | bytes,
    scale: int | None = None,
    image: np.ndarray | None = None,
    tolerance: float = CHECK_TOLERANCE,
) -> float:
    """Run the ONNX file ``path`` (or a model's bytes) in ONNX Runtime and ``model`` in
    PyTorch on one image.

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
    source = path if isinstance(path, bytes) else os.fspath(path)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    if isinstance(path, bytes):
        path = "the exported graph"
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

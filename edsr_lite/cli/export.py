"""``edsr-lite export``: write a network as an ONNX file, checked in ONNX Runtime.

``edsr-lite export model.onnx --model edsr_baseline_x2`` checks the destination and the opset
(before any work), loads the model (a shipped name, an official one, or a checkpoint file;
``-s`` picks one scale of an MDSR model), exports it with dynamic height and width
(:func:`edsr_lite.export.export_onnx`), checks the graph against PyTorch on a Set5 image, and
prints the opset the written file holds (read back from it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edsr_lite.cli import UserError
from edsr_lite.cli.common import load_cli_model, scale_arg
from edsr_lite.export import (
    CHECK_TOLERANCE,
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
    check_destination,
    check_opset,
    export_onnx,
    onnx_opset,
)

DESCRIPTION = (
    "Export a model (one scale of it) to ONNX: input 'lr', N x 3 x H x W float32 in 0..255 "
    "(any H and W), output 'sr', N x 3 x sH x sW float32 (round and clamp to 0..255 for the "
    "image). The file is run in ONNX Runtime on a Set5 image and refused if it differs from "
    f"PyTorch by more than {CHECK_TOLERANCE} gray levels. Needs: pip install onnx onnxscript "
    "onnxruntime."
)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``edsr-lite export``."""
    p.description = DESCRIPTION
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument(
        "--model",
        default=None,
        help="a shipped checkpoint name (see 'edsr-lite weights list'), an official one, or a "
        "checkpoint file; default: the best shipped model for the scale",
    )
    p.add_argument(
        "-s",
        "--scale",
        type=scale_arg,
        default=None,
        help="the scale to export (an MDSR model needs one); default: the model's own",
    )
    p.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX operator set, {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run_export_command(args: argparse.Namespace) -> int:
    """``edsr-lite export``: load, export, check; prints what was written."""
    if args.model == "bicubic":
        raise UserError("bicubic is not a network: name a checkpoint with --model")
    # Before loading the model and the seconds of export: where, and which opset.
    path = check_destination(Path(args.output), overwrite=args.overwrite)
    check_opset(args.opset)
    model, scale = load_cli_model(args.model, args.scale)
    try:
        export_onnx(model, path, scale, opset=args.opset, overwrite=args.overwrite)
    except ModuleNotFoundError as exc:
        raise UserError(str(exc)) from None
    preset = getattr(model, "config", {}).get("preset", "model")
    opset = onnx_opset(path)  # what the file holds, read back
    print(f"{path}: {preset} x{scale}, ONNX opset {opset}, checked in ONNX Runtime")
    return 0

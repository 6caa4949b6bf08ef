"""``edsr-lite upscale``: upscale image files with a model (or bicubic), writing PNGs.

:func:`add_upscale_arguments` declares the flags, :func:`run_upscale_command` runs them: the
model (a shipped name, a checkpoint file, ``bicubic``, or by default the best shipped one for
the scale) is wrapped once in an :class:`edsr_lite.infer.Upscaler` (tiling within
``--max-memory-mb``, ``--ensemble``) and applied to each input in turn. Outputs are
``<name>_x<scale>.png`` beside the input or in ``--out-dir`` (:func:`output_path`), written
atomically and never over an existing file without ``--overwrite``; an unreadable input is
reported and skipped, and the exit status is 1 if any input was not written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import nn

from edsr_lite.images import ImageReadError, read_image, write_png
from edsr_lite.imresize import imresize
from edsr_lite.infer import DEFAULT_MAX_MEMORY_MB, Upscaler, resolve_scale
from edsr_lite.progress import progress_bar

# --------------------------------------------------------------------------- the CLI command


def add_upscale_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``edsr-lite upscale``."""
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files to upscale")
    p.add_argument(
        "-s",
        "--scale",
        type=int,
        default=None,
        help="upscaling factor (2, 3 or 4); default: the model's own",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="output file (only with a single input)")
    out.add_argument("--out-dir", help="folder for the outputs (default: next to each input)")
    p.add_argument(
        "--model",
        default=None,
        help="'bicubic', a shipped checkpoint name (see 'edsr-lite info'), or a "
        "checkpoint file; default: the best shipped model for the scale",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="self-ensemble x8 (the paper's '+'): a little sharper, 8x slower",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile size in input pixels (default: from --max-memory-mb; 0: no tiling)",
    )
    p.add_argument(
        "--max-memory-mb",
        type=float,
        default=DEFAULT_MAX_MEMORY_MB,
        help=f"memory budget for automatic tiling (default {DEFAULT_MAX_MEMORY_MB})",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default: cpu")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def output_path(input_path: Path, scale: int, output: str | None, out_dir: str | None) -> Path:
    """``<name>_x<scale>.png`` next to the input or in ``out_dir``; or ``output`` as given."""
    if output:
        return Path(output)
    folder = Path(out_dir) if out_dir else input_path.parent
    return folder / f"{input_path.stem}_x{scale}.png"


def _load_cli_model(name: str | None, scale: int | None) -> tuple[nn.Module | str, int]:
    from edsr_lite.weights import default_pretrained, load_model

    if name == "bicubic":
        return "bicubic", resolve_scale("bicubic", scale)
    if name is None:
        name = default_pretrained(scale)
    model = load_model(name, scale=scale)
    return model, resolve_scale(model, scale)


def run_upscale_command(args: argparse.Namespace) -> int:
    """``edsr-lite upscale``: every input, one by one; bad files are reported, not fatal."""
    if args.output and len(args.inputs) > 1:
        raise ValueError("-o/--output takes a single input; use --out-dir for several")
    model, scale = _load_cli_model(args.model, args.scale)
    upscaler = (
        None
        if isinstance(model, str)
        else Upscaler(
            model,
            args.ensemble,
            args.tile,
            None,
            args.max_memory_mb,
            args.device,
            progress=not args.quiet,
        )
    )
    failed = 0
    for name in progress_bar(
        args.inputs, "images", enabled=not args.quiet and len(args.inputs) > 1
    ):
        source = Path(name)
        target = output_path(source, scale, args.output, args.out_dir)
        if target.exists() and not args.overwrite:
            print(
                f"skipped {source}: {target} exists (use --overwrite to replace it)",
                file=sys.stderr,
            )
            failed += 1
            continue
        try:
            lr = read_image(source)
            sr = imresize(lr, scale) if upscaler is None else upscaler(lr, scale)
            write_png(target, sr)
        except (ImageReadError, OSError) as exc:
            print(f"failed {source}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(f"{source} -> {target} ({sr.shape[1]}x{sr.shape[0]})")
    if failed:
        print(f"{failed} of {len(args.inputs)} inputs not written", file=sys.stderr)
    return 1 if failed else 0

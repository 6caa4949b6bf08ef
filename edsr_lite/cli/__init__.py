"""The ``edsr-lite`` command: upscale, eval, train, info.

Each subcommand is a thin layer over a package function; user mistakes (a missing file, a
wrong scale) print one clear line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edsr_lite import __version__


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def _add_upscale(sub: argparse._SubParsersAction) -> None:
    from edsr_lite.cli.upscale import add_upscale_arguments

    p = sub.add_parser(
        "upscale",
        help="upscale images with a model (or bicubic)",
        description="Upscale one or more images. Writes <name>_x<scale>.png next to each input "
        "(or into --out-dir), never overwriting an existing file unless --overwrite.",
    )
    add_upscale_arguments(p)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PSNR/SSIM on the benchmark sets under the paper's protocol",
        description="Evaluate a model (or bicubic) on Set5/Set14/B100: Y-channel PSNR and SSIM "
        "with the border shaved by the scale, as in the EDSR paper.",
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=["Set5", "Set14", "B100"],
        dest="sets",
        help="benchmark sets (names or folders of images); default: Set5 Set14 B100",
    )
    p.add_argument(
        "--scale",
        nargs="+",
        type=int,
        default=None,
        dest="scales",
        help="scales to evaluate; default: each model's own (2 3 4 for bicubic)",
    )
    p.add_argument(
        "--model",
        nargs="+",
        default=["bicubic"],
        dest="models",
        metavar="MODEL",
        help="'bicubic', shipped checkpoint names, or checkpoint files (several: one table)",
    )
    p.add_argument(
        "--protocol",
        default="model",
        choices=["model", "paper_bicubic"],
        help="'model' (EDSR's, default) or 'paper_bicubic' (the paper's bicubic column)",
    )
    p.add_argument("--ensemble", action="store_true", help="self-ensemble x8 (the paper's '+')")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default: cpu")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the rows as JSON (full precision) instead of the table",
    )


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what a checkpoint holds: preset, scales, parameters, training")
    p.add_argument("checkpoint", help="a checkpoint file or a shipped checkpoint's name")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from edsr_lite.cli.train import add_train_arguments

    p = sub.add_parser(
        "train",
        help="train EDSR/MDSR with the paper's recipe",
        description="Train a model with the paper's recipe (L1 loss, Adam, 48x48 LR patches, "
        "lr halved every --decay-steps).",
    )
    add_train_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edsr-lite",
        description="EDSR/MDSR super-resolution (Lim et al., CVPRW 2017), for the CPU.",
    )
    parser.add_argument("--version", action="version", version=f"edsr-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_upscale(sub)
    _add_eval(sub)
    _add_info(sub)
    _add_train(sub)
    return parser


def _run_eval(args: argparse.Namespace) -> int:
    import json

    from edsr_lite.evaluation import evaluate, evaluate_checkpoint, format_table

    rows = []
    for model in args.models:
        if model == "bicubic":
            scales = args.scales or [2, 3, 4]
            rows += evaluate(model, args.sets, scales, protocol=args.protocol, progress=True)
        else:
            rows += evaluate_checkpoint(
                model,
                args.sets,
                args.scales,
                ensemble=args.ensemble,
                device=args.device,
                protocol=args.protocol,
                progress=True,
            )
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from edsr_lite.weights import describe_checkpoint

    print(describe_checkpoint(args.checkpoint))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "upscale":
        from edsr_lite.cli.upscale import run_upscale_command

        return run_upscale_command(args)
    if args.command == "eval":
        return _run_eval(args)
    if args.command == "info":
        return _run_info(args)
    from edsr_lite.cli.train import run_train_command

    return run_train_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edsr-lite`` console script; returns the exit status."""
    from edsr_lite.checkpoints import CheckpointError
    from edsr_lite.images import ImageReadError

    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (UserError, CheckpointError, ImageReadError, FileNotFoundError, ValueError) as exc:
        print(f"edsr-lite {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        why = f" ({exc})" if str(exc) else ""  # e.g. which step training saved before stopping
        print(f"edsr-lite {args.command}: interrupted{why}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``edsr-lite`` command: upscale, eval, train, info, weights, export.

Each subcommand is a thin layer over a package function; user mistakes (a missing file, a
wrong scale) print one clear line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
import time
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


def _add_weights(sub: argparse._SubParsersAction) -> None:
    from edsr_lite.cli.weights import add_weights_arguments

    p = sub.add_parser("weights", help="the authors' weights: list, fetch (on request only)")
    add_weights_arguments(p)


def _add_export(sub: argparse._SubParsersAction) -> None:
    from edsr_lite.cli.export import add_export_arguments

    p = sub.add_parser("export", help="write a model as an ONNX file, checked in ONNX Runtime")
    add_export_arguments(p)


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
    _add_weights(sub)
    _add_export(sub)
    return parser


def _load_eval_models(names: Sequence[str], scales: Sequence[int] | None) -> dict:
    """``{name: network}`` (``None`` for bicubic), each loaded once, and every one checked
    against ``--scale`` before anything is scored: a mismatch found after minutes of scoring
    would throw the finished rows away."""
    from edsr_lite.checkpoint_eval import scale_mismatch
    from edsr_lite.weights import load_model, resolve_checkpoint

    models = {n: None if n == "bicubic" else load_model(resolve_checkpoint(n)) for n in names}
    mismatches = (scale_mismatch(n, m, scales or ()) for n, m in models.items() if m is not None)
    wrong = [m for m in mismatches if m]
    if wrong:
        raise UserError(
            f"--scale {' '.join(map(str, scales))}: {'; '.join(wrong)}. Nothing was scored: "
            "leave out --scale (each model is scored at its own scales), or evaluate these "
            "models separately."
        )
    return models


#: ``edsr-lite eval`` announces its duration when the estimate is at least this long.
LONG_RUN_SECONDS = 60.0


def _announce_eval(models: dict, args: argparse.Namespace) -> float:
    """Print (to stderr) how long the evaluation will take when that is at least
    :data:`LONG_RUN_SECONDS` (a full-size EDSR takes minutes); return the start time."""
    from edsr_lite.checkpoint_eval import PROBE, estimate_seconds
    from edsr_lite.progress import format_duration

    seconds = sum(
        estimate_seconds(
            model,
            args.sets,
            [s for s in (args.scales or model.scales) if s in model.scales],
            args.ensemble,
            args.device,
        )
        for model in models.values()
        if model is not None
    )
    if seconds >= LONG_RUN_SECONDS:
        ensemble = ", x8 for the self-ensemble" if args.ensemble else ""
        print(
            f"edsr-lite eval: this will take up to about {format_duration(seconds)} here (a "
            f"timed {PROBE}x{PROBE} forward pass per model and scale, times the pixels of "
            f"{', '.join(args.sets)}{ensemble})",
            file=sys.stderr,
        )
    return time.perf_counter()


def _report_time(command: str, started: float, quiet: bool = False) -> None:
    """``edsr-lite upscale: done in 12.3 s`` (to stderr, so the results stay clean)."""
    from edsr_lite.progress import format_duration

    if not quiet:
        took = format_duration(time.perf_counter() - started)
        print(f"edsr-lite {command}: done in {took}", file=sys.stderr)


def _run_eval(args: argparse.Namespace) -> int:
    import json

    from edsr_lite.checkpoint_eval import evaluate_checkpoint
    from edsr_lite.evaluation import evaluate, format_table

    models = _load_eval_models(args.models, args.scales)
    started = _announce_eval(models, args)
    rows = []
    for name, model in models.items():
        if model is None:
            scales = args.scales or [2, 3, 4]
            rows += evaluate("bicubic", args.sets, scales, protocol=args.protocol, progress=True)
        else:
            rows += evaluate_checkpoint(
                name,
                args.sets,
                args.scales,
                ensemble=args.ensemble,
                device=args.device,
                protocol=args.protocol,
                progress=True,
                model=model,
            )
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    _report_time("eval", started)
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from edsr_lite.summary import describe_checkpoint

    print(describe_checkpoint(args.checkpoint))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "upscale":
        from edsr_lite.cli.upscale import run_upscale_command

        started = time.perf_counter()
        status = run_upscale_command(args)
        _report_time("upscale", started, quiet=args.quiet)
        return status
    if args.command == "eval":
        return _run_eval(args)
    if args.command == "info":
        return _run_info(args)
    if args.command == "weights":
        from edsr_lite.cli.weights import run_weights_command

        return run_weights_command(args)
    if args.command == "export":
        from edsr_lite.cli.export import run_export_command

        return run_export_command(args)
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
    except OSError as exc:  # a full disk: the message says what was being saved, what to do
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"edsr-lite {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        why = f" ({exc})" if str(exc) else ""  # e.g. which step training saved before stopping
        print(f"edsr-lite {args.command}: interrupted{why}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``edsr-lite`` command: upscale, eval, train, info, weights, export.

Each subcommand is a thin layer over a package function. :func:`main` is the one error boundary:
a user's mistake or a fault of the machine prints one line, ``edsr-lite COMMAND: error: ...``,
that names the file, flag or variable and says what to do, never a traceback
(:func:`describe_error` says which faults and which exit status). ``--debug`` (or
``EDSR_LITE_DEBUG=1``) shows the traceback instead. Exit statuses: 0 done, 1 a fault of the
machine, the network or a file, 2 a mistake in the command (argparse's status too), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import errno
import json
import lzma
import os
import pickle
import re
import sys
import time
import zlib
from collections.abc import Sequence

from edsr_lite import __version__
from edsr_lite.errors import EdsrLiteError


class UserError(EdsrLiteError):
    """A mistake in the command line the user can fix; printed without a traceback (status 2)."""


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
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show an error's traceback instead of its one line (or set {DEBUG_VARIABLE}=1)",
    )
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
    from edsr_lite.checkpoint_eval import evaluate_checkpoint
    from edsr_lite.evaluation import evaluate, format_table, rows_as_json

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
    print(rows_as_json(rows) if args.json else format_table(rows))
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


#: Set to 1 to see an error's traceback instead of its one line, as with ``--debug``.
DEBUG_VARIABLE = "EDSR_LITE_DEBUG"
#: A file that could not be decoded: a bad file, a fault of the input (exit status 1).
DECODE_ERRORS = (
    UnicodeError,
    json.JSONDecodeError,
    lzma.LZMAError,
    zlib.error,
    pickle.UnpicklingError,
    EOFError,
)
#: How PyTorch words a failed allocation (a RuntimeError, not a MemoryError).
TORCH_ALLOC = re.compile(r"alloc|DefaultCPUAllocator|out of memory", re.IGNORECASE)
#: How PyTorch words a device it was not built for or does not see (``--device mps``,
#: ``cuda:3`` on a machine without them): a RuntimeError, or an AttributeError of ``torch._C``.
TORCH_NO_DEVICE = re.compile(
    r"not linked with support for|not compiled with|no CUDA GPUs|invalid device ordinal"
    r"|NVIDIA driver|torch\._C' has no attribute '_cuda"
)
#: The most characters of a message shown (a MemoryError may hold a huge repr()).
MESSAGE_LIMIT = 2000
#: What to do about a fault of the file system, after the system's own words for it.
OS_ADVICE = {
    errno.EACCES: "no permission: choose another place, or change its permissions",
    errno.EPERM: "not permitted: choose another place, or change its permissions",
    errno.EROFS: "a read-only file system: choose another place",
    errno.ENOSPC: "free some space and run the same command again",
    errno.EDQUOT: "free some space and run the same command again",
    errno.EISDIR: "it is a folder: name a file",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.ENOENT: "check the path",
}


def describe_error(exc: BaseException, device: object = None) -> tuple[int, str] | None:
    """``(exit status, one line)`` telling the user about ``exc``; ``None`` for a bug (its
    traceback is the useful report). ``device`` is the ``--device`` asked for, if any.

    Status 2, a mistake in the command: a :class:`UserError`, a ``ValueError`` or
    ``TypeError`` from checking an argument (the package's ``CheckpointError``,
    ``ImageReadError``, ``RunRecordError`` are ValueErrors: a file given that is not what it
    should be), a file named that does not exist, a device PyTorch does not see.
    Status 1, a fault of the machine, the network or a file's bytes: any other ``OSError``
    (permissions, a read-only place, a folder in the way, a full disk, a download), a
    ``MemoryError`` or PyTorch's failed allocation, a file that cannot be decoded, any other
    :class:`~edsr_lite.errors.EdsrLiteError`.
    """
    if isinstance(exc, DECODE_ERRORS):  # before ValueError: UnicodeDecodeError is one
        return 1, (
            f"a file could not be decoded ({exc}): check the files the command reads "
            "(--debug shows where)"
        )
    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and TORCH_ALLOC.search(str(exc))
    ):
        detail = str(exc).split("DefaultCPUAllocator: ")[-1].strip().split("\n")[0]
        return 1, (
            f"out of memory ({detail or 'MemoryError'}): ask for less (a smaller image, "
            "--scale, --tile or --batch-size) or close other programs"
        )
    if isinstance(exc, RuntimeError | AttributeError) and TORCH_NO_DEVICE.search(str(exc)):
        named = re.search(r"support for (\w+) devices", str(exc))  # mps, xpu, ...
        asked = device if isinstance(device, str) else named and named.group(1)
        flag = f"--device {device}: " if isinstance(device, str) else ""
        return 2, f"{flag}PyTorch sees no {asked or 'such'} device here: use --device cpu"
    if isinstance(exc, FileNotFoundError) and not isinstance(exc, EdsrLiteError):
        return 2, _os_error_line(exc)
    if isinstance(exc, UserError | ValueError | TypeError):
        return 2, str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, EdsrLiteError):
        return 1, _os_error_line(exc)
    if isinstance(exc, EdsrLiteError):
        return 1, str(exc)
    return None


def _os_error_line(exc: OSError) -> str:
    """``path: the system's words (what to do)``; a message the package wrote, as it is."""
    words = exc.strerror or str(exc)
    where = f"{exc.filename}: " if exc.filename is not None else ""
    own = exc.errno is not None and words == os.strerror(exc.errno)  # the system's own words
    advice = f" ({OS_ADVICE[exc.errno]})" if own and exc.errno in OS_ADVICE else ""
    return f"{where}{words}{advice}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edsr-lite`` console script; returns the exit status.

    The one error boundary of the command line (see :func:`describe_error`); warnings of the
    libraries underneath are shown as one line each (:func:`~edsr_lite.cli.common.plain_warnings`).
    """
    args = build_parser().parse_args(argv)
    # --debug is the boundary's, not the command's (train reads its options off ``args``)
    debug = vars(args).pop("debug") or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    command = f"edsr-lite {args.command}"
    try:
        from edsr_lite.cli.common import plain_warnings

        with plain_warnings(f"{command}: warning: "):
            return _run(args)
    except KeyboardInterrupt as exc:
        if debug:
            raise
        why = f" ({exc})" if str(exc) else ""  # e.g. which step training saved before stopping
        print(f"{command}: interrupted{why}", file=sys.stderr)
        return 130
    except Exception as exc:
        described = describe_error(exc, getattr(args, "device", None))
        if described is None or debug:
            raise
        status, message = described
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + " [...]"
        print(f"{command}: error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())

"""``edsr-lite train``: the flags, mapped onto :class:`~edsr_lite.train.TrainConfig`, and the run.

Every flag is a :class:`TrainConfig` field (``--decay-steps`` is ``decay_steps``); a flag that
is not given keeps the value from ``--config`` (a YAML file), or from the stored run with
``--resume``, else the default (the paper's recipe, CPU-sized: :mod:`edsr_lite.core.recipe`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.cli.common import plain_warnings
from edsr_lite.core.models import PRESETS
from edsr_lite.runs import RUN_JSON, finished_run_info
from edsr_lite.train import TrainConfig, read_yaml, train
from edsr_lite.train.config import check_same_run
from edsr_lite.train.runlog import LATEST


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``edsr-lite train``; every flag maps onto a :class:`TrainConfig` field.

    Flags that are not given keep the value from ``--config`` (or the stored run with
    ``--resume``), else the default.
    """
    d = TrainConfig()
    parser.epilog = (
        "Examples:\n"
        "  edsr-lite train --preset edsr_tiny --scale 2 --data T91 --max-minutes 2 --out runs/t\n"
        "  edsr-lite train --config configs/edsr_baseline_x2.yaml --out runs/b2\n"
        "  edsr-lite train --out runs/b2 --resume --max-steps 6000\n"
        "  torchrun --nproc_per_node 2 -m edsr_lite train --preset edsr_tiny --out runs/ddp"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = _flag_adder(parser)
    add("--config", metavar="FILE.yaml", help="read options from a YAML file (flags override it)")

    g = parser.add_argument_group("model")
    add(g, "--preset", choices=list(PRESETS), help=f"network preset (default {d.preset})")
    add(
        g,
        "--scale",
        type=int,
        nargs="+",
        metavar="S",
        help="EDSR: one scale (default 2); MDSR: its scales (default 2 3 4)",
    )
    add(g, "--n-resblocks", type=int, metavar="B", help="residual blocks (default: the preset's)")
    add(g, "--n-feats", type=int, metavar="F", help="feature channels (default: the preset's)")
    add(g, "--res-scale", type=float, metavar="X", help="residual scaling (default: the preset's)")
    add(g, "--bn", action="store_true", help="SRResNet blocks with batch norm (an ablation)")
    add(
        g,
        "--init-from",
        metavar="CKPT",
        help="start from a checkpoint's matching tensors "
        "(pretrained initialization; the report is printed and kept in run.json)",
    )

    g = parser.add_argument_group("data")
    add(
        g,
        "--data",
        nargs="+",
        metavar="SET|DIR",
        help=f"HR training images: T91, BSD200, DIV2K or a folder; several are used together "
        f"(--data T91 BSD200: VDSR's 291 images) (default {d.data})",
    )
    add(
        g,
        "--patch-size",
        type=int,
        metavar="P",
        help=f"side of the random patches in LR pixels "
        f"(default {d.patch_size}, the paper's; HR patches are scale x P)",
    )
    add(g, "--no-augment", dest="augment", action="store_false", help="no flips/rotations")
    add(
        g,
        "--cache",
        choices=["auto", "memory", "disk"],
        help="LR images in memory, or as .npy files in OUT/cache (default auto)",
    )
    add(g, "--val-data", metavar="SET", help=f"validation set, or 'none' (default {d.val_data})")
    add(g, "--val-images", type=int, metavar="N", help="validate on the first N images only")
    add(
        g,
        "--val-every",
        type=int,
        metavar="STEPS",
        help=f"steps between validations (default {d.val_every})",
    )

    g = parser.add_argument_group("recipe (defaults: the paper's, with a CPU-sized schedule)")
    add(g, "--batch-size", type=int, metavar="N", help=f"minibatch (default {d.batch_size})")
    add(g, "--lr", type=float, help=f"initial learning rate (default {d.lr:g})")
    add(
        g,
        "--decay-steps",
        type=int,
        metavar="STEPS",
        help=f"halve the lr every STEPS steps (default {d.decay_steps}; paper 2e5)",
    )
    add(
        g,
        "--max-steps",
        type=int,
        metavar="STEPS",
        help=f"train this many steps (default {d.max_steps}; paper ~3e5)",
    )
    add(g, "--max-minutes", type=float, metavar="MIN", help="stop after MIN minutes (wall time)")
    add(g, "--seed", type=int, help=f"random seed (default {d.seed})")

    g = parser.add_argument_group("speed and output")
    add(g, "--device", help="auto, cpu, cuda, cuda:1 (default auto: cuda when available)")
    add(
        g,
        "--bf16",
        action="store_true",
        help="bfloat16 mixed precision where the hardware has it (AVX512-BF16/AMX CPUs, recent "
        "GPUs): ~2x faster, ~0.05 dB lower PSNR at equal steps; elsewhere float32, with a warning",
    )
    add(
        g,
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="keep the NCHW memory format (channels_last is faster on CPU)",
    )
    add(g, "--out", metavar="DIR", help="run folder (default runs/<preset>_x<scale>)")
    add(
        g,
        "--save-every",
        type=int,
        metavar="STEPS",
        help="steps between latest.pt saves (default: --val-every)",
    )
    add(
        g,
        "--resume",
        action="store_true",
        help="continue the run in --out from its latest.pt, with its stored settings",
    )
    add(g, "--half-best", action="store_true", help="store best.pt in float16 (half the size)")
    add(
        g,
        "--xz-best",
        action="store_true",
        help="xz-compress best.pt (edsr-lite reads it as any checkpoint; xz -dc undoes it)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def _flag_adder(parser: argparse.ArgumentParser) -> Callable[..., None]:
    """``add([group,] flag, ...)``: add_argument with default SUPPRESS, so only given flags
    appear in the parsed namespace (and override the config file)."""

    def add(*args: Any, **kwargs: Any) -> None:
        target = parser
        if args and not isinstance(args[0], str):
            target, args = args[0], args[1:]
        target.add_argument(*args, default=argparse.SUPPRESS, **kwargs)

    return add


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the stored run (``--resume``), then ``--config``, then the given flags."""
    given = {k: v for k, v in vars(args).items() if k not in ("command", "config", "quiet")}
    if "scale" in given:
        given["scale"] = given["scale"][0] if len(given["scale"]) == 1 else given["scale"]
    values: dict = {}
    if getattr(args, "config", None):
        values.update(read_yaml(args.config))
    if given.get("resume") or values.get("resume"):
        values = {**_stored_config({**values, **given}), **values}
    values.update(given)
    return TrainConfig.from_dict(values)


def _stored_config(values: dict) -> dict:
    """The train config stored in the latest.pt of the run to resume, if there is one."""
    latest = TrainConfig.from_dict(values).out_dir / LATEST
    if not latest.is_file():
        return {}
    return dict(read_checkpoint(latest)["meta"].get("train_config", {}))


def finished_run(config: TrainConfig) -> dict | None:
    """The ``run.json`` of ``config``'s run folder if that run has finished its steps (at
    least ``config.max_steps``), else None."""
    info = finished_run_info(config.out_dir)
    return info if info is not None and int(info.get("step", -1)) >= config.max_steps else None


def run_train_command(args: argparse.Namespace) -> int:
    """``edsr-lite train``: train, print where the files are; returns the exit status.

    With ``--resume``, a run that has already finished its steps is left as it is (exit 0), so
    that a list of runs can be re-run to continue the unfinished ones (``make checkpoints``).
    """
    config = config_from_args(args)
    done = finished_run(config) if config.resume else None
    if done is not None:
        # A changed recipe (--preset, --lr, ...) is refused as for an unfinished run.
        check_same_run(done.get("train_config") or {}, config)
        if not args.quiet:
            print(f"{config.out_dir}: finished at step {done['step']} ({RUN_JSON}); nothing to do")
        return 0
    with plain_warnings():
        result = train(config, quiet=args.quiet)
    if result.latest is not None and not args.quiet:
        best = f"{result.best_psnr:.2f} dB at step {result.best_step}" if result.best else "-"
        print(
            f"done: step {result.step} ({result.steps_per_second:.2f} steps/s, "
            f"stopped by {result.stopped_by}); best validation PSNR {best}\n"
            f"  {result.latest}\n  {result.best or '(no best.pt: no validation)'}\n"
            f"  {result.log_path}"
        )
    return 0

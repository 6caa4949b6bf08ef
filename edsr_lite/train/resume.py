"""``latest.pt``: what a stopped run continues from, exactly as if it had not stopped.

It holds the weights, Adam's moments, the scheduler's count, the step, the training time so
far, the RNG states and the log. The patches and the MDSR scale of a step are pure functions of
(seed, step, rank) (:func:`edsr_lite.patches.step_rng`), so a resumed run draws the same
minibatches as the uninterrupted one and ends with the same losses and weights.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edsr_lite.checkpoints import load_state_dict_strict, read_checkpoint, save_checkpoint
from edsr_lite.train.config import TrainConfig, check_same_run
from edsr_lite.train.runlog import BEST, LATEST, LOG_CSV


@dataclass
class Resumed:
    """What :func:`load_latest` gives back besides the restored objects."""

    step: int  # optimizer steps done
    elapsed: float  # training seconds so far
    rows: list[dict]  # the log up to ``step``
    meta: dict  # the checkpoint's metadata (best PSNR, init report, segments, ...)


def check_out_dir(out_dir: Path, resume: bool) -> None:
    """Refuse to overwrite a run: a folder with a ``latest.pt`` is continued (``resume``) or
    left alone, and a finished run shipped without ``latest.pt`` is never started over."""
    latest = out_dir / LATEST
    if latest.is_file() and not resume:
        raise ValueError(
            f"{out_dir} already holds a run ({LATEST}). Continue it with --resume "
            "(resume=True), or choose another --out folder."
        )
    kept = [name for name in (BEST, LOG_CSV) if (out_dir / name).is_file()]
    if kept and not latest.is_file():
        raise ValueError(
            f"{out_dir} holds a run's {' and '.join(kept)} but no {LATEST} to resume "
            "from; starting over would overwrite them. Choose another --out folder (or "
            "delete this one to train it again)."
        )


def save_latest(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    step: int,
    elapsed: float,
    rows: list[dict],
    meta: dict,
) -> None:
    """Write ``latest.pt`` (atomically): the weights and ``meta``, and what resuming needs."""
    extra = {
        "step": step,
        "elapsed": elapsed,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        "log": rows,
    }
    save_checkpoint(path, model, meta=meta, extra=extra)


def load_latest(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
) -> Resumed:
    """Restore weights, optimizer, scheduler and RNG states from ``latest.pt``, after checking
    that ``config`` continues the same run (:func:`~edsr_lite.train.config.check_same_run`)."""
    ckpt = read_checkpoint(path)
    check_same_run(ckpt["meta"].get("train_config", {}), config)
    load_state_dict_strict(model, ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    random.setstate(_as_tuple(ckpt["rng"]["python"]))
    rows = [dict(r) for r in ckpt["log"]]
    return Resumed(int(ckpt["step"]), float(ckpt["elapsed"]), rows, ckpt["meta"])


def saved_step(path: Path) -> int | None:
    """The step stored in the checkpoint ``path``, or None if it cannot be read."""
    try:
        return int(read_checkpoint(path)["step"])
    except Exception:
        return None


def _as_tuple(value: Any) -> Any:
    """random.setstate wants tuples; a checkpoint may give them back as lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value

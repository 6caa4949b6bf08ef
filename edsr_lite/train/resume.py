"""``latest.pt``: what a stopped run continues from, exactly as if it had not stopped.

It holds the weights, Adam's moments, the scheduler's count, the step, the training time so
far, the RNG states and the log. The patches and the MDSR scale of a step are pure functions of
(seed, step, rank) (:func:`edsr_lite.core.patches.step_rng`), so a resumed run draws the same
minibatches as the uninterrupted one and ends with the same losses and weights.

A run saves ``latest.pt`` at step 0, before any other file, so a kill at any moment leaves a
run to continue; the temporary files of a save that was killed are removed by the next run in
the folder (:func:`remove_stale_temp_files`). :class:`StopRequest` turns Ctrl-C and SIGTERM
into a stop after the current step, with ``latest.pt`` saved.

One run at a time writes a folder: :class:`RunFolderLock` holds ``<out>/.lock`` (an inter-process
lock of :mod:`filelock`, held by an open file, so it dies with its process) from the moment a
run is set up until it ends; a second run on the same folder is refused at once, before it reads
or writes any file there (:class:`RunFolderInUse`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import nn

from edsr_lite.checkpoints import load_state_dict_strict, read_checkpoint, save_checkpoint
from edsr_lite.errors import EdsrLiteError
from edsr_lite.runs import RUN_JSON, run_status
from edsr_lite.train.config import TrainConfig, check_same_run
from edsr_lite.train.runlog import BEST, LATEST, LOG_CSV, saving

#: The lock file of a run folder (hidden; not a file of the run, and removed when the run ends).
RUN_LOCK = ".lock"


class RunFolderError(EdsrLiteError, ValueError):
    """A run folder that cannot be used: a file in the way, or a folder that cannot be written."""


class RunFolderInUse(RunFolderError):
    """Another training run (another process, or another Trainer here) holds the run folder."""


class RunFolderLock:
    """The run folder ``out_dir`` held by one training run, from its set-up to its end.

    :meth:`acquire` takes ``out_dir/.lock`` without waiting (creating the folder if needed) or
    raises :class:`RunFolderInUse`; :meth:`release` removes the lock file, then lets the lock
    go. The lock is the kernel's (``flock`` on Unix) on an open file: a run that is killed
    loses it with its process, so a stale ``.lock`` never blocks a folder. ``enabled=False``
    (the processes of a ``torchrun`` other than rank 0, which write nothing) does nothing.
    """

    def __init__(self, out_dir: Path, enabled: bool = True):
        self.out_dir, self.enabled = Path(out_dir), enabled
        self.path = self.out_dir / RUN_LOCK
        # thread_local=False: run() may be called from another thread than the set-up.
        self._lock = FileLock(self.path, timeout=0, thread_local=False)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        """Hold the folder, or raise :class:`RunFolderInUse` (one line) if a run holds it."""
        if not self.enabled or self.held:
            return
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise RunFolderError(
                f"{self.out_dir} is a file, not a folder: choose another --out folder."
            )
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise RunFolderInUse(
                f"{self.out_dir} is in use by another training run{self._holder()}: wait for it "
                "to end, or choose another --out folder."
            ) from None
        except OSError as err:  # read-only, or a file where a parent folder should be
            raise RunFolderError(
                f"cannot write into {self.out_dir} ({err.strerror or err}): make it writable, "
                "or choose another --out folder."
            ) from None
        # Who holds it, for the message above; written in place (replacing the file would
        # replace the locked file too), and only a hint: a reader tolerates anything here.
        with contextlib.suppress(OSError):
            self.path.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        """Let the folder go (a no-op when not held). The lock file is removed *while held*:
        a process that opened it just before finds an unlinked file once it gets the lock,
        which :mod:`filelock` does not count as holding it (so two runs never both hold it)."""
        if not self.held:
            return
        with contextlib.suppress(OSError):  # e.g. Windows: an open file cannot be removed
            self.path.unlink(missing_ok=True)
        self._lock.release(force=True)

    def _holder(self) -> str:
        """`` (pid N)`` from the lock file, or ``""`` when it does not say."""
        try:
            pid = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""


@dataclass
class Resumed:
    """What :func:`load_latest` gives back besides the restored objects."""

    step: int  # optimizer steps done
    elapsed: float  # training seconds so far
    rows: list[dict]  # the log up to ``step``
    meta: dict  # the checkpoint's metadata (best PSNR, init report, segments, ...)


def check_out_dir(out_dir: Path, resume: bool) -> str | None:
    """Refuse to overwrite a run: a folder with a ``latest.pt`` is continued (``resume``) or
    left alone, and a finished run shipped without ``latest.pt`` is never started over.

    Returns what to tell the user when ``resume`` finds nothing to continue and the run
    starts from step 0: an empty folder, or a run that stopped before its first save of
    ``latest.pt`` (``run.json`` not ``"finished"``), whose files are then rewritten.
    """
    latest = out_dir / LATEST
    if latest.is_file():
        if not resume:
            raise ValueError(
                f"{out_dir} already holds a run ({LATEST}). Continue it with --resume "
                "(resume=True), or choose another --out folder."
            )
        return None
    kept = [name for name in (BEST, LOG_CSV) if (out_dir / name).is_file()]
    if not kept:
        return f"{out_dir}: no {LATEST} to resume from; starting the run" if resume else None
    status = run_status(out_dir)
    if resume and status not in (None, "finished"):
        return (
            f"{out_dir}: the run ({RUN_JSON}: {status!r}) stopped before its first save of "
            f"{LATEST}; starting it over from step 0 (its {' and '.join(kept)} are rewritten)"
        )
    raise ValueError(
        f"{out_dir} holds a run's {' and '.join(kept)} but no {LATEST} to resume "
        "from; starting over would overwrite them. Choose another --out folder (or "
        "delete this one to train it again)."
    )


def remove_stale_temp_files(out_dir: Path) -> list[Path]:
    """Delete the temporary files that killed saves left in the run folder (``.latest.pt.
    <random>.tmp``, the pattern of :func:`edsr_lite.files.atomic_write`, for the run's own
    files only); returns them. A kill during a save leaves one; the saved file is intact."""
    if not out_dir.is_dir():
        return []
    stale = []
    for name in (LATEST, BEST, LOG_CSV, RUN_JSON):
        for path in out_dir.glob(f".{name}.*.tmp"):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                stale.append(path)
    return sorted(stale)


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
    with saving(path):
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


class StopRequest:
    """While a run trains, the first Ctrl-C (SIGINT, a notebook's interrupt) or SIGTERM
    (``kill``, a session or container ending) only asks the run to stop: it finishes the
    current unit of work (a step, a save; a validation stops between two images and skips the
    rest), saves ``latest.pt`` at the last finished step and raises KeyboardInterrupt, so no
    finished step is lost and the stop comes within about a step's time. A second signal
    raises KeyboardInterrupt at once (then the last save stands)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():  # signals: main thread only
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)

    @property
    def requested(self) -> bool:
        """Whether a first signal came (in this process; the loop asks every process)."""
        return self.signum is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {signum}")
        self.signum = signum
        print(
            f"{signal.Signals(signum).name}: stopping after the current step (or between two "
            "validation images) and saving latest.pt; send it again to stop at once",
            file=sys.stderr,
            flush=True,
        )

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            # None: a handler installed outside Python, which cannot be put back; the default is
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

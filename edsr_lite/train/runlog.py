"""A run's record: its folder's files, the log read back, and where each step ran.

Files written in the run folder (``TrainConfig.out``; by rank 0 only under ``torchrun``):

* ``log.csv``: one row per step (step, scale, loss, grad_norm, lr, seconds) and the validation
  PSNR at validation steps; appended row by row, so a killed run keeps its steps.
* ``run.json``: the run record (:mod:`edsr_lite.runs` owns it: its schema, reading, writing):
  the configuration, data and init reports, the machine, final metrics and ``segments``:
  which steps ran on which machine, in which precision.
* ``latest.pt`` (what ``resume=True`` continues from: :mod:`edsr_lite.train.resume`) and
  ``best.pt`` (the weights with the best validation PSNR), both written atomically.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import platform
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import atomic_write_text
from edsr_lite.locations import REPO_ROOT, SOURCE_CHECKOUT, env_data_dirs
from edsr_lite.precision import bf16_available
from edsr_lite.runs import read_run, run_path, write_run
from edsr_lite.train.config import TrainConfig
from edsr_lite.train.precision import precision_name

LATEST, BEST, LOG_CSV = "latest.pt", "best.pt", "log.csv"  # and run.json: edsr_lite.runs


class DiskFullError(EdsrLiteError, OSError):
    """No space left on the device while the run wrote one of its files. The files already
    written stay as they were (every save is atomic); ``run.json`` says ``"failed"``."""

    def __str__(self) -> str:
        return str(self.strerror)  # the message, without OSError's "[Errno 28]"


@contextmanager
def saving(path: Path) -> Iterator[None]:
    """Turn a full disk while writing ``path`` into a :class:`DiskFullError` that says what to
    do. torch.save reports it as a RuntimeError ("unexpected pos", "file write failed")."""
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, RuntimeError) as exc:
        text = str(exc)
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or any(
            s in text for s in ("unexpected pos", "file write failed", "No space left")
        )
        if not full:
            raise
        raise DiskFullError(
            errno.ENOSPC,
            f"no space left on device while saving {path}; free space and run again with "
            "--resume (resume=True): the files already saved are intact",
        ) from None


@dataclass
class TrainLog:
    """A run's log: ``rows`` (one dict per step, from log.csv) and ``info`` (run.json).

    Row keys: ``step``, ``scale``, ``loss`` (L1 on 0..255), ``grad_norm`` (L2 norm of all the
    gradients, before the update), ``lr``, ``seconds`` (training time
    since the run began, across resumes), and at validation steps ``psnr`` (mean over the
    scales, dB) and ``psnr_x<s>``. Missing values are None.
    """

    rows: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def series(self, key: str, x: str = "step") -> tuple[list[float], list[float]]:
        """``(xs, ys)`` for the rows where ``key`` has a value, e.g. ``log.series("psnr")``."""
        pairs = [(r[x], r[key]) for r in self.rows if r.get(key) is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    out_dir: Path
    latest: Path | None  # None when rank != 0 (nothing written)
    best: Path | None  # None without validation
    log_path: Path
    step: int  # the last step done (counting steps done before a resume)
    steps_this_run: int
    seconds: float  # wall time since the Trainer was made: set-up (data, LR cache) included
    steps_per_second: float  # training steps only
    final_psnr: float | None  # mean validation PSNR over the scales, final weights
    best_psnr: float | None
    best_step: int | None
    stopped_by: str  # "max_steps" or "max_minutes"
    log: TrainLog = field(repr=False)
    model: nn.Module = field(repr=False)  # the trained network (unwrapped), eval mode


def load_log(path: str | os.PathLike | TrainResult) -> TrainLog:
    """Read a run's log: a run folder, its ``log.csv``, or a :class:`TrainResult`.

    ``info`` is the folder's run.json (``{}`` without one); a broken run.json raises
    :class:`edsr_lite.runs.RunRecordError`."""
    if isinstance(path, TrainResult):
        path = path.log_path
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    csv_path = path if path.suffix == ".csv" else folder / LOG_CSV
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: no training log there")
    with open(csv_path, newline="") as f:
        rows = [{k: _parse_cell(k, v) for k, v in row.items()} for row in csv.DictReader(f)]
    return TrainLog(rows, read_run(folder) or {})


def _parse_cell(key: str, value: str) -> int | float | None:
    if value == "":
        return None
    return int(value) if key in ("step", "scale") else float(value)


class RunFiles:
    """log.csv (appended row by row) and run.json, written by rank 0 only."""

    def __init__(self, out_dir: Path, scales: Sequence[int], enabled: bool):
        self.out_dir = out_dir
        self.enabled = enabled
        self.columns = ["step", "scale", "loss", "grad_norm", "lr", "seconds", "psnr"]
        self.columns += [f"psnr_x{s}" for s in scales]

    def start(self, rows: list[dict]) -> None:
        """(Re)write log.csv with the rows so far: on resume, drops steps after the checkpoint."""
        if self.enabled:
            text = io.StringIO()
            writer = csv.DictWriter(text, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(self.out_dir / LOG_CSV, text.getvalue())

    def append(self, row: dict) -> None:
        if self.enabled:
            with saving(self.out_dir / LOG_CSV), open(self.out_dir / LOG_CSV, "a", newline="") as f:
                csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(row)

    def write_info(self, info: dict) -> None:
        if self.enabled:
            with saving(run_path(self.out_dir)):
                write_run(self.out_dir, info)


def val_metrics(row: dict | None, config: TrainConfig, scales: Sequence[int]) -> dict:
    """``{"Set5": {"x2": 34.1}, "step": 500}``: the validation PSNR of a log row, by set and
    scale (run.json's and the checkpoints' ``metrics``). A partial validation set is named so
    (``"Set5[:2]"``): its PSNR is not Set5's."""
    if row is None or row.get("psnr") is None or not config.val_data:
        return {}
    name = str(config.val_data) + (f"[:{config.val_images}]" if config.val_images else "")
    return {name: {f"x{s}": row[f"psnr_x{s}"] for s in scales}, "step": row["step"]}


def run_segments(info: Mapping, step: int | None = None) -> list[dict]:
    """Which steps of a run ran where, and in which precision: ``[{"steps": [first, last],
    "precision": "float32" | "bfloat16 autocast", "machine": {...}}, ...]`` from a run.json (or
    a checkpoint's meta). A run written before runs kept this record gets one segment, steps
    0..``step`` (default: the record's own ``step``), from its config; ``[]`` for an empty
    record (a log.csv without its run.json)."""
    if not info:
        return []
    if step is None:
        step = int(info.get("step", 0))
    return info.get("segments") or [_first_segment(info, step)]


def _first_segment(meta: Mapping, step: int) -> dict:
    """The segment record of a checkpoint written before runs kept one: steps 0..step on the
    machine it names, in the precision its config asked for (then always granted)."""
    bf16 = (meta.get("train_config") or {}).get("bf16")
    return {
        "steps": [0, step],
        "precision": precision_name(bool(bf16)),
        "machine": meta.get("machine"),
    }


def extend_segments(past: list[dict], current: dict) -> list[dict]:
    """The stored ``past`` segments, then ``current`` (this process's steps), which extends the
    last stored one if it ran on the same machine in the same precision and continues it (a
    run resumed on its own machine is one segment)."""
    segments = [dict(s, steps=list(s["steps"])) for s in past]
    last = segments[-1] if segments else None
    same = last is not None and all(last[k] == current[k] for k in ("precision", "machine"))
    if same and last["steps"][1] == current["steps"][0]:
        last["steps"][1] = current["steps"][1]
    else:
        segments.append(current)
    return segments


def portable_path(path: str | os.PathLike) -> str:
    """How a run records a folder, never with a machine's absolute path, so that a shipped
    run.json means the same on every machine: repository-relative inside the clone
    (``data/T91``); ``$EDSR_LITE_DATA/BSD200`` inside a folder that ``$EDSR_LITE_DATA`` names
    (so a set there that shadows a shipped one says so); a relative path as given; else the
    folder's name (``BSD200``)."""
    folder = Path(path)
    if not folder.is_absolute():
        return folder.as_posix()
    inside = _relative_to(folder, REPO_ROOT)
    if inside is not None:
        return inside
    for place in env_data_dirs():
        inside = _relative_to(folder, place)
        if inside is not None:
            return f"$EDSR_LITE_DATA/{inside}"
    return folder.name


def _relative_to(folder: Path, root: Path) -> str | None:
    """``folder`` relative to ``root`` (both resolved), in POSIX form, or None if outside."""
    try:
        return folder.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def portable_data_report(report: dict | None) -> dict | None:
    """A training set's report (:meth:`TrainingSet.report`) with its folders made portable:
    ``folders``, and in ``sets`` each set as given (a path made portable) and the folder it
    was found in (``{"set": "T91", "folder": "$EDSR_LITE_DATA/T91"}``)."""
    if not report or "folders" not in report:
        return report
    portable = {**report, "folders": [portable_path(f) for f in report["folders"]]}
    if "sets" in report:
        portable["sets"] = [
            {"set": portable_path(s["set"]), "folder": portable_path(s["folder"])}
            for s in report["sets"]
        ]
    return portable


def git_describe() -> str | None:
    """``git describe --always --dirty`` of the edsr-lite clone the package runs from, or None
    (an installed package: the folder around site-packages may be another project's repository)."""
    if not SOURCE_CHECKOUT:
        return None
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine_info(device: torch.device | str = "cpu") -> dict:
    """What a run trained on: the OS family, CPU model, cores and vector instructions (and
    whether it has fast bfloat16), torch threads, and the GPU if one was used.

    Logged with every run, because a step's time (and so a budget in minutes) depends on it.
    No host name or kernel build: run records ship, and they name hardware, not a machine.
    """
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "os": platform.system(),
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "cpu_isa": torch.backends.cpu.get_cpu_capability(),  # AVX2, AVX512, ...: speed differs
        "fast_bf16": bf16_available(device),
        "torch_threads": torch.get_num_threads(),
        "gpu": None,
    }
    device = torch.device(device)
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info

"""The run record: ``run.json``, the one file that says what a training run was and how it ended.

The trainer (:mod:`edsr_lite.train.engine`) writes it into the run folder when the run starts
and again when it ends; the shipped checkpoints keep theirs beside ``best.pt``
(``data/checkpoints/<name>/run.json``). Every reader and writer goes through this module.

The schema, one JSON object (``indent=2``), keys in this order:

* ``status``: ``"running"``, ``"finished"``, ``"interrupted"`` (Ctrl-C, SIGTERM),
  ``"diverged"`` (a NaN loss) or ``"failed"`` (the disk filled up);
* ``stopped_by``: ``"max_steps"`` or ``"max_minutes"`` once ``"finished"``, else null;
* ``preset``, ``scales``, ``train_config`` (:meth:`TrainConfig.to_dict`), ``step`` (the last
  step done), ``data`` (the training set's report, folders portable: ``data/T91``, ``BSD200``),
  ``val_data``, ``metrics`` (``{"Set5": {"x2": 34.1}, "step": 500}``, dB), ``best_psnr``,
  ``best_step``, ``init_from`` (the pretrained initialization's report, or null), ``git``,
  ``torch``, ``world_size``, ``machine`` (OS family, CPU, cores, vector instructions, GPU);
* ``segments``: ``[{"steps": [first, last], "precision": "float32" | "bfloat16 autocast",
  "machine": {...}}, ...]``, which steps ran where (a run may be resumed on other machines);
* ``model`` (the network's config), ``parameters``, ``device``, ``val_image_names``, and
  ``seconds``: the training time of the whole run, across resumes.

The keys through ``segments`` are the checkpoints' ``meta`` too. Older records may lack some
keys; a reader uses ``.get``. The trainer's side of the run folder (``log.csv``, ``latest.pt``,
the segments) is :mod:`edsr_lite.train.runlog`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import atomic_write_text

__all__ = [
    "RUN_JSON",
    "RunRecordError",
    "finished_run_info",
    "read_run",
    "run_path",
    "run_status",
    "write_run",
]

#: The run record's file name, in the run folder.
RUN_JSON = "run.json"


class RunRecordError(EdsrLiteError, ValueError):
    """A ``run.json`` that cannot be read or is not a JSON object; the message is one line
    that names the file."""


def run_path(folder: str | os.PathLike) -> Path:
    """Where the run folder ``folder`` keeps its record: ``<folder>/run.json``."""
    return Path(folder) / RUN_JSON


def read_run(folder: str | os.PathLike) -> dict | None:
    """The record of the run folder ``folder``, or None if it has no ``run.json``.

    Raises :class:`RunRecordError` if the file cannot be read, is not JSON, or holds something
    other than a JSON object (a record cut short, or another program's file).
    """
    path = run_path(folder)
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunRecordError(f"{path}: cannot read this run record ({exc.strerror})") from None
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise RunRecordError(f"{path}: not a run record, the JSON is broken ({exc})") from None
    if not isinstance(info, dict):
        raise RunRecordError(
            f"{path}: not a run record (a JSON {type(info).__name__}, not an object)"
        )
    return info


def write_run(folder: str | os.PathLike, info: dict) -> Path:
    """Write ``info`` as the run folder's record, atomically (:func:`edsr_lite.files.
    atomic_write_text`): a reader sees the old record or the new one, never half of one.
    Returns the path written."""
    return atomic_write_text(run_path(folder), json.dumps(info, indent=2) + "\n")


def run_status(folder: str | os.PathLike) -> str | None:
    """The ``status`` the run folder's record holds (``"running"``, ``"finished"``,
    ``"interrupted"``, ``"diverged"``, ``"failed"``), or None without a readable one."""
    try:
        info = read_run(folder)
    except RunRecordError:
        return None
    return info.get("status") if info is not None else None


def finished_run_info(folder: str | os.PathLike) -> dict | None:
    """The run folder's record if it says the run finished all its steps (status
    ``"finished"``, not stopped early by ``max_minutes``), else None (still training,
    interrupted, diverged, or no readable record)."""
    try:
        info = read_run(folder)
    except RunRecordError:
        return None
    done = (
        info is not None
        and info.get("status") == "finished"
        and info.get("stopped_by", "max_steps") == "max_steps"
    )
    return info if done else None

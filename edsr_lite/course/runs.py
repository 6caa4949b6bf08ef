"""What several notebooks share: real inputs, short training runs, the shipped runs' logs.

Each notebook's measurements live in a module of :mod:`edsr_lite.course` of their own (``tour``
00, ``bn_removal`` 01, ``residual_scaling`` 02, ``multiscale`` 03, ``pretrained_init`` 04,
``benchmark`` 05; ``memory`` for process and allocation memory, ``tables`` for the markdown
tables the cells display). This one holds what they have in common:

* :func:`real_batch` and :func:`lr_crops`: real image patches, never random noise (the
  statistics of activations depend on the content);
* :func:`temporary_run` and :func:`train_briefly`: a short training run in a temporary folder,
  for a live cell;
* :func:`find_shipped_log`, :func:`shipped_logs`, :func:`shipped_report`,
  :func:`shipped_claim`, :func:`precision_note`, :func:`precisions`, :func:`shared_precision`,
  :func:`validation_rows`, :func:`race`, :func:`final_psnr`: the logs of the full-budget runs
  that ship in ``data/checkpoints`` (:func:`race` reads a live pair of runs too);
* :func:`evaluate_checkpoints`: the shipped checkpoints scored live with
  :func:`edsr_lite.evaluation.evaluate`, rows named after them.

All sizes are in bytes unless a name says ``_mb`` (mebibytes, 2**20 bytes).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from edsr_lite.course.live import TrainingBoard
from edsr_lite.datasets import benchmark
from edsr_lite.evaluation import evaluate
from edsr_lite.images import to_tensor
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.train import TrainConfig, TrainLog, TrainResult, load_log, run_segments, train
from edsr_lite.training_data import SkippedImagesWarning, TrainingSet, load_training_set

# ============================================================================================
# Real inputs
# ============================================================================================


@functools.lru_cache(maxsize=4)
def _training_set(data: str, scale: int, patch_size: int) -> TrainingSet:
    with warnings.catch_warnings():  # T91 has one image too small for 48-pixel patches
        warnings.simplefilter("ignore", SkippedImagesWarning)
        return load_training_set(data, [scale], patch_size, cache="memory")


def real_batch(
    batch_size: int, patch_size: int, scale: int = 2, seed: int = 0, data: str = "T91"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A minibatch of real training patches, as the trainer makes them.

    Returns ``(lr, hr)``: float32 tensors N x 3 x p x p and N x 3 x sp x sp, values 0..255,
    channels_last memory. The LR patches are MATLAB-bicubic downscaled HR patches (T91 by
    default); the same ``seed`` gives the same patches.
    """
    data_set = _training_set(data, scale, patch_size)
    lr, hr = data_set.sample(scale, batch_size, np.random.default_rng(seed))
    return to_tensor(lr), to_tensor(hr)


def lr_crops(set_name: str = "Set5", scale: int = 2, size: int = 48) -> list[np.ndarray]:
    """The centre ``size`` x ``size`` crop of every LR image of a benchmark set (uint8 RGB)."""
    crops = []
    for _, _, lr in benchmark(set_name, scale):
        top, left = (lr.shape[0] - size) // 2, (lr.shape[1] - size) // 2
        crops.append(np.ascontiguousarray(lr[top : top + size, left : left + size]))
    return crops


# ============================================================================================
# Short training runs, and the shipped full-budget logs
# ============================================================================================


@contextmanager
def temporary_run(prefix: str = "edsr-lite-run-") -> Iterator[Path]:
    """A fresh temporary run folder for a live cell's training, removed afterwards.

    Inside the ``with`` block the trainer's
    :class:`~edsr_lite.training_data.SkippedImagesWarning` is silenced: T91 holds one image
    smaller than a 48-pixel patch, which a lesson need not report.
    """
    out = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)
            yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def train_briefly(
    config: TrainConfig, board: TrainingBoard | None = None, label: str = ""
) -> TrainResult:
    """``train(config, quiet=True)`` in a :func:`temporary_run` folder (``config.out`` ignored).

    With a :class:`~edsr_lite.course.live.TrainingBoard`, the run's loss and validation PSNR
    are drawn on it as it trains, under ``label`` (default: the config's preset and scale).
    The result keeps its log (``result.log``) and model in memory; its file paths point into
    the removed folder.
    """
    callback = None
    if board is not None:
        callback = board.callback(label or f"{config.preset} x{config.scale}")
    with temporary_run() as out:
        run = TrainConfig.from_dict({**config.to_dict(), "out": str(out), "resume": False})
        return train(run, quiet=True, callback=callback)


def find_shipped_log(name: str, root: Path = CHECKPOINT_DIR) -> Path | None:
    """The log.csv of a shipped run, or None: ``<root>/<name>/log.csv``,
    ``<root>/logs/<name>/log.csv`` or ``<root>/<name>.log.csv``."""
    for path in (root / name / "log.csv", root / "logs" / name / "log.csv"):
        if path.is_file():
            return path
    flat = root / f"{name}.log.csv"
    return flat if flat.is_file() else None


def shipped_logs(
    pair: Mapping[str, str], root: Path = CHECKPOINT_DIR, same_budget: bool = False
) -> dict[str, TrainLog]:
    """``{label: TrainLog}`` for the shipped runs of ``pair`` that exist (maybe none).

    ``same_budget``: cut every log at the last step of the shortest run, so that a comparison
    gives each run the same number of steps (the BN ablation is the first 3000 steps of a run
    whose partner went on to 12000; with the same seed and schedule, those steps are alike).
    """
    found = {label: find_shipped_log(name, root) for label, name in pair.items()}
    logs = {label: load_log(path) for label, path in found.items() if path is not None}
    if same_budget and len(logs) > 1:
        budget = min(max(r["step"] for r in log.rows) for log in logs.values())
        logs = {
            label: TrainLog([r for r in log.rows if r["step"] <= budget], log.info)
            for label, log in logs.items()
        }
    return logs


def shipped_report(pair: Mapping[str, str], logs: Mapping[str, TrainLog]) -> str:
    """What the shipped full-budget runs reached, or where they will be once they ship."""
    if not logs:
        where = ", ".join(f"data/checkpoints/{name}/log.csv" for name in pair.values())
        return (
            "The full-budget runs are not in this checkout yet: they ship with the trained "
            f"checkpoints ({where}). No numbers are shown until then."
        )
    lines = []
    for label in pair:
        log = logs.get(label)
        last = final_psnr(log) if log is not None else None
        lines.append(
            f"{label}: " + (f"{last[1]:.2f} dB at step {last[0]}" if last else "no log shipped")
        )
    return "\n".join(lines)


def shipped_claim(pair: Mapping[str, str], logs: Mapping[str, TrainLog]) -> str:
    """One cell of a notebook's "measured here vs the paper" table: the last validation PSNR of
    each run of ``pair`` (e.g. ``"EDSR block (no BN): 37.21 dB vs SRResNet block (BN): 36.90 dB
    at step 3000"``), or ``"- (not shipped yet)"`` until every run of the pair has a log with a
    validation. Pass logs cut to one budget (``shipped_logs(..., same_budget=True)``) to compare
    at the same step."""
    finals = {label: final_psnr(logs[label]) if label in logs else None for label in pair}
    if any(final is None for final in finals.values()):
        return "- (not shipped yet)"
    steps = {step for step, _ in finals.values()}
    if len(steps) == 1:
        scores = " vs ".join(f"{label}: {psnr:.2f} dB" for label, (_, psnr) in finals.items())
        return f"{scores} at step {steps.pop()}"
    return " vs ".join(
        f"{label}: {psnr:.2f} dB at step {step}" for label, (step, psnr) in finals.items()
    )


# Measured with bench_train_step's runs of edsr_tiny (400 steps; README, "Training").
BF16_COST = "-0.03 to -0.06 dB of Set5 PSNR against float32 (edsr_tiny, 400 steps)"


def _precision_spans(log: TrainLog) -> list[list]:
    """``[[precision, first step, last step], ...]`` for the steps ``log`` holds, from its
    run.json's segments; a move to another machine in the same precision starts no new span."""
    last = max((r["step"] for r in log.rows), default=0)
    spans: list[list] = []
    for segment in run_segments(log.info):
        first, end = segment["steps"]
        if first >= max(last, 1):  # steps this log does not hold
            continue
        if spans and spans[-1][0] == segment["precision"]:
            spans[-1][2] = min(end, last)
        else:
            spans.append([segment["precision"], first, min(end, last)])
    return spans


def precisions(logs: Mapping[str, TrainLog]) -> set[str]:
    """The precisions the steps the logs hold ran in (``{"float32", "bfloat16 autocast"}``),
    from their run.json's segments; a log that does not record it adds none."""
    return {span[0] for log in logs.values() for span in _precision_spans(log)}


def shared_precision(logs: Mapping[str, TrainLog]) -> str | None:
    """The one precision every step of every log ran in (e.g. ``"bfloat16 autocast"``), or None
    when they differ or a log does not record it."""
    spans = [_precision_spans(log) for log in logs.values()]
    kinds = {span[0] for run in spans for span in run}
    return kinds.pop() if len(kinds) == 1 and all(spans) else None


def precision_note(logs: Mapping[str, TrainLog]) -> str:
    """In which arithmetic each log's steps ran, from its run.json's ``segments``: one line per
    run, e.g. ``"EDSR block (no BN): bfloat16 autocast (steps 0-3000)"``, only the steps the log
    holds (cut it with ``shipped_logs(..., same_budget=True)`` first). When the runs differ, a
    last line says what bfloat16 is known to cost, so that a gap that small is not read as the
    effect being compared."""
    lines = []
    for label, log in logs.items():
        parts = [f"{p} (steps {first}-{end})" for p, first, end in _precision_spans(log)]
        lines.append(f"{label}: " + (", ".join(parts) or "precision not recorded"))
    if len(precisions(logs)) > 1:
        lines.append(
            "The runs compared were not trained in the same precision: bfloat16 autocast costs "
            f"{BF16_COST}, so a gap of that size is not the effect compared."
        )
    return "\n".join(lines)


def validation_rows(logs: Mapping[str, TrainLog], skip_first: bool = True) -> list[dict]:
    """The validations of two runs side by side, for :func:`rows_table`: one row per step that
    both logs validated at, ``{"step", <label 1>: dB, <label 2>: dB, "gap (dB)": 1st - 2nd}``.

    A final PSNR alone hides how the runs got there (one may lead early and be caught up);
    this is the same comparison at every common step. ``skip_first`` leaves out step 0, the
    untrained networks. No rows unless there are exactly two logs.
    """
    if len(logs) != 2:
        return []
    (first, log_a), (second, log_b) = logs.items()
    a = dict(zip(*log_a.series("psnr"), strict=True))
    b = dict(zip(*log_b.series("psnr"), strict=True))
    steps = sorted(set(a) & set(b))
    if skip_first:
        steps = [step for step in steps if step > 0]
    return [
        {"step": int(step), first: a[step], second: b[step], "gap (dB)": a[step] - b[step]}
        for step in steps
    ]


def race(logs: Mapping[str, TrainLog], digits: int = 2) -> str:
    """Who led the validations of two runs, and whether the other caught up: computed sentences.

    The runs are compared at every step both validated at (:func:`validation_rows`, step 0
    left out). The run ahead at the first of them "learned faster"; its lead is given at each
    step until the other "had caught up" (a gap that rounds to zero at ``digits`` decimals, as
    the tables print it) or "had caught up and moved ahead", else "had not caught up in N
    steps". E.g.
    ``"EDSR block (no BN) learned faster: 0.95 dB ahead of SRResNet block (BN) at step 1000,
    0.21 dB at step 2000. By step 3000 SRResNet block (BN) had caught up: 36.86 vs 36.87 dB."``
    An empty string unless there are exactly two logs with a common validation.
    """
    rows = validation_rows(logs)
    if not rows:
        return ""
    first, second = list(logs)
    tie = 0.5 * 10**-digits
    opening = rows[0]["gap (dB)"]
    if abs(opening) <= tie:
        return (
            f"At step {rows[0]['step']}, the first validation compared, {first} and {second} "
            f"were level: {_pair(rows[0], first, second, digits)}."
        )
    leader, trailer = (first, second) if opening > 0 else (second, first)
    sign = 1 if opening > 0 else -1
    leads = []
    for row in rows:
        gap = sign * row["gap (dB)"]
        if gap <= tie:
            done = "had caught up" if gap >= -tie else "had caught up and moved ahead"
            return (
                f"{leader} learned faster: {_leads(leads, trailer, digits)}. By step "
                f"{row['step']} {trailer} {done}: {_pair(row, trailer, leader, digits)}."
            )
        leads.append((row["step"], gap))
    last = rows[-1]
    return (
        f"{leader} learned faster: {_leads(leads, trailer, digits)}. {trailer} had not caught "
        f"up in {last['step']} steps: {_pair(last, trailer, leader, digits)}."
    )


def _leads(leads: list[tuple[int, float]], trailer: str, digits: int) -> str:
    """The leader's margins: "0.95 dB ahead of B at step 1000, 0.21 dB at step 2000"."""
    (step, gap), *rest = leads
    said = [f"{gap:.{digits}f} dB ahead of {trailer} at step {step}"]
    said += [f"{gap:.{digits}f} dB at step {step}" for step, gap in rest]
    return ", ".join(said)


def _pair(row: dict, a: str, b: str, digits: int) -> str:
    return f"{row[a]:.{digits}f} vs {row[b]:.{digits}f} dB"


def final_psnr(log: TrainLog) -> tuple[int, float] | None:
    """``(step, psnr)`` of the last validation in a log, or None if it has none."""
    steps, values = log.series("psnr")
    return (int(steps[-1]), float(values[-1])) if steps else None


def evaluate_checkpoints(names: Sequence[str], sets: Sequence[str]) -> list[dict]:
    """:func:`edsr_lite.evaluation.evaluate` rows (protocol "model", each model's own scales) for
    shipped checkpoints, by name (:func:`edsr_lite.weights.available_pretrained`); the method
    column holds the checkpoint's name."""
    from edsr_lite.weights import load_pretrained

    rows = []
    for name in names:
        model = load_pretrained(name)
        rows += [{**r, "method": name} for r in evaluate(model, sets, model.scales)]
    return rows

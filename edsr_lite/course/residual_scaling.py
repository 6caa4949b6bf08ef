"""Notebook 02, residual scaling: growth with depth, an unstable run, folding the scale.

:func:`depth_profile` measures activations and gradients block by block in a wide residual stack
(:func:`predicted_growth` is what theory says at initialization); :func:`instability_run` trains
one briefly and records loss and gradient norm per step, :func:`instability_runs` does it for
several seeds with and without scaling (drawn live on a
:class:`~edsr_lite.course.live.TrainingBoard`), and :func:`loss_effect` turns their losses into
the :class:`~edsr_lite.course.claims.Effect` the claims table judges by the one verdict rule
(:func:`unstable` and :func:`trained` say what one run did); :func:`fold_check` checks that folding
``res_scale`` into the last convolution changes nothing. :data:`RES_SCALE_PAIR` names the shipped
logs of the paper's wide model with and without scaling, which :func:`stability_report` sums up
and :func:`summarize_log` reads for the notebook's computed sentences.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from edsr_lite.core.models import PRESETS, ResBlock, build, fold_res_scale
from edsr_lite.course.claims import Effect, curves, direction, samples
from edsr_lite.course.live import TrainingBoard
from edsr_lite.course.runs import final_psnr, shipped_report, temporary_run
from edsr_lite.train import TrainConfig, Trainer, TrainingDiverged, TrainLog

# --------------------------------------------------------------------------------------------
# Growth with depth
# --------------------------------------------------------------------------------------------


def preset_scales() -> list[dict]:
    """One row per EDSR preset: its blocks, features and residual scale (the paper's EDSR:
    32 x 256 with 0.1; EDSR-baseline: 16 x 64 without scaling), for ``rows_table``."""
    return [
        {"preset": name, "blocks": p.n_resblocks, "features": p.n_feats,
         "residual scale": f"{p.res_scale:g}"}
        for name, p in PRESETS.items()
        if p.arch == "edsr"
    ]  # fmt: skip


@dataclass
class DepthProfile:
    """Activation and gradient sizes block by block, for one L1 training loss.

    Arrays of length B (one value per residual block, input side first):

    * ``activation_std``: std of block i's output (the running sum ``x_i``);
    * ``branch_std``: std of what block i adds (``res_scale * body(x)``);
    * ``grad_rms``: RMS of dLoss/dx_i, the gradient that flows back into block i's output;
    * ``weight_grad_norm``: norm of the gradient of block i's last conv weight.
    """

    label: str
    res_scale: float
    activation_std: np.ndarray
    branch_std: np.ndarray
    grad_rms: np.ndarray
    weight_grad_norm: np.ndarray

    @property
    def activation_growth(self) -> float:
        """Std of the last block's output over the first's."""
        return float(self.activation_std[-1] / self.activation_std[0])

    @property
    def gradient_growth(self) -> float:
        """Gradient RMS at the first block over the last (growth towards the input)."""
        return float(self.grad_rms[0] / self.grad_rms[-1])


def wide_stack(
    n_resblocks: int = 32, n_feats: int = 256, res_scale: float = 1.0, scale: int = 2, seed: int = 0
) -> nn.Module:
    """An EDSR of the given depth and width (the paper's EDSR: 32 x 256), seeded init."""
    torch.manual_seed(seed)
    return build("edsr", scale, n_resblocks=n_resblocks, n_feats=n_feats, res_scale=res_scale)


def depth_profile(
    model: nn.Module, lr: torch.Tensor, hr: torch.Tensor, label: str = ""
) -> DepthProfile:
    """Measure :class:`DepthProfile` for one forward and backward pass of the L1 loss.

    ``lr``: N x 3 x p x p, ``hr``: N x 3 x sp x sp, 0..255. The model's gradients are
    overwritten (``zero_grad`` first); its weights are not changed.
    """
    blocks = [b for b in model.body if isinstance(b, ResBlock)]
    outputs: list[torch.Tensor] = []
    branches: list[float] = []

    def keep_output(block: nn.Module, args: object, out: torch.Tensor) -> None:
        outputs.append(out)

    def branch_std(body: nn.Module, args: object, out: torch.Tensor) -> None:
        branches.append(float((out.detach() * res_scale[body]).std()))

    res_scale = {b.body: b.res_scale for b in blocks}
    handles = [b.register_forward_hook(keep_output) for b in blocks]
    handles += [b.body.register_forward_hook(branch_std) for b in blocks]
    model.zero_grad(set_to_none=True)
    was_training = model.training
    model.train()
    try:
        with torch.enable_grad():
            sr = model(lr)
            for out in outputs:
                out.retain_grad()
            nn.functional.l1_loss(sr, hr).backward()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return DepthProfile(
        label or f"res_scale {blocks[0].res_scale:g}",
        float(blocks[0].res_scale),
        np.array([float(o.detach().std()) for o in outputs]),
        np.array(branches),
        np.array([float(o.grad.pow(2).mean().sqrt()) for o in outputs]),
        np.array([float(b.body[-1].weight.grad.norm()) for b in blocks]),
    )


def predicted_growth(n_blocks: int, res_scale: float) -> float:
    """Std growth over ``n_blocks`` residual blocks at PyTorch's default initialization.

    A conv initialized as PyTorch does (uniform, variance 1/(3 fan_in)) keeps a third of its
    input's mean square; the ReLU keeps half of that; the second conv a third again: each
    branch adds ``res_scale**2 / 18`` of the input's variance, so after B blocks the std has
    grown by ``(1 + res_scale**2 / 18) ** (B / 2)``: 2.4x for 32 blocks, 1.009x with 0.1.
    """
    return (1 + res_scale**2 / 18) ** (n_blocks / 2)


# --------------------------------------------------------------------------------------------
# A short unstable run, and the shipped longer pair
# --------------------------------------------------------------------------------------------


@dataclass
class RunTrace:
    """A short training run, step by step: ``loss`` (L1, 0..255 scale) and ``grad_norm``
    (norm of all gradients together) per step; ``diverged_at``: the step whose loss was NaN
    or infinite (the run stops there), else None."""

    label: str
    res_scale: float
    lr: float
    loss: list[float]
    grad_norm: list[float]
    seconds: float
    diverged_at: int | None = None
    model: nn.Module | None = field(default=None, repr=False)

    def summary(self, tail: int = 10) -> dict[str, float]:
        """``start`` loss, ``peak`` loss and ``peak_step`` (1-based), ``final`` (median of the
        last ``tail`` losses), ``max_grad_norm``, and ``seconds_per_step``."""
        finite = [(x, step) for step, x in enumerate(self.loss, 1) if math.isfinite(x)]
        peak, peak_step = max(finite) if finite else (math.inf, len(self.loss))
        return {
            "start": self.loss[0],
            "peak": peak,
            "peak_step": peak_step,
            "final": statistics.median(self.loss[-tail:]),
            "max_grad_norm": max(self.grad_norm) if self.grad_norm else math.nan,
            "seconds_per_step": self.seconds / max(1, len(self.loss)),
        }


def instability_run(
    res_scale: float,
    *,
    n_resblocks: int = 16,
    n_feats: int = 128,
    lr: float = 2e-3,
    steps: int = 30,
    patch_size: int = 12,
    batch_size: int = 4,
    seed: int = 0,
    data: str = "T91",
    board: TrainingBoard | None = None,
    label: str = "",
) -> RunTrace:
    """Train a wide EDSR for ``steps`` Adam steps and record loss and gradient norm per step.

    The package's trainer does the steps (T91 patches, L1, Adam, constant learning rate);
    nothing is validated or saved. Both runs of a comparison draw the same patches (same
    ``seed``) from the same initial weights up to ``res_scale``. ``label`` names the run
    (default ``"res_scale 0.1"``); with a ``board`` its loss is drawn live as it trains.
    """
    with temporary_run("edsr-lite-rs-") as out:
        config = TrainConfig(
            preset="edsr",
            scale=2,
            n_resblocks=n_resblocks,
            n_feats=n_feats,
            res_scale=res_scale,
            data=data,
            patch_size=patch_size,
            batch_size=batch_size,
            lr=lr,
            decay_steps=10**9,
            max_steps=steps,
            val_data=None,
            seed=seed,
            device="cpu",
            out=str(out),
        )
        trainer = Trainer(config, quiet=True)
        label = label or f"res_scale {res_scale:g}"
        trace = RunTrace(label, res_scale, lr, [], [], 0.0)
        start = time.perf_counter()
        for step in range(1, steps + 1):
            try:
                row = trainer.step()
            except TrainingDiverged:
                trace.loss.append(math.nan)
                trace.diverged_at = step
                break
            trace.loss.append(row["loss"])
            trace.grad_norm.append(row["grad_norm"])
            if board is not None:
                board.record(label, step, loss=row["loss"])
        trace.seconds = time.perf_counter() - start
        trace.model = trainer.model.eval()
        return trace


def instability_runs(
    res_scales: Sequence[float] = (1.0, 0.1),
    seeds: Sequence[int] = (0, 1, 2),
    board: TrainingBoard | None = None,
    **run,
) -> dict[float, list[RunTrace]]:
    """:func:`instability_run` for every seed and residual scale: ``{res_scale: [trace per
    seed]}``. Each seed's runs share the patches and the initial weights up to the scale; the
    seeds give the spread that a difference between the scales must exceed. Runs are labelled
    ``"res_scale 1, seed 0"``; ``run``: :func:`instability_run`'s keywords."""
    traces: dict[float, list[RunTrace]] = {rs: [] for rs in res_scales}
    for seed in seeds:
        for rs in res_scales:
            label = f"res_scale {rs:g}, seed {seed}"
            traces[rs].append(instability_run(rs, seed=seed, board=board, label=label, **run))
    return traces


def loss_effect(
    unscaled: Sequence[RunTrace], scaled: Sequence[RunTrace], which: str = "peak", tail: int = 10
) -> Effect:
    """How many orders of magnitude higher the unscaled runs' loss went than the scaled runs',
    seed by seed: ``mean log10(unscaled) - mean log10(scaled)`` of each run's ``which`` loss
    (:meth:`RunTrace.summary`: ``"peak"``, or ``"final"``, the median of the last ``tail``
    steps), noise from the spread between seeds (:func:`~edsr_lite.course.claims.samples`).
    Positive is the paper's direction (unstable without scaling). A run that went to NaN
    counts as its largest finite loss. Logarithms, because a blown-up loss varies by orders of
    magnitude between seeds where a stable one varies by percents."""
    if which not in ("peak", "final"):
        raise ValueError(f'which must be "peak" or "final", got {which!r}')
    a, b = ([math.log10(t.summary(tail)[which]) for t in runs] for runs in (unscaled, scaled))
    what = "peak loss" if which == "peak" else f"median loss of the last {tail} steps"
    how = f"log10 of the {what}, {len(a)} + {len(b)} seeds"
    return samples(a, b, unit="orders of magnitude", how=how)


def runs_table(traces: Sequence[RunTrace], tail: int = 10) -> str:
    """Markdown table of :meth:`RunTrace.summary` for each run."""
    lines = [
        f"| run | lr | loss at step 1 | peak loss | final loss (median, last {tail}) "
        "| max gradient norm | diverged (NaN) at |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in traces:
        s = t.summary(tail)
        lines.append(
            f"| {t.label} | {t.lr:g} | {s['start']:.1f} | {s['peak']:,.0f} | {s['final']:,.1f} "
            f"| {s['max_grad_norm']:,.0f} | {t.diverged_at or '-'} |"
        )
    return "\n".join(lines)


def unstable(trace: RunTrace, tail: int = 10) -> bool:
    """The verdict "training is numerically unstable": the loss went to NaN, or its median over
    the last ``tail`` steps ended above the loss of step 1 (the run made the network worse)."""
    summary = trace.summary(tail)
    return trace.diverged_at is not None or summary["final"] > summary["start"]


def describe_trace(trace: RunTrace, tail: int = 10) -> str:
    """What a run's loss did, in words chosen from its numbers: "the loss went from 72.6 at
    step 1 to a peak of 2.92e+05 at step 9 and ended at 2.12e+04 (median of the last 10
    steps), above where it started", or "... went to NaN at step 12"."""
    s = trace.summary(tail)
    story = f"the loss went from {s['start']:.3g} at step 1 to a peak of {s['peak']:.3g} at step "
    story += f"{s['peak_step']}"
    if trace.diverged_at is not None:
        return story + f", then to NaN at step {trace.diverged_at}"
    said = direction(s["final"], s["start"])
    where = "where it started" if said != "level with" else "its start"
    return (
        story + f" and ended at {s['final']:.3g} (median of the last {tail} steps), {said} {where}"
    )


def trained(trace: RunTrace, tail: int = 10) -> bool:
    """The verdict "trains": no NaN, and the median loss of the last ``tail`` steps ended below
    the loss of step 1."""
    return not unstable(trace, tail)


RES_SCALE_PAIR = {"res_scale 1": "edsr_wide_rs1_x2", "res_scale 0.1": "edsr_wide_rs0.1_x2"}


def stability_report(pair: Mapping[str, str], logs: Mapping[str, TrainLog], tail: int = 50) -> str:
    """For each shipped run of ``pair``: the peak of the loss and of the gradient norm (with
    their steps), their medians over the last ``tail`` steps, and the last validation PSNR
    (named by the images it was measured on, e.g. ``Set5[:2]``)."""
    if not logs:
        return shipped_report(pair, logs)
    lines = []
    for label in pair:
        log = logs.get(label)
        if log is None:
            lines.append(f"{label}: no log shipped")
            continue
        parts = [_peak_and_tail(log, key, name, tail) for key, name in _CURVES]
        last = final_psnr(log)
        if last is not None:
            parts.append(f"{_validated_on(log)} {last[1]:.2f} dB at step {last[0]}")
        lines.append(f"{label}: " + "; ".join(p for p in parts if p))
    return "\n".join(lines)


_CURVES = (("loss", "loss"), ("grad_norm", "gradient norm"))


def curve_peak(log: TrainLog, key: str) -> tuple[float, int] | None:
    """``(value, step)`` of the largest finite value of a log's ``key`` (``"loss"``,
    ``"grad_norm"``), or None if it has none."""
    steps, values = log.series(key)
    finite = [(v, int(s)) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
    return max(finite) if finite else None


def curve_tail(log: TrainLog, key: str, tail: int) -> float:
    """Median of a log's ``key`` over its last ``tail`` logged steps (NaN if it has none)."""
    values = log.series(key)[1][-tail:]
    return statistics.median(values) if values else math.nan


def _peak_and_tail(log: TrainLog, key: str, name: str, tail: int) -> str:
    """``"loss peak 122 at step 3, median of the last 50 steps 7.9"`` (or "" without values)."""
    peak = curve_peak(log, key)
    if peak is None:
        return ""
    recent = curve_tail(log, key, tail)
    return (
        f"{name} peak {peak[0]:.3g} at step {peak[1]}, median of the last {tail} steps {recent:.3g}"
    )


@dataclass
class LogSummary:
    """What the notebook says of one shipped run (:func:`summarize_log`).

    ``loss_peak``/``grad_peak``: ``(value, step)`` of the largest loss (L1, 0..255 scale) and
    gradient norm; ``loss_tail``: median loss of the last ``tail`` steps; ``psnr``: validation
    step -> PSNR (dB) on ``validated_on`` (e.g. ``Set5[:2]``); ``steps``, ``batch_size``,
    ``patch_size`` (LR pixels), ``minutes`` (wall time) and ``cores``: the budget, from
    run.json.
    """

    loss_peak: tuple[float, int]
    grad_peak: tuple[float, int]
    loss_tail: float
    tail: int
    psnr: dict[int, float]
    validated_on: str
    steps: int
    batch_size: int
    patch_size: int
    minutes: float
    cores: int | None


def summarize_log(log: TrainLog, tail: int = 50) -> LogSummary:
    """A shipped run's :class:`LogSummary`, read from its log.csv and run.json."""
    config = log.info.get("train_config") or {}
    machine = log.info.get("machine") or {}
    return LogSummary(
        loss_peak=curve_peak(log, "loss") or (math.nan, 0),
        grad_peak=curve_peak(log, "grad_norm") or (math.nan, 0),
        loss_tail=curve_tail(log, "loss", tail),
        tail=tail,
        psnr={int(s): float(v) for s, v in zip(*log.series("psnr"), strict=True)},
        validated_on=_validated_on(log),
        steps=int(log.info.get("step") or max((r["step"] for r in log.rows), default=0)),
        batch_size=int(config.get("batch_size") or 0),
        patch_size=int(config.get("patch_size") or 0),
        minutes=float(log.info.get("seconds") or math.nan) / 60,
        cores=machine.get("cpu_cores"),
    )


def recovery(unscaled: LogSummary, scaled: LogSummary) -> str:
    """The shipped pair's outcome in one sentence, chosen from the validations both runs made:
    whether the unscaled run fell behind at the validation before the last, and whether it
    had caught up (is not below) at the last. "" with fewer than two common validations."""
    common = sorted(set(unscaled.psnr) & set(scaled.psnr) - {0})
    if not common:
        return ""
    mid, last = common[0], common[-1]
    behind = unscaled.psnr[mid] < scaled.psnr[mid]
    caught_up = unscaled.psnr[last] >= scaled.psnr[last]
    if behind and caught_up:
        return (
            f"So the unscaled model fell behind early and had caught up by step {last}: these "
            "steps show what its rough start costs, not a run that never comes back."
        )
    if behind:
        return f"So the unscaled model fell behind early and had not caught up in {last} steps."
    if caught_up:
        return f"So in these {last} steps training without scaling cost nothing measurable."
    return f"So the unscaled model was not behind at step {mid} but was at step {last}."


def shipped_effect(unscaled: LogSummary, scaled: LogSummary) -> Effect | None:
    """The shipped pair's validation PSNR, scaled minus unscaled, at the last step both
    validated at (positive: the paper's direction), its noise from the step-to-step jitter of
    the two curves (:func:`~edsr_lite.course.claims.curves`; infinite with under 3 common
    validations). None without a common validation after step 0."""
    common = sorted(set(unscaled.psnr) & set(scaled.psnr) - {0})
    if not common:
        return None
    return curves([scaled.psnr[s] for s in common], [unscaled.psnr[s] for s in common])


def _validated_on(log: TrainLog) -> str:
    """The validation images, in words, from run.json's metrics: run.json's ``"Set5[:2]"`` (its
    first 2 images) reads "2 Set5 images"."""
    names = [k for k in (log.info.get("metrics") or {}) if k != "step"]
    if not names:
        return "the validation images"
    first = re.fullmatch(r"(.+)\[:(\d+)\]", names[0])
    return f"{first.group(2)} {first.group(1)} images" if first else names[0]


def times(log10_ratio: float) -> str:
    """A ratio given as its log10, in words: "1,050 times higher", "3.2 times lower", "as high"
    (within 5%)."""
    ratio = 10**log10_ratio
    if abs(log10_ratio) < math.log10(1.05):
        return "as high"
    if ratio > 1:
        return f"{ratio:,.0f} times higher" if ratio >= 10 else f"{ratio:.1f} times higher"
    return f"{1 / ratio:,.0f} times lower" if ratio <= 0.1 else f"{1 / ratio:.1f} times lower"


def geometric_mean(traces: Sequence[RunTrace], which: str, tail: int = 10) -> float:
    """The geometric mean of the runs' ``which`` loss (:meth:`RunTrace.summary` key)."""
    return 10 ** statistics.mean(math.log10(t.summary(tail)[which]) for t in traces)


# --------------------------------------------------------------------------------------------
# Folding the scale into the convolution
# --------------------------------------------------------------------------------------------


def fold_check(model: nn.Module, x: torch.Tensor) -> dict[str, float | int]:
    """Compare ``model`` with ``fold_res_scale(model)`` on ``x`` (eval mode, no gradients).

    Returns ``max_abs_diff`` (0..255 scale: float rounding only, ~1e-4 or less) and
    ``pixels_changed``: how many output values differ once rounded to uint8 as a saved image
    is (0, or a handful that sit exactly on a rounding boundary).
    """
    folded = fold_res_scale(model).eval()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            a, b = model(x), folded(x)
    finally:
        model.train(was_training)
    rounded = int((a.round().clamp(0, 255) != b.round().clamp(0, 255)).sum())
    return {"max_abs_diff": float((a - b).abs().max()), "pixels_changed": rounded}

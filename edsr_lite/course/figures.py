"""Figures of the notebooks' measurements (matplotlib, no pyplot state): of
:mod:`edsr_lite.course.bn_removal`, :mod:`edsr_lite.course.residual_scaling` and
:mod:`edsr_lite.course.memory`, and training curves (:func:`plot_curves`, :func:`zoom_y`).

Each function returns a ``matplotlib.figure.Figure``: a notebook shows it when it is a cell's
value (and in the static HTML export), ``fig.savefig(path)`` writes it to a file.

A run has one colour wherever it is drawn: :func:`run_style` reads what a label names ("EDSR
block (no BN)", "x4 from scratch", "MDSR", ...) and gives every label of that concept the same
colour (:data:`CONCEPT_COLOURS`), so the BN run is the same colour in the live plot and in the
shipped one. A label no concept matches takes the next colour of a fixed cycle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from edsr_lite.course.bn_removal import StepMemory
from edsr_lite.course.claims import count
from edsr_lite.course.memory import MEMORY_CATEGORIES, MiB, UpscaleMemory
from edsr_lite.course.residual_scaling import DepthProfile, RunTrace
from edsr_lite.train import TrainLog, TrainResult, load_log

#: ``(concept, words that name it, colour)``, tried in order: the first whose pattern is found
#: in a label (lower case) gives its colour. Order matters: "no BN" before "BN", "scratch"
#: before "from x2" ("x4 from scratch" names x2 too), the specific before plain "EDSR".
CONCEPTS: tuple[tuple[str, str, str], ...] = (
    ("EDSR block (no BN)", r"no bn|without bn|edsr block", "tab:blue"),
    ("SRResNet block, BN-PReLU", r"prelu", "tab:pink"),
    ("SRResNet block (BN)", r"\bbn\b|srresnet|batch ?norm", "tab:orange"),
    ("from scratch", r"scratch|random init", "tab:brown"),
    ("from x2 (pretrained)", r"pretrain|from (the )?x2|init_from|initiali[sz]ed from", "tab:green"),
    ("MDSR", r"\bmdsr", "tab:purple"),
    ("bicubic", r"bicubic", "dimgray"),
    ("residual scaling 0.1", r"(res_scale|scal\w*)\s*=?\s*0?\.1\b", "tab:cyan"),
    ("no residual scaling", r"(res_scale|scal\w*)\s*=?\s*1(\.0)?\b|no scaling", "tab:red"),
    ("EDSR per scale", r"\bedsr", "tab:blue"),
)
#: The concepts' colours, by name: the legend of every figure of the course.
CONCEPT_COLOURS = {name: colour for name, _, colour in CONCEPTS}
#: Colours for labels no concept matches, in turn (none of them a concept's colour).
FALLBACK_CYCLE = ("tab:olive", "black", "gold", "teal", "navy", "crimson", "darkkhaki", "sienna")
#: A scale's line style, for runs of one concept at several scales ("EDSR x2", "EDSR x3").
_SCALE_DASHES = {"x2": "-", "x3": "--", "x4": ":"}


def concept_of(label: str) -> str | None:
    """The concept a run's label names (a key of :data:`CONCEPT_COLOURS`), or None."""
    text = label.lower()
    return next((name for name, words, _ in CONCEPTS if re.search(words, text)), None)


def run_style(label: str, unknown: Sequence[str] = ()) -> dict:
    """Matplotlib keywords (``color``, ``linestyle``) for the run ``label``.

    The colour is its concept's (:func:`concept_of`); a label of no concept takes the colour of
    its place among ``unknown`` (the plot's other unmatched labels, in order) in
    :data:`FALLBACK_CYCLE`. Single-scale runs of the "EDSR per scale" concept differ by line
    style: x2 solid, x3 dashed, x4 dotted.
    """
    concept = concept_of(label)
    if concept is None:
        others = list(dict.fromkeys(unknown))
        i = others.index(label) if label in others else len(others)
        return {"color": FALLBACK_CYCLE[i % len(FALLBACK_CYCLE)], "linestyle": "-"}
    scale = re.search(r"\bx[234]\b", label.lower())
    dashes = _SCALE_DASHES[scale.group(0)] if scale and concept == "EDSR per scale" else "-"
    return {"color": CONCEPT_COLOURS[concept], "linestyle": dashes}


def plain_number(value: float, _position: object = None) -> str:
    """A tick label as a reader writes the number: 40, 0.02, 3,000, 2e+05 (no 4x10^1).

    Plain digits from 0.001 to 999,999 (thousands separated), a short exponent outside."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:,.0f}" if abs(value) >= 1 and value == round(value) else f"{value:.3g}"
    return f"{value:.0e}".replace("e+0", "e+").replace("e-0", "e-")


def plain_log_ticks(ax, axis: str = "y") -> None:
    """Label a log axis with plain numbers (:func:`plain_number`): every decade when the axis
    spans three or more, 1, 2 and 5 of each decade under three, and every digit under one (so
    that a narrow axis still has labels and a wide one never crowds)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    spans = np.log10(max(high, 1e-300)) - np.log10(max(low, 1e-300))
    if spans < 1:
        target.set_major_locator(LogLocator(base=10, subs=np.arange(1.0, 10.0)))
        target.set_minor_locator(LogLocator(base=10, subs=np.arange(1.0, 10.0, 0.5)))
    else:
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if spans < 3 else (1.0,)))
    target.set_major_formatter(FuncFormatter(plain_number))
    target.set_minor_formatter(FuncFormatter(lambda *_: ""))


def _styles(labels: Sequence[str]) -> dict[str, dict]:
    """:func:`run_style` of each label of one plot (unmatched labels share the cycle)."""
    unknown = [label for label in labels if concept_of(label) is None]
    return {label: run_style(label, unknown) for label in labels}


_CATEGORY_COLORS = {
    "parameter": "darkgreen",
    "optimizer state": "goldenrod",
    "input": "black",
    "temporary": "mediumpurple",
    "activation": "tab:red",
    "gradient": "tab:blue",
    "autograd detail": "lightsteelblue",
    "other": "grey",
}


def plot_memory_timelines(memories: Sequence[StepMemory]) -> Figure:
    """One panel per model: memory alive during a training step, stacked by role (MiB).

    The forward pass builds up the activations (red) that the backward pass then frees while
    it makes the gradients (blue); the peak is where the forward pass ends.
    """
    fig = Figure(figsize=(5.2 * len(memories), 3.8), layout="constrained")
    axes = fig.subplots(1, len(memories), sharey=True, squeeze=False)[0]
    used = [
        i
        for i, _ in enumerate(MEMORY_CATEGORIES)
        if any(m.bytes_by_category[:, i].max() > 0.5 * MiB for m in memories)
    ]
    for ax, m in zip(axes, memories, strict=True):
        ax.stackplot(
            m.times_ms,
            *(m.bytes_by_category[:, i] / MiB for i in used),
            labels=[MEMORY_CATEGORIES[i] for i in used],
            colors=[_CATEGORY_COLORS[MEMORY_CATEGORIES[i]] for i in used],
            step="post",
        )
        ax.axhline(m.peak_bytes / MiB, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(f"{m.label}: peak {m.peak_bytes / MiB:.0f} MiB")
        ax.set_xlabel("time in the profiled step (ms)")
        ax.set_ylabel("memory allocated (MiB)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize="small")
    return fig


def plot_bn_range(rows: Sequence[dict]) -> Figure:
    """Feature std vs the input's contrast, for a conv alone and a conv followed by BN."""
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    contrast = [r["contrast"] for r in rows]
    for key, label, marker in (
        ("conv_std", "conv (EDSR block)", "o"),
        ("conv_bn_std", "conv + BN (SRResNet block)", "s"),
    ):
        ax.plot(contrast, [r[key] for r in rows], marker=marker, label=label, **run_style(label))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("input contrast (factor on the image's own, mean removed; log)")
    ax.set_ylabel("std of a feature map (grey levels, 0..255 input; log)")
    ax.set_title("BN removes the range of the features")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_depth_profiles(profiles: Sequence[DepthProfile], title: str = "") -> Figure:
    """Activation std and gradient RMS block by block, one line per profile (log y)."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_act, ax_grad = fig.subplots(1, 2)
    styles = _styles([p.label for p in profiles])
    for p in profiles:
        blocks = np.arange(1, len(p.activation_std) + 1)
        style = styles[p.label]
        ax_act.plot(blocks, p.activation_std, marker="o", markersize=3, label=p.label, **style)
        ax_grad.plot(blocks, p.grad_rms, marker="o", markersize=3, label=p.label, **style)
    ax_act.set_ylabel("std of block output x_i (grey levels, 0..255; log)")
    ax_act.set_title("activations: forward, input side on the left")
    ax_grad.set_ylabel("RMS of dLoss/dx_i (L1 loss per grey level; log)")
    ax_grad.set_title("gradients: they flow right to left")
    for ax in (ax_act, ax_grad):
        ax.set_xlabel("residual block i (1 = next to the input)")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_runs(traces: Sequence[RunTrace]) -> Figure:
    """Training loss and gradient norm per step, one line per run (log y). Runs that differ
    only by their seed (labels ``"res_scale 1, seed 0"``, ``"res_scale 1, seed 1"``) share one
    legend entry, ``"res_scale 1 (2 seeds)"``."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_loss, ax_grad = fig.subplots(1, 2)
    styles = _styles([t.label for t in traces])
    kinds = [re.sub(r",? seed \d+$", "", t.label) for t in traces]
    shown: set[str] = set()
    for t, kind in zip(traces, kinds, strict=True):
        n = kinds.count(kind)
        label = "_nolegend_" if kind in shown else (f"{kind} ({n} seeds)" if n > 1 else t.label)
        shown.add(kind)
        steps = np.arange(1, len(t.loss) + 1)
        ax_loss.plot(steps, t.loss, label=label, **styles[t.label])
        ax_grad.plot(steps[: len(t.grad_norm)], t.grad_norm, label=label, **styles[t.label])
    ax_loss.set_ylabel("training L1 loss (grey levels, 0..255; log)")
    ax_grad.set_ylabel("gradient norm, L2 over all parameters (log)")
    for ax in (ax_loss, ax_grad):
        ax.set_xlabel("step (minibatch updates)")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    return fig


def plot_upscale_memory(runs: Sequence[UpscaleMemory]) -> Figure:
    """Each upscale's memory: allocated by PyTorch, the budget's estimate, the process's
    peak RSS growth (MiB)."""
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(runs))
    bars = (
        ("allocated by PyTorch (profiler)", [r.allocated_mb for r in runs]),
        ("estimate for the largest tile", [r.estimate_mb for r in runs]),
        ("process peak RSS growth (OS)", [r.peak_rss_mb for r in runs]),
    )
    colours = ("tab:blue", "lightsteelblue", "dimgray")  # measured, estimated, the OS's view
    for i, ((label, values), colour) in enumerate(zip(bars, colours, strict=True)):
        ax.bar(x + (i - 1) * 0.27, values, 0.27, label=label, color=colour)
    ax.set_xticks(x, [f"{r.label}\n({count(r.n_tiles, 'tile')})" for r in runs])
    ax.set_xlabel("run (tile setting)")
    ax.set_ylabel("memory (MiB)")
    ax.set_title("upscaling one large image")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return fig


def zoom_y(fig: Figure, skip: int = 1, margin: float = 0.05) -> Figure:
    """Leave out the first ``skip`` points of each curve and fit the axes to the rest.

    A validation curve starts at the untrained network's PSNR (about 12 dB), which squeezes
    the differences between trained models into a sliver; this shows them. The points are
    removed from the lines, not just clipped, so no segment runs off the panel. Returns ``fig``.
    """
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if len(line.get_ydata()) > skip]
        for line in lines:
            line.set_data(line.get_xdata()[skip:], line.get_ydata()[skip:])
        values = [np.asarray(line.get_ydata(), dtype=float) for line in lines]
        values = [v[np.isfinite(v)] for v in values]
        if not any(v.size for v in values):
            continue
        low = min(v.min() for v in values if v.size)
        high = max(v.max() for v in values if v.size)
        pad = margin * (high - low or 1.0)
        ax.relim()
        ax.autoscale_view(scaley=False)
        ax.set_ylim(low - pad, high + pad)
    return fig


def plot_error_maps(maps: dict[str, np.ndarray], vmax: float = 30.0) -> Figure:
    """One panel per method: its absolute Y error against HR (grey levels, see
    :func:`edsr_lite.course.tour.error_maps`), on one shared colour scale clipped at ``vmax``.

    Dark is right; bright is wrong. Each title gives the map's mean, the MAE.
    """
    fig = Figure(figsize=(3.6 * len(maps) + 0.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, (name, err) in zip(axes, maps.items(), strict=True):
        shown = ax.imshow(err, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{name}: mean |error| {err.mean():.2f}")
        ax.set_axis_off()
    fig.colorbar(shown, ax=list(axes), label="|Y error| (grey levels, 0..255 scale)", shrink=0.9)
    return fig


# --------------------------------------------------------------------------- training curves

RunLike = TrainLog | TrainResult | str | os.PathLike

_LABELS = {
    "loss": "training L1 loss (0..255 scale)",
    "grad_norm": "gradient norm (L2 over all parameters)",
    "psnr": "validation PSNR, Y channel (dB)",
    "step": "step (minibatch updates)",
    "minutes": "training time (minutes)",
}


def plot_curves(
    runs: Mapping[str, RunLike],
    metric: str = "loss",
    x: str = "step",
    smooth: int = 50,
    scale: int | None = None,
    logy: bool = False,
    ax=None,
) -> Figure:
    """Plot one curve per run and return the figure.

    Args:
        runs: ``{label: run}``, e.g. ``{"fp32": "runs/a", "bf16": "runs/b"}``; a label's
            colour is its concept's (:func:`run_style`).
        metric: ``"loss"`` or ``"grad_norm"`` (every step; noisy, so a running mean of
            ``smooth`` steps is drawn over the faint raw curve) or ``"psnr"`` (at validation
            steps).
        x: ``"step"`` or ``"minutes"`` (wall time: compares runs of different speed).
        smooth: window of the running mean for the loss (1: no smoothing).
        scale: for MDSR runs, the PSNR of one scale (``psnr_x<scale>``) instead of the mean.
        logy: a logarithmic y axis (a loss that jumps 10x and comes back stays readable).
        ax: draw into this matplotlib Axes instead of a new figure.
    """
    if metric not in ("loss", "grad_norm", "psnr"):
        raise ValueError(f'metric must be "loss", "grad_norm" or "psnr", got {metric!r}')
    if x not in ("step", "minutes"):
        raise ValueError(f'x must be "step" or "minutes", got {x!r}')
    if ax is None:
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    key = f"psnr_x{scale}" if metric == "psnr" and scale is not None else metric
    styles = _styles(list(runs))
    for label, run in runs.items():
        log = run if isinstance(run, TrainLog) else load_log(run)
        xs, ys = log.series(key, x="seconds" if x == "minutes" else "step")
        xs = np.asarray(xs, dtype=float) / (60 if x == "minutes" else 1)
        ys = np.asarray(ys, dtype=float)
        if metric != "psnr" and smooth > 1 and len(ys) >= smooth:
            ax.plot(xs, ys, alpha=0.2, linewidth=0.8, color=styles[label]["color"])
            ax.plot(xs[smooth - 1 :], running_mean(ys, smooth), label=label, **styles[label])
        else:
            marker = "o" if metric == "psnr" else None
            ax.plot(xs, ys, marker=marker, markersize=3, label=label, **styles[label])
    ax.set_xlabel(_LABELS[x])
    ax.set_ylabel(_LABELS[metric] + (f", x{scale}" if key != metric else ""))
    if logy:
        ax.set_yscale("log")
        plain_log_ticks(ax)
    ax.grid(alpha=0.3)
    if runs:
        ax.legend()
    return fig


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values (length ``len(values) - window + 1``)."""
    cumsum = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    return (cumsum[window:] - cumsum[:-window]) / window


def plot_scale_curves(
    curves: Mapping[str, Mapping[int, tuple[Sequence[float], Sequence[float]]]],
    reference: Mapping[int, float] | None = None,
    reference_label: str = "bicubic",
) -> Figure:
    """Validation PSNR against training, one panel per scale, one line per approach.

    Args:
        curves: ``{approach: {scale: (updates, dB)}}``, e.g. ``{"MDSR": {2: ([0, 5], [30.1,
            32.4])}}``; ``updates`` counts the minibatches *of that scale* trained so far, so
            that approaches with different schedules (an MDSR draws a scale per step) line up.
        reference: ``{scale: dB}`` drawn as a dashed horizontal line per panel (bicubic).
    """
    scales = sorted({s for per_scale in curves.values() for s in per_scale})
    fig = Figure(figsize=(3.3 * max(1, len(scales)), 3.4), layout="constrained")
    axes = fig.subplots(1, max(1, len(scales)), squeeze=False)[0]
    styles = _styles(list(curves))
    for ax, s in zip(axes, scales, strict=False):
        for approach, per_scale in curves.items():
            if s in per_scale:
                xs, ys = per_scale[s]
                ax.plot(xs, ys, marker="o", markersize=3, label=approach, **styles[approach])
        if reference is not None and s in reference:
            ax.axhline(reference[s], color="dimgray", ls="--", lw=1, label=reference_label)
        ax.set(title=f"x{s}", xlabel=f"minibatches at x{s} (steps)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(_LABELS["psnr"])
    axes[0].legend(fontsize=8)
    return fig

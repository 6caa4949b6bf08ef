"""Training curves with matplotlib: loss, gradient norm and validation PSNR of one or more runs.

    from edsr_lite.plots import plot_curves
    fig = plot_curves({"x4 from scratch": "runs/a", "x4 from x2": "runs/b"}, metric="psnr")

Each run is a run folder, its ``log.csv``, a :class:`~edsr_lite.train.TrainLog` or a
:class:`~edsr_lite.train.TrainResult`. The figure is a plain ``matplotlib.figure.Figure``
(no pyplot state): a notebook shows it when it is a cell's value; ``fig.savefig(path)``
writes it to a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from edsr_lite.train import TrainLog, TrainResult, load_log

RunLike = TrainLog | TrainResult | str | os.PathLike

_LABELS = {
    "loss": "training L1 loss (0..255 scale)",
    "grad_norm": "gradient norm (L2, all parameters)",
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
        runs: ``{label: run}``, e.g. ``{"fp32": "runs/a", "bf16": "runs/b"}``.
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
    for label, run in runs.items():
        log = run if isinstance(run, TrainLog) else load_log(run)
        xs, ys = log.series(key, x="seconds" if x == "minutes" else "step")
        xs = np.asarray(xs, dtype=float) / (60 if x == "minutes" else 1)
        ys = np.asarray(ys, dtype=float)
        if metric != "psnr" and smooth > 1 and len(ys) >= smooth:
            (raw,) = ax.plot(xs, ys, alpha=0.2, linewidth=0.8)
            ax.plot(xs[smooth - 1 :], running_mean(ys, smooth), color=raw.get_color(), label=label)
        else:
            ax.plot(xs, ys, marker="o" if metric == "psnr" else None, markersize=3, label=label)
    ax.set_xlabel(_LABELS[x])
    ax.set_ylabel(_LABELS[metric] + (f", x{scale}" if key != metric else ""))
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if runs:
        ax.legend()
    return fig


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values (length ``len(values) - window + 1``)."""
    cumsum = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    return (cumsum[window:] - cumsum[:-window]) / window

"""Work you can watch: the one way every lesson shows a long cell's progress while it runs.

Two helpers, both drawn into a single output of the cell that is updated in place (an IPython
display handle), so that JupyterLab shows the work as it happens and a notebook saved by
nbconvert or the site keeps only the final state, not hundreds of frames:

* :class:`TrainingBoard`: a small figure, training loss and validation PSNR (dB) against the
  step, one colour per run, redrawn at most every ``every_s`` seconds while runs train; its
  title carries the latest step, loss, PSNR and the elapsed time. ``board.callback(label)``
  is a callback for :func:`edsr_lite.train.train` (``callback(step, row, model)``).
* :func:`progress`: a one-line text bar over an iterable (``evaluating Set5: 3/5 · 2.1 s``),
  for evaluation loops; the finished line stays (``... 5/5 in 3.2 s``).

Outside a Jupyter kernel (tests, scripts) both draw nothing and cost nothing.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from torch import nn

from edsr_lite.progress import format_duration

__all__ = ["TrainingBoard", "in_notebook", "progress"]

T = TypeVar("T")


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a display handle updates in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _Line:
    """One line of text in the cell's output, replaced in place on each update."""

    def __init__(self) -> None:
        self.handle = None
        if in_notebook():
            from IPython.display import display

            self.handle = display(_Text(""), display_id=True)

    def show(self, text: str) -> None:
        if self.handle is not None:
            self.handle.update(_Text(text))


@dataclass(frozen=True)
class _Text:
    """Plain text for a display handle (its repr is the text, with no quotes around it)."""

    text: str

    def __repr__(self) -> str:
        return self.text


def progress(
    items: Iterable[T], desc: str, total: int | None = None, unit: str = "", every_s: float = 0.5
) -> Iterator[T]:
    """``items`` one by one, with a text line showing how far the loop has got and for how
    long; ``total`` defaults to ``len(items)``; ``unit`` names an item ("images")."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    line = _Line()
    start = last = time.perf_counter()
    noun = f" {unit}" if unit else ""
    of = f"/{total}" if total is not None else ""
    done = 0
    line.show(f"{desc}: 0{of}{noun}")
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if now - last >= every_s:
            line.show(f"{desc}: {done}{of}{noun} · {format_duration(now - start)}")
            last = now
    line.show(f"{desc}: {done}{of}{noun} in {format_duration(time.perf_counter() - start)}")


@dataclass
class _Run:
    """What the board keeps of one run: its loss and validation points."""

    loss_steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    psnr_steps: list[int] = field(default_factory=list)
    psnrs: list[float] = field(default_factory=list)


class TrainingBoard:
    """A live figure of one or more training runs: loss and validation PSNR against the step.

    ``title`` names the experiment; ``total_steps`` (per run) lets the title say how far a run
    has got; ``every_s`` bounds how often the figure is redrawn (drawing costs ~0.1 s);
    ``log_loss`` draws the loss on a log axis (for runs whose loss spikes by orders of
    magnitude). The PSNR panel appears once a run has validated.
    Use :meth:`callback` as ``train``'s callback, then :meth:`close` to draw the final state::

        board = TrainingBoard("EDSR vs SRResNet block", total_steps=300)
        run_a = train(config_a, quiet=True, callback=board.callback("EDSR"))
        board.close()
    """

    def __init__(
        self,
        title: str,
        total_steps: int | None = None,
        every_s: float = 2.0,
        log_loss: bool = False,
    ) -> None:
        self.title = title
        self.log_loss = log_loss
        self.total_steps = total_steps
        self.every_s = every_s
        self.runs: dict[str, _Run] = {}
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.status = "starting"
        self.handle = None
        if in_notebook():
            from IPython.display import display

            self.handle = display(_Text(f"{title}: starting"), display_id=True)

    def callback(self, label: str) -> Callable[[int, dict, nn.Module], None]:
        """A ``callback(step, row, model)`` for :func:`edsr_lite.train.train` that records the
        run ``label``: ``row["loss"]`` every step, ``row["psnr"]`` when it validated."""
        self.runs.setdefault(label, _Run())  # its colour is fixed by the order runs are named

        def record(step: int, row: dict, model: nn.Module) -> None:
            self.record(label, step, loss=row.get("loss"), psnr=row.get("psnr"))

        return record

    def record(
        self, label: str, step: int, loss: float | None = None, psnr: float | None = None
    ) -> None:
        """Add one step of run ``label`` (either value may be missing), and redraw if due."""
        run = self.runs.setdefault(label, _Run())
        if loss is not None:
            run.loss_steps.append(step)
            run.losses.append(float(loss))
        if psnr is not None:
            run.psnr_steps.append(step)
            run.psnrs.append(float(psnr))
        of = f"/{self.total_steps}" if self.total_steps else ""
        last_psnr = f" · PSNR {run.psnrs[-1]:.2f} dB" if run.psnrs else ""
        last_loss = f" · loss {run.losses[-1]:.3g}" if run.losses else ""
        elapsed = format_duration(time.perf_counter() - self.start)
        self.status = f"{label}: step {step}{of}{last_loss}{last_psnr} · {elapsed}"
        if time.perf_counter() - self.last_draw >= self.every_s:
            self.draw()

    def draw(self) -> None:
        """Redraw the figure now (nothing outside a notebook)."""
        self.last_draw = time.perf_counter()
        if self.handle is None:
            return
        from IPython.display import Image

        self.handle.update(Image(data=self.png(), format="png"))

    def close(self) -> None:
        """Draw the final state; the figure stays in the cell's output."""
        elapsed = format_duration(time.perf_counter() - self.start)
        self.status = f"done in {elapsed}"
        self.draw()

    def png(self) -> bytes:
        """The figure as PNG bytes (drawn off-screen, so no extra figure appears in the cell)."""
        from matplotlib.figure import Figure

        validated = any(run.psnrs for run in self.runs.values())
        fig = Figure(figsize=(9, 3.2) if validated else (5.5, 3.2), dpi=90)
        axes = fig.subplots(1, 2 if validated else 1, squeeze=False)[0]
        loss_ax = axes[0]
        for i, (label, run) in enumerate(self.runs.items()):
            colour = f"C{i}"
            loss_ax.plot(run.loss_steps, run.losses, color=colour, lw=1, label=label)
            if run.psnrs:
                axes[1].plot(run.psnr_steps, run.psnrs, "o-", color=colour, ms=3, label=label)
        loss_ax.set(xlabel="step", ylabel="training L1 loss", title="loss")
        if self.log_loss:
            loss_ax.set_yscale("log")
        if validated:
            axes[1].set(xlabel="step", ylabel="validation PSNR (dB)", title="validation PSNR")
        if self.runs:
            loss_ax.legend(fontsize=8)
        fig.suptitle(f"{self.title} · {self.status}", fontsize=10)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

"""What :meth:`edsr_lite.train.engine.Trainer.run` keeps besides the paper's loop: the progress
bar, the clock, the time budget and the stop request, in one object the loop asks."""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from edsr_lite.train.config import TrainConfig
from edsr_lite.train.distributed import Dist, any_process
from edsr_lite.train.resume import StopRequest


class Bookkeeping:
    """What :meth:`Trainer.run` keeps besides the paper's loop: the progress bar, the clock
    (training seconds across resumes), the ``max_minutes`` budget and the stop request
    (:class:`~edsr_lite.train.resume.StopRequest`: the first Ctrl-C or SIGTERM)."""

    def __init__(self, config: TrainConfig, ctx: Dist, step: int, elapsed: float, quiet: bool):
        self.start, self.start_step = time.monotonic(), step
        self.elapsed_before = elapsed  # training seconds of the run before this call (resume)
        self.max_minutes, self.ctx = config.max_minutes, ctx
        self.stopped_by = "max_steps"  # or "max_minutes", once out_of_time says so
        self.train_seconds = 0.0  # this call's training time, set by stop_clock
        self.stop_request = StopRequest()
        self.bar = tqdm(
            total=config.max_steps,
            initial=step,
            unit="step",
            disable=quiet or not ctx.is_main,
            dynamic_ncols=True,
        )

    def seconds(self) -> float:
        """Training seconds since the run began, across resumes (log.csv's ``seconds``)."""
        return self.elapsed_before + time.monotonic() - self.start

    def out_of_time(self) -> bool:
        """Whether ``max_minutes`` is spent (for any process: all stop at the same step)."""
        if self.max_minutes is None:
            return False
        spent = any_process(time.monotonic() - self.start >= 60 * self.max_minutes, self.ctx)
        if spent:
            self.stopped_by = "max_minutes"
        return spent

    def stop_requested(self) -> bool:
        """Whether any process got a first Ctrl-C/SIGTERM (all stop at the same step)."""
        return any_process(self.stop_request.requested, self.ctx)

    def stop_pending(self) -> bool:
        """Whether this process got a first Ctrl-C/SIGTERM, without asking the others: what a
        validation asks between two images (only rank 0 validates; the processes agree at the
        next :meth:`stop_requested`, where all stop at the same step)."""
        return self.stop_request.requested

    def tick(self, rows: list[dict]) -> None:
        """One step done: the bar moves and shows the recent loss and the last PSNR."""
        self.bar.update(1)
        self.bar.set_postfix(_postfix(rows), refresh=False)

    def stop_clock(self) -> None:
        """The loop is over: this call's training time is the time until now."""
        self.train_seconds = time.monotonic() - self.start

    def close(self) -> None:
        """Close the bar and give Ctrl-C and SIGTERM their previous handlers back."""
        self.bar.close()
        self.stop_request.restore()


def _postfix(rows: list[dict]) -> dict:
    """The progress bar's numbers: loss (mean of the last 20 steps) and the last PSNR."""
    recent = [r["loss"] for r in rows[-20:] if r.get("loss") is not None]
    postfix = {"loss": f"{np.mean(recent):.2f}"}
    last_psnr = next((r["psnr"] for r in reversed(rows) if r.get("psnr") is not None), None)
    if last_psnr is not None:
        postfix["psnr"] = f"{last_psnr:.2f}"
    return postfix

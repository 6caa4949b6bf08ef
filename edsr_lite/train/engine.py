"""The training engine: runs the recipe (:mod:`edsr_lite.core.recipe`) for a :class:`TrainConfig`.

:func:`train` is all a notebook needs; :class:`Trainer` lets you drive the steps yourself.
On the way the engine validates (Y-channel PSNR on uint8 outputs, the paper's protocol), logs
every step (:mod:`~edsr_lite.train.runlog`), saves ``latest.pt`` for resuming
(:mod:`~edsr_lite.train.resume`) and ``best.pt``, and stops on a NaN loss
(:class:`TrainingDiverged`). Ctrl-C (a notebook's interrupt) or SIGTERM (``kill``, a session
ending) lets the current step or save finish (a validation stops between two images), saves
``latest.pt`` at the last finished step and then stops, saying so, so that no step is lost;
a second one stops at once. Under ``torchrun`` every process runs this
(:mod:`~edsr_lite.train.distributed`); only rank 0 validates and writes files.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from edsr_lite.checkpoints import save_checkpoint
from edsr_lite.core.metrics import psnr
from edsr_lite.core.models import build, count_parameters
from edsr_lite.core.patches import step_rng
from edsr_lite.core.recipe import draw_scale, forward_backward, make_optimizer, make_scheduler
from edsr_lite.datasets import find_dataset
from edsr_lite.errors import EdsrLiteError
from edsr_lite.images import to_tensor
from edsr_lite.infer import Upscaler
from edsr_lite.train.bookkeeping import Bookkeeping
from edsr_lite.train.config import TrainConfig
from edsr_lite.train.distributed import (
    all_reduce_sum,
    any_process,
    leaving_process_group,
    setup_distributed,
    wrap_ddp,
)
from edsr_lite.train.precision import choose_bf16, precision_name
from edsr_lite.train.resume import (
    RunFolderLock,
    check_out_dir,
    load_latest,
    remove_stale_temp_files,
    save_latest,
    saved_step,
)
from edsr_lite.train.runlog import (
    BEST,
    LATEST,
    LOG_CSV,
    DiskFullError,
    RunFiles,
    TrainLog,
    TrainResult,
    extend_segments,
    git_describe,
    machine_info,
    portable_data_report,
    run_segments,
    saving,
    val_metrics,
)
from edsr_lite.training_data import (
    TrainingSet,
    load_holdout_set,
    load_training_set,
    load_validation_set,
)
from edsr_lite.weights import another_architecture, init_from

Callback = Callable[[int, dict, nn.Module], None]


class TrainingDiverged(EdsrLiteError, ValueError):
    """The loss became NaN or infinite; the last good ``latest.pt`` is kept."""


def train(config: TrainConfig, quiet: bool = False, callback: Callback | None = None):
    """Train a model with ``config``; returns a :class:`~edsr_lite.train.runlog.TrainResult`.

    ``quiet`` hides the progress bar and messages (notebooks, tests). ``callback(step, row,
    model)`` is called after every step (e.g. a live plot); it may raise to stop the run.
    Under ``torchrun`` every process calls this; only rank 0 writes files.
    """
    with leaving_process_group():
        trainer = Trainer(config, quiet=quiet)
        try:
            return trainer.run(callback)
        finally:
            trainer.folder_lock.release()  # the folder is free for the next run (or --resume)


def validate(
    model: nn.Module,
    val_set: Mapping[int, list],
    channels_last: bool = True,
    stop: Callable[[], bool] | None = None,
) -> dict:
    """Y-channel PSNR (shave = scale) on the validation images, per scale and their mean.

    The output is rounded and clamped to uint8 first, like a saved PNG (the paper's protocol),
    by :class:`edsr_lite.infer.Upscaler` on the model's device, untiled, in float32 whatever
    the training precision. Upscaler runs the weights in channels_last: ``channels_last=False``
    (an NCHW run) puts them back in NCHW after. Returns ``{"psnr_x2": .., "psnr": ..}`` (dB).

    ``stop`` is asked before each image; once it says True the rest is skipped and ``{}`` is
    returned (a stop was requested: the PSNR of part of the set would not be the set's).
    """
    device = next(model.parameters()).device
    upscale = Upscaler(model, tile=0, device=device)  # (it keeps the model's train/eval mode)
    scores = {}
    try:
        for s, items in val_set.items():
            per_image = []
            for _, hr, lr in items:
                if stop is not None and stop():
                    return {}
                per_image.append(psnr(upscale(lr, s), hr, s))
            scores[f"psnr_x{s}"] = float(np.mean(per_image))
    finally:
        if not channels_last:
            model.to(memory_format=torch.contiguous_format)
    scores["psnr"] = float(np.mean(list(scores.values())))
    return scores


def grad_norm(model: nn.Module) -> float:
    """The L2 norm of all the model's gradients together (0 if none): a step's size before
    Adam normalizes it, logged per step because instability shows in it first."""
    norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


class Trainer:
    """One training run: set-up in ``__init__``, the loop in :meth:`run`.

    Use :func:`train` unless you want to drive the steps yourself (:meth:`step`). A Trainer
    holds its run folder (:class:`~edsr_lite.train.resume.RunFolderLock`) until :func:`train`
    ends, ``folder_lock.release()`` is called, or the Trainer is freed.
    """

    def __init__(self, config: TrainConfig, quiet: bool = False):
        self.created = time.monotonic()
        config.validate()
        self.config = config
        self.quiet = quiet
        self.ctx = setup_distributed(config.device)
        self.out_dir = config.out_dir
        self.scales = config.scales
        self.files = RunFiles(self.out_dir, self.scales, enabled=self.ctx.is_main)
        self.step_count = 0  # optimizer steps done so far
        self.elapsed = 0.0  # training seconds before this call (resume)
        self.rows: list[dict] = []
        self.best_psnr: float | None = None
        self.best_step: int | None = None
        self.init_report: dict | None = None
        # The stop request (first Ctrl-C/SIGTERM) as a validation asks it, while run() runs.
        self.stop_pending: Callable[[], bool] | None = None
        self.unvalidated: int | None = None  # a step whose validation a stop skipped
        self.saved_step: int | None = None  # the step latest.pt holds, once saved by this run
        self.bf16 = choose_bf16(config.bf16, self.ctx.device)
        # Which steps ran where and in which precision: a run may be resumed on other machines.
        self.past_segments: list[dict] = []  # from the checkpoint resumed, if any
        # One run per folder: a second one is refused here, before it reads or writes a file.
        self.folder_lock = RunFolderLock(self.out_dir, enabled=self.ctx.is_main)
        self.folder_lock.acquire()
        try:
            self._set_up()
        except BaseException:
            self.folder_lock.release()
            raise

    def _set_up(self) -> None:
        """Check the folder, build the model and optimizer, resume or initialize, load data."""
        config = self.config
        starting_over = check_out_dir(self.out_dir, config.resume)
        if self.ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for path in remove_stale_temp_files(self.out_dir):  # left by a save killed midway
                self._log(f"removed {path.name}, left by a save that was killed")
        if starting_over:
            self._log(starting_over)
        self._seed_everything()
        self.model = self._build_model()
        self.optimizer = make_optimizer(self.model, config.lr)
        self.scheduler = make_scheduler(self.optimizer, config.decay_steps)
        if config.resume and (self.out_dir / LATEST).is_file():
            self._load_latest()  # the stored weights replace any --init-from
        elif config.init_from:
            self._init_from(config.init_from)
        self.first_step = self.step_count  # this process's segment starts here
        self.data = self._load_data()
        self.val_set = self._load_validation()
        # MDSR: the branches of the other scales get no gradient in a step (DDP must know).
        self.ddp_model = wrap_ddp(
            self.model, self.ctx, find_unused_parameters=config.arch == "mdsr"
        )

    # -- set-up

    def _log(self, message: str) -> None:
        if not self.quiet and self.ctx.is_main:
            print(message, file=sys.stderr)

    def _seed_everything(self) -> None:
        """Same seed on every process: the same initial weights (DDP also broadcasts them)."""
        torch.manual_seed(self.config.seed)
        random.seed(self.config.seed)

    def _build_model(self) -> nn.Module:
        c = self.config
        scale = c.scales[0] if c.arch == "edsr" else list(c.scales)
        model = build(c.preset, scale, **c.model_overrides).to(self.ctx.device)
        if c.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model.train()

    def _init_from(self, source: str) -> None:
        """Pretrained initialization: copy every tensor whose name and shape match. The record
        keeps the counts and whether the source was another architecture (init_from warns)."""
        report = init_from(self.model, source, verbose=False)
        tensors = len(report.copied) + len(report.left_random)
        self.init_report = {
            "source": str(source),
            **report.as_dict(),
            "counts": {"copied": len(report.copied), "tensors": tensors},
            "another_architecture": another_architecture(report.copied, tensors),
        }
        self._log(report.summary())

    def _load_data(self) -> TrainingSet:
        c = self.config
        self._log(f"preparing training data {c.data} (LR by MATLAB bicubic, cached once) ...")
        data = load_training_set(
            c.data,
            self.scales,
            c.patch_size,
            cache=c.cache,
            cache_dir=self.out_dir / "cache",
            shard=(self.ctx.rank, self.ctx.world_size),
            exclude=c.val_holdout if c.holdout else (),  # held out: the validation images
        )
        # Every process must hold images, or the others would wait for it forever.
        if self.ctx.enabled:
            no_images = min(len(p) for p in data.pairs.values()) == 0
            if any_process(no_images, self.ctx):
                raise ValueError("a process has no usable training image; use fewer processes")
        if c.batch_size % self.ctx.world_size:
            raise ValueError(
                f"batch_size {c.batch_size} is the global minibatch; it must be divisible by "
                f"the {self.ctx.world_size} processes"
            )
        return data

    def _load_validation(self) -> dict | None:
        c = self.config
        if not c.val_data:
            return None
        if c.holdout:
            return load_holdout_set(c.data, c.val_holdout, self.scales, c.val_images)
        if find_dataset(c.val_data).resolve() in [f.resolve() for f in self.data.folders]:
            raise ValueError("the validation set must not be the training set")
        return load_validation_set(c.val_data, self.scales, c.val_images)

    # -- one step

    def sample_batch(
        self, step: int, scale: int | None = None
    ) -> tuple[int, torch.Tensor, torch.Tensor]:
        """``(scale, lr, hr)`` of step ``step``: a pure function of (seed, step, rank).

        ``lr``: N x 3 x p x p, ``hr``: N x 3 x sp x sp, float32 0..255, N = batch_size divided
        by the number of processes. ``scale`` forces the scale instead of drawing it.
        """
        c = self.config
        if scale is None:
            scale = draw_scale(self.scales, c.seed, step)  # the same on every process
        rng = step_rng(c.seed, step, rank=self.ctx.rank)  # each process its own patches
        lr, hr = self.data.sample(scale, c.batch_size // self.ctx.world_size, rng, c.augment)
        device, cl = self.ctx.device, c.channels_last
        return scale, to_tensor(lr, device, cl), to_tensor(hr, device, cl)

    def step(self, scale: int | None = None) -> dict:
        """One optimizer update; returns its log row (step, scale, loss, grad_norm, lr).

        ``scale`` forces the MDSR branch (e.g. to show that the others stay unchanged);
        by default it is drawn at random. Raises :class:`TrainingDiverged` (before the
        update) if the loss is NaN or infinite.
        """
        step = self.step_count + 1
        scale, lr_batch, hr_batch = self.sample_batch(step, scale)
        # set_to_none, not zeros: a parameter whose .grad is None is skipped by Adam. A zero
        # gradient would still move it (Adam's momentum keeps pushing in the old direction),
        # so the MDSR branches of the other scales would change in a step that is not theirs.
        self.optimizer.zero_grad(set_to_none=True)
        loss = forward_backward(self.ddp_model, lr_batch, hr_batch, scale, self.bf16)
        loss_value = all_reduce_sum([loss.item()], self.ctx)[0] / self.ctx.world_size
        if not math.isfinite(loss_value):
            raise TrainingDiverged(self._diverged_message(step, loss_value))
        grad = grad_norm(self.model)  # before the update: how hard this minibatch pulls
        lr_now = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.step_count = step
        return {"step": step, "scale": scale, "loss": loss_value, "grad_norm": grad, "lr": lr_now}

    def _diverged_message(self, step: int, loss: float) -> str:
        kept = self.out_dir / LATEST
        where = f"{kept} (step {saved_step(kept)})" if kept.is_file() else "no checkpoint yet"
        return (
            f"training diverged at step {step}: the loss is {loss}. The last good checkpoint is "
            f"kept: {where}. Lower the learning rate (--lr, now {self.config.lr:g}) or, for "
            "wide models, scale the residuals down (--res-scale 0.1, as the paper's EDSR)."
        )

    # -- the loop

    def run(self, callback: Callback | None = None) -> TrainResult:
        """Train until ``max_steps`` or ``max_minutes``: sample, step, log, validate, save.

        Around the paper's loop: :class:`Bookkeeping` (the bar, the clock, the time budget,
        Ctrl-C/SIGTERM) and :meth:`_recording_faults` (run.json's status if it ends early).
        """
        c = self.config
        save_every = c.save_every or c.val_every
        with self._bookkeeping() as books, self._recording_faults():
            self._start()
            if books.stop_requested():  # during the step-0 validation
                self._stop_now(books)
            while self.step_count < c.max_steps and not books.out_of_time():
                row = self.step()  # sample a minibatch, L1 loss, one Adam update
                row["seconds"] = books.seconds()
                last = self.step_count == c.max_steps
                if self.step_count % c.val_every == 0 or last:
                    self._validate(row)  # saves best.pt if the PSNR is the best yet
                self._log_row(row)
                if self.step_count % save_every == 0 and not last:
                    self._save_latest(books.seconds())
                books.tick(self.rows)
                if callback is not None:
                    callback(self.step_count, row, self.model)
                # (after the last step too, if a stop skipped its validation: resume does it)
                if books.stop_requested() and (not last or self.unvalidated == self.step_count):
                    self._stop_now(books)
            self._finish(books)
        self._write_info("finished", books.stopped_by)
        return self._result(books)

    @contextlib.contextmanager
    def _bookkeeping(self) -> Iterator[Bookkeeping]:
        """The bar, the clock and the stop request of one call of :meth:`run`, put away
        however the loop ends."""
        books = Bookkeeping(self.config, self.ctx, self.step_count, self.elapsed, self.quiet)
        self.stop_pending = books.stop_pending  # asked by a validation between images
        try:
            yield books
        finally:
            self.stop_pending = None
            books.close()

    @contextlib.contextmanager
    def _recording_faults(self) -> Iterator[None]:
        """Record in run.json why a run ended early, then let the error go on: ``"diverged"``
        (a NaN loss), ``"failed"`` (a full disk: the files saved so far are intact and resume
        continues from them) or ``"interrupted"`` (a second Ctrl-C/SIGTERM stops mid-step: the
        last save stands)."""
        try:
            yield
        except TrainingDiverged:
            self._write_info("diverged")
            raise
        except DiskFullError:
            with contextlib.suppress(OSError):  # the disk may not take run.json either
                self._write_info("failed")
            raise
        except KeyboardInterrupt:
            self._write_info("interrupted")
            raise

    def _start(self) -> None:
        """A new run saves ``latest.pt`` at step 0 before it writes anything else, so that a
        kill at any point leaves a run that ``resume`` continues; then it validates the initial
        weights. A resumed run rewrites its log up to its checkpoint's step."""
        if self.step_count == 0 and not self.rows:
            self._save_latest(0.0)
            self.files.start([])
            self._validate_and_log({"step": 0, "seconds": 0.0})
        else:
            self.files.start(self.rows)
        self._write_info("running")

    def _log_row(self, row: dict) -> None:
        """Keep a step's row and append it to log.csv."""
        self.rows.append(row)
        self.files.append(row)

    def _stop_now(self, books: Bookkeeping) -> None:
        """A first Ctrl-C/SIGTERM, after the step, save or validation it interrupted: save
        ``latest.pt`` (unless it already holds this step), then stop with KeyboardInterrupt,
        saying where resume continues from."""
        self.elapsed = books.seconds()  # the time so far, for run.json
        if self.saved_step != self.step_count:
            self._save_latest(self.elapsed)
        skipped = ", its validation skipped" if self.unvalidated == self.step_count else ""
        raise KeyboardInterrupt(
            f"stopped at step {self.step_count}{skipped}; {self.out_dir / LATEST} saved: "
            "resume continues from it: --resume, or resume=True"
        )

    def _finish(self, books: Bookkeeping) -> None:
        """The steps or the minutes are spent: the final weights of a run stopped by time get
        their PSNR (if the last step did not validate), and ``latest.pt`` the final state."""
        books.stop_clock()  # the training time, without the final validation
        # Stopped by time, or resumed after a stop that skipped the last step's validation.
        if self.val_set is not None and self.rows and self.rows[-1].get("psnr") is None:
            self._validate(self.rows[-1])
            self.files.start(self.rows)  # log.csv again, with that PSNR
        self.elapsed += books.train_seconds
        self._save_latest(self.elapsed)

    def _validate(self, row: dict) -> None:
        if self.val_set is None or not self.ctx.is_main:
            return
        scores = validate(self.model, self.val_set, self.config.channels_last, self.stop_pending)
        if not scores:  # a stop was requested: the rest of the images were skipped
            self.unvalidated = row["step"]
            self._log(f"validation of step {row['step']} skipped: stopping")
            return
        row.update(scores)
        if self.best_psnr is None or row["psnr"] > self.best_psnr:
            self.best_psnr, self.best_step = row["psnr"], row["step"]
            self._save_best(row)

    def _validate_and_log(self, row: dict) -> None:
        self._validate(row)
        if row.get("psnr") is not None:
            self._log_row(row)

    # -- checkpoints and run.json

    def _meta(self, row: dict | None = None) -> dict:
        c = self.config
        machine = machine_info(self.ctx.device)
        segment = {
            "steps": [self.first_step, self.step_count],
            "precision": precision_name(self.bf16),
            "machine": machine,
        }
        return {
            "preset": c.preset,
            "scales": list(self.scales),
            "train_config": c.to_dict(),
            "step": self.step_count,
            "data": portable_data_report(self.data.report()) if hasattr(self, "data") else None,
            "val_data": c.val_data,
            "metrics": val_metrics(row, c, self.scales),
            "best_psnr": self.best_psnr,
            "best_step": self.best_step,
            "init_from": self.init_report,
            "git": self._git,
            "torch": str(torch.__version__),  # a str subclass that weights_only loading refuses
            "world_size": self.ctx.world_size,
            "machine": machine,
            "segments": extend_segments(self.past_segments, segment),
        }

    @property
    def _git(self) -> str | None:
        if not hasattr(self, "_git_value"):
            self._git_value = git_describe() if self.ctx.is_main else None
        return self._git_value

    def _save_best(self, row: dict) -> None:
        with saving(self.out_dir / BEST):
            save_checkpoint(
                self.out_dir / BEST,
                self.model,
                meta=self._meta(row),
                half=self.config.half_best,
                compress=self.config.xz_best,
            )

    def _save_latest(self, elapsed: float) -> None:
        """Everything resume needs; never weights that are NaN (keep the last good file)."""
        finite = all(torch.isfinite(p).all() for p in self.model.parameters())
        if not finite:  # checked on every process: all stop together
            raise TrainingDiverged(self._diverged_message(self.step_count, math.nan))
        if not self.ctx.is_main:
            return
        last_val = next((r for r in reversed(self.rows) if r.get("psnr") is not None), None)
        save_latest(
            self.out_dir / LATEST,
            self.model,
            self.optimizer,
            self.scheduler,
            step=self.step_count,
            elapsed=elapsed,
            rows=self.rows,
            meta=self._meta(last_val),
        )
        self.saved_step = self.step_count

    def _load_latest(self) -> None:
        """Continue the stored run: weights, optimizer, scheduler, step, RNG, log."""
        state = load_latest(
            self.out_dir / LATEST, self.model, self.optimizer, self.scheduler, self.config
        )
        self.step_count, self.elapsed, self.rows = state.step, state.elapsed, state.rows
        meta = state.meta
        self.best_psnr, self.best_step = meta.get("best_psnr"), meta.get("best_step")
        self.init_report = meta.get("init_from")
        self.past_segments = run_segments(meta, self.step_count)
        self._log(f"resuming {self.out_dir} from step {self.step_count}")

    def _write_info(self, status: str, stopped_by: str | None = None) -> None:
        final = next((r for r in reversed(self.rows) if r.get("psnr") is not None), None)
        info = {
            "status": status,
            "stopped_by": stopped_by,
            **self._meta(final),
            "model": dict(self.model.config),
            "parameters": count_parameters(self.model),
            "device": str(self.ctx.device),
            "val_image_names": self._val_names(),
            "seconds": self.elapsed,
        }
        self.files.write_info(info)

    def _val_names(self) -> list[str]:
        """The validation images (the same at every scale)."""
        if not self.val_set:
            return []
        return [name for name, _, _ in next(iter(self.val_set.values()))]

    def _result(self, books: Bookkeeping) -> TrainResult:
        done, train_seconds = self.step_count - books.start_step, books.train_seconds
        final = self.rows[-1].get("psnr") if self.rows else None
        best = self.out_dir / BEST
        return TrainResult(
            out_dir=self.out_dir,
            latest=self.out_dir / LATEST if self.ctx.is_main else None,
            best=best if best.is_file() else None,
            log_path=self.out_dir / LOG_CSV,
            step=self.step_count,
            steps_this_run=done,
            seconds=time.monotonic() - self.created,
            steps_per_second=done / train_seconds if train_seconds > 0 else 0.0,
            final_psnr=final,
            best_psnr=self.best_psnr,
            best_step=self.best_step,
            stopped_by=books.stopped_by,
            log=TrainLog([{k: r.get(k) for k in self.files.columns} for r in self.rows]),
            model=self.model.eval(),
        )

"""Measurements the notebooks show: each paper claim becomes a function that returns numbers.

The notebooks stay short because the measuring lives here, tested (``tests/test_experiments.py``).
Three groups, one per notebook:

**BN removal** (notebook 01). The paper: removing batch normalization from the residual blocks
saves about 40% of the memory during training. Where the memory goes is measured twice:

* :func:`saved_tensors` lists every tensor that autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``): an EDSR block keeps 2 feature maps, the
  SRResNet block 4 (BN-ReLU) or 5 (the original BN-PReLU, :class:`SRResNetBlock`).
* :func:`measure_step_memory` profiles one whole training step (forward, backward, Adam) with
  PyTorch's memory profiler, which follows every allocation and sorts it by role (parameter,
  activation, gradient, optimizer state, ...): its peak is the step's peak allocation.

:func:`bn_batch_dependence` and :func:`bn_range_demo` show what BN does to a super-resolution
network: outputs that depend on the rest of the batch, and features whose range is normalized
away.

**Residual scaling** (notebook 02). :func:`depth_profile` measures activations and gradients
block by block in a wide residual stack; :func:`instability_run` trains one briefly and records
loss and gradient norm per step; :func:`fold_check` checks that folding ``res_scale`` into the
last convolution changes nothing.

**Benchmark** (notebook 05). The evaluation protocol, piece by piece (:func:`protocol_variants`,
:func:`pil_vs_matlab`, :func:`gray_image_scores`), the paper's tables (:data:`PAPER_EDSR`,
:data:`PAPER_EDSR_PLUS`), :func:`ensemble_rows` and :func:`measure_upscale_memory` (tiled
inference in a fresh process: what PyTorch allocates, and what the operating system counts).

Inputs are real image patches (T91, via :mod:`edsr_lite.dataset`), never random noise: the
statistics of activations depend on the content. All sizes are in bytes unless a name says
``_mb`` (mebibytes, 2**20 bytes).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from edsr_lite.data import find_dataset, list_images, read_image
from edsr_lite.dataset import SkippedImagesWarning, TrainingSet, load_training_set, to_tensor
from edsr_lite.infer import Upscaler, auto_tile, receptive_radius, tile_grid
from edsr_lite.metrics import (  # noqa: F401  (PAPER_* re-exported for the notebooks)
    PAPER_EDSR,
    PAPER_EDSR_PLUS,
    PAPER_VDSR,
    SRFunction,
    bicubic_sr,
    evaluate,
    evaluate_model_protocol,
    evaluate_paper_bicubic,
    psnr,
)
from edsr_lite.models import ResBlock, build, default_conv, fold_res_scale
from edsr_lite.paths import CHECKPOINT_DIR
from edsr_lite.train import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainLog,
    TrainResult,
    forward_backward,
    load_log,
    make_optimizer,
    train,
)

MiB = 2**20

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


# ============================================================================================
# BN removal (notebook 01): what autograd keeps, and the memory of a training step
# ============================================================================================


class SRResNetBlock(nn.Module):
    """The residual block of SRResNet as published: conv-BN-PReLU-conv-BN, plus the skip.

    :class:`edsr_lite.models.ResBlock` with ``bn=True`` is the same block with ReLU (as in
    EDSR's ablation); this one keeps SRResNet's PReLU, which, unlike an in-place ReLU, keeps
    its input *and* makes a new output. Used here only to count saved tensors.
    Shapes: N x F x H x W in and out.
    """

    def __init__(self, n_feats: int, kernel_size: int = 3):
        super().__init__()
        self.body = nn.Sequential(
            default_conv(n_feats, n_feats, kernel_size),
            nn.BatchNorm2d(n_feats),
            nn.PReLU(n_feats),
            default_conv(n_feats, n_feats, kernel_size),
            nn.BatchNorm2d(n_feats),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def block_variants(n_feats: int = 64) -> dict[str, nn.Module]:
    """The three residual blocks of the paper's Fig. 2, freshly initialized, in train mode.

    ``"EDSR (no BN)"`` is ``ResBlock(bn=False)``, ``"SRResNet, BN-ReLU"`` is
    ``ResBlock(bn=True)`` (the EDSR code's ablation), ``"SRResNet, BN-PReLU"`` the original.
    """
    torch.manual_seed(0)
    return {
        "EDSR (no BN)": ResBlock(n_feats, bn=False).train(),
        "SRResNet, BN-ReLU": ResBlock(n_feats, bn=True).train(),
        "SRResNet, BN-PReLU": SRResNetBlock(n_feats).train(),
    }


@dataclass(frozen=True)
class SavedTensor:
    """One tensor that autograd keeps from the forward pass for the backward pass.

    ``layer``: the (innermost) module that was running, by its name in the model ("body.0");
    ``kind``: that module's class; ``storage``: a number per distinct piece of memory (two
    saved tensors with the same number share memory, e.g. an in-place ReLU's output and the
    next conv's input); ``new``: the first time that memory is saved.
    """

    layer: str
    kind: str
    shape: tuple[int, ...]
    nbytes: int
    storage: int
    new: bool


def saved_tensors(
    module: nn.Module, *inputs: torch.Tensor, loss_fn: Callable | None = None
) -> list[SavedTensor]:
    """Run ``module(*inputs)`` (and ``loss_fn(output)``) and list what autograd saves.

    Parameters are left out (they are in memory anyway); everything else that the backward
    pass will read is listed in the order it is saved. Nothing is run backward. The module
    runs in whatever mode it is in (use ``.train()`` for BN's training behaviour).
    """
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    names = {m: name or type(module).__name__ for name, m in module.named_modules()}
    running: list[nn.Module] = []
    ids: dict[int, int] = {}
    records: list[SavedTensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in params or storage.nbytes() == 0:
            return t
        new = ptr not in ids
        ids.setdefault(ptr, len(ids))
        layer = running[-1] if running else module
        records.append(
            SavedTensor(
                names.get(layer, "?"),
                type(layer).__name__,
                tuple(t.shape),
                storage.nbytes(),
                ids[ptr],
                new,
            )
        )
        return t

    def enter(m: nn.Module, args: object) -> None:
        running.append(m)

    def leave(m: nn.Module, args: object, out: object) -> None:
        running.pop()  # a forward hook must return None, or it replaces the output

    handles = []
    for m in module.modules():
        handles.append(m.register_forward_pre_hook(enter))
        handles.append(m.register_forward_hook(leave))
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = module(*inputs)
            if loss_fn is not None:
                loss_fn(out)
    finally:
        for h in handles:
            h.remove()
    return records


def count_saved_maps(block: nn.Module, x: torch.Tensor) -> int:
    """How many distinct feature maps (tensors the size of ``x``) a block keeps for backward.

    EDSR block: 2 (its input, for conv1's weight gradient; the ReLU output, for conv2 and the
    ReLU). BN-ReLU: 4 (plus conv1's and conv2's outputs, which BN needs). BN-PReLU: 5 (the
    PReLU makes a new output instead of overwriting its input). Small per-channel tensors (BN's
    batch mean and 1/std) are not maps and are not counted.
    """
    return sum(1 for s in saved_tensors(block, x) if s.new and math.prod(s.shape) == x.numel())


def saved_maps_table(n_feats: int = 64, batch_size: int = 16, patch_size: int = 48) -> list[dict]:
    """One row per block of :func:`block_variants`, at a training batch's size.

    Keys: ``block``, ``maps`` (see :func:`count_saved_maps`), ``saved_mb`` (all the block's
    new saved memory, MiB, small tensors included), ``layers`` (which layers saved a new map).
    """
    lr, _ = real_batch(batch_size, patch_size)
    torch.manual_seed(0)
    with torch.no_grad():  # a body feature map: F channels at the LR patch size
        x = default_conv(3, n_feats, 3)(lr)
    rows = []
    for name, block in block_variants(n_feats).items():
        saved = saved_tensors(block, x)
        maps = [s for s in saved if s.new and math.prod(s.shape) == x.numel()]
        rows.append(
            {
                "block": name,
                "maps": len(maps),
                "saved_mb": sum(s.nbytes for s in saved if s.new) / MiB,
                "layers": ", ".join(f"{s.layer} ({s.kind})" for s in maps),
            }
        )
    return rows


def saved_activation_bytes(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> int:
    """Bytes of all the distinct tensors autograd keeps in a training forward pass (L1 loss).

    Parameters excluded. This is the memory that BN removal saves: the paper's "~40%".
    """
    loss = functools.partial(_l1, target=hr)
    records = saved_tensors(model.train(), lr, loss_fn=loss)
    return sum(s.nbytes for s in records if s.new)


def _l1(sr: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.l1_loss(sr, target)


#: The memory profiler's categories, in the column order of its timeline.
MEMORY_CATEGORIES = (
    "parameter",
    "optimizer state",
    "input",
    "temporary",
    "activation",
    "gradient",
    "autograd detail",
    "other",
)


@dataclass
class StepMemory:
    """The memory of one training step (forward, L1 loss, backward, Adam update).

    ``times_ms``: T event times since the step began (the profiler slows the step down, so
    these are profiled times); ``bytes_by_category``: T x C bytes alive at each time, one
    column per :data:`MEMORY_CATEGORIES` entry. ``saved_bytes``: :func:`saved_activation_bytes`.
    ``seconds_per_step``: unprofiled, if measured (:func:`time_train_steps`).
    """

    label: str
    batch_size: int
    patch_size: int
    saved_bytes: int
    times_ms: np.ndarray
    bytes_by_category: np.ndarray
    seconds_per_step: float | None = None

    @property
    def total(self) -> np.ndarray:
        """Bytes alive at each time, all categories (T,)."""
        return self.bytes_by_category.sum(axis=1)

    @property
    def peak_bytes(self) -> int:
        """The step's peak allocation: everything alive at the worst moment."""
        return int(self.total.max())

    def at_peak(self) -> dict[str, int]:
        """Bytes per category at the moment of the peak."""
        row = self.bytes_by_category[int(self.total.argmax())]
        return {c: int(b) for c, b in zip(MEMORY_CATEGORIES, row, strict=True)}


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: the profiler's C++ code prints progress there,
    which a notebook would show below the cell."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _step_fn(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> Callable[[], float]:
    """One training step of the package's recipe (Adam, L1), as a function of nothing."""
    scale = hr.shape[-1] // lr.shape[-1]
    optimizer = make_optimizer(model, 1e-4)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = forward_backward(model, lr, hr, scale, bf16=False)
        optimizer.step()
        return float(loss)

    return step


def profile_memory(step: Callable[[], object]) -> tuple[np.ndarray, np.ndarray]:
    """Run ``step()`` under PyTorch's memory profiler: ``(times_ms, bytes_by_category)``.

    The profiler records every allocation and free on the CPU and works out each tensor's role
    from the autograd graph (``torch.profiler.profile(profile_memory=True, ...)`` and its
    memory timeline). Rows: one per time with a change; columns: :data:`MEMORY_CATEGORIES`.
    """
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export_memory_timeline is marked deprecated
        path = os.path.join(tmp, "timeline.json")
        with _native_stderr_silenced():
            with profile(
                activities=[ProfilerActivity.CPU],
                profile_memory=True,
                record_shapes=True,
                with_stack=True,
            ) as prof:
                step()
            prof.export_memory_timeline(path, device="cpu")
        with open(path) as f:
            times_us, sizes = json.load(f)
    sizes = np.asarray(sizes, dtype=np.int64)[:, 1:]  # column 0 is unused by torch
    if sizes.shape[1] != len(MEMORY_CATEGORIES):
        raise RuntimeError(f"unexpected memory timeline with {sizes.shape[1]} categories")
    times = (np.asarray(times_us, dtype=np.float64) - times_us[0]) / 1000
    return times, sizes


def measure_step_memory(
    model: nn.Module, batch_size: int = 16, patch_size: int = 48, label: str = ""
) -> StepMemory:
    """Saved activations and the profiled memory timeline of one training step of ``model``.

    A first, unprofiled step creates Adam's state (as in any step after the first); the second
    step is profiled. Inputs: real T91 patches, LR ``patch_size`` pixels, scale of the model.
    """
    scale = model.scale
    lr, hr = real_batch(batch_size, patch_size, scale)
    model = model.to(memory_format=torch.channels_last).train()
    saved = saved_activation_bytes(model, lr, hr)
    step = _step_fn(model, lr, hr)
    step()
    times, sizes = profile_memory(step)
    label = label or model.config.get("preset", type(model).__name__)
    return StepMemory(label, batch_size, patch_size, saved, times, sizes)


def time_train_steps(
    models: Mapping[str, nn.Module],
    batch_size: int = 16,
    patch_size: int = 48,
    steps: int = 5,
    warmup: int = 2,
) -> dict[str, float]:
    """Median seconds per training step of each model, steps interleaved between the models.

    Interleaving (A, B, A, B, ...) makes a busy machine slow them down alike, so the *ratio*
    is trustworthy even when the absolute times are noisy. ``warmup`` steps per model (oneDNN
    picks its kernels on the first calls) are not counted.
    """
    steps_by_name = {}
    for name, model in models.items():
        lr, hr = real_batch(batch_size, patch_size, model.scale)
        steps_by_name[name] = _step_fn(model.to(memory_format=torch.channels_last).train(), lr, hr)
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + steps):
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            step()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def memory_summary(memories: Sequence[StepMemory]) -> str:
    """A small markdown table: saved activations, peak, and the saving of each vs the first.

    The first entry is the reference (e.g. the BN model): "saved" says how much less the
    others need, as the paper counts it.
    """
    ref = memories[0]
    lines = [
        "| model | saved activations (MiB) | step peak (MiB) | activations at peak (MiB) "
        "| s/step |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in memories:
        sec = f"{m.seconds_per_step:.2f}" if m.seconds_per_step else "-"
        lines.append(
            f"| {m.label} | {m.saved_bytes / MiB:.0f} | {m.peak_bytes / MiB:.0f} "
            f"| {m.at_peak()['activation'] / MiB:.0f} | {sec} |"
        )
    for m in memories[1:]:
        lines.append(
            f"| **{m.label} vs {ref.label}** | **{1 - m.saved_bytes / ref.saved_bytes:.0%} less** "
            f"| **{1 - m.peak_bytes / ref.peak_bytes:.0%} less** "
            f"| {1 - m.at_peak()['activation'] / ref.at_peak()['activation']:.0%} less "
            f"| {_ratio(m.seconds_per_step, ref.seconds_per_step)} |"
        )
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> str:
    return f"x{a / b:.2f}" if a and b else "-"


# --------------------------------------------------------------------------------------------
# What BN does
# --------------------------------------------------------------------------------------------


def bn_batch_dependence(model: nn.Module, images: Sequence[np.ndarray]) -> dict[str, float]:
    """How a BN network's output for one image depends on the batch and on the mode.

    ``images``: LR uint8 H x W x 3 arrays of the same size; the first is the one looked at.
    Returns max absolute differences (0..255 scale) of its output between:

    * ``train_alone_vs_in_batch``: train mode, alone vs together with the others (BN uses the
      batch's statistics, so the other images change this one's output);
    * ``eval_alone_vs_in_batch``: the same in eval mode (running statistics: no dependence);
    * ``train_vs_eval``: train mode alone vs eval mode (the two normalizations differ).

    The model is not changed (train-mode passes run on a copy, so the running statistics stay).
    """
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1) for i in images])
    x = x.float()
    work = copy.deepcopy(model)
    with torch.no_grad():
        work.train()
        train_alone = work(x[:1])[0]
        train_batch = work(x)[0]
        work.eval()
        eval_alone = work(x[:1])[0]
        eval_batch = work(x)[0]
    return {
        "train_alone_vs_in_batch": float((train_alone - train_batch).abs().max()),
        "eval_alone_vs_in_batch": float((eval_alone - eval_batch).abs().max()),
        "train_vs_eval": float((train_alone - eval_alone).abs().max()),
    }


def bn_range_demo(
    image: np.ndarray, contrasts: Sequence[float] = (0.25, 0.5, 1.0, 2.0), n_feats: int = 32
) -> list[dict]:
    """Feature range with and without BN, as the input's contrast changes.

    ``image`` (uint8 H x W x 3) has its mean subtracted (as EDSR's ``sub_mean`` does) and is
    multiplied by each contrast factor, then sent through one 3x3 conv (fixed random weights),
    and through the same conv followed by a BatchNorm (train mode, fresh). Returns rows with
    ``contrast``, ``input_std``,
    ``conv_std`` and ``conv_bn_std``: the spread of each feature map over the image (std over
    its pixels, averaged over the maps). Without BN the features follow the input's range; with
    BN every map has std 1 whatever the input: the range is gone, and the network must carry
    it around the normalization, although an image-to-image network needs it exactly.
    """
    torch.manual_seed(0)
    conv = default_conv(3, n_feats, 3)
    bn = nn.BatchNorm2d(n_feats).train()
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    rows = []
    with torch.no_grad():
        for c in contrasts:
            xc = c * (x - x.mean())
            features = conv(xc)
            rows.append(
                {
                    "contrast": float(c),
                    "input_std": float(xc.std()),
                    "conv_std": _map_std(features),
                    "conv_bn_std": _map_std(bn(features)),
                }
            )
    return rows


def _map_std(features: torch.Tensor) -> float:
    """Std of each feature map over its pixels (N x C x H x W), averaged over the C maps."""
    return float(features.std(dim=(0, 2, 3)).mean())


# --------------------------------------------------------------------------------------------
# Short training runs, and the shipped full-budget logs
# --------------------------------------------------------------------------------------------


def train_briefly(config: TrainConfig) -> TrainResult:
    """``train(config, quiet=True)`` in a fresh temporary folder (removed afterwards).

    The result keeps its log (``result.log``) and model in memory; its file paths point into
    the removed folder. ``config.out`` is ignored.
    """
    out = tempfile.mkdtemp(prefix="edsr-lite-run-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)
            return train(
                TrainConfig.from_dict({**config.to_dict(), "out": out, "resume": False}),
                quiet=True,
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)


#: Names under which the checkpoint runs ship their logs (data/checkpoints/<name>/log.csv).
BN_PAIR = {"EDSR block (no BN)": "edsr_baseline_x2", "SRResNet block (BN)": "edsr_baseline_bn_x2"}
RES_SCALE_PAIR = {"res_scale 1": "edsr_wide_rs1_x2", "res_scale 0.1": "edsr_wide_rs0.1_x2"}


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


def _peak_and_tail(log: TrainLog, key: str, name: str, tail: int) -> str:
    """``"loss peak 122 at step 3, median of the last 50 steps 7.9"`` (or "" without values)."""
    steps, values = log.series(key)
    finite = [(v, s) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
    if not finite:
        return ""
    peak, at = max(finite)
    recent = statistics.median(values[-tail:])
    return f"{name} peak {peak:.3g} at step {at}, median of the last {tail} steps {recent:.3g}"


def _validated_on(log: TrainLog) -> str:
    """The validation set's name in run.json's metrics (``"Set5[:2]"`` for 2 images)."""
    names = [k for k in (log.info.get("metrics") or {}) if k != "step"]
    return names[0] if names else "validation"


def final_psnr(log: TrainLog) -> tuple[int, float] | None:
    """``(step, psnr)`` of the last validation in a log, or None if it has none."""
    steps, values = log.series("psnr")
    return (int(steps[-1]), float(values[-1])) if steps else None


# ============================================================================================
# Residual scaling (notebook 02)
# ============================================================================================


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
        """``start`` loss, ``peak`` loss, ``final`` (median of the last ``tail`` losses),
        ``max_grad_norm``, and ``seconds_per_step``."""
        finite = [x for x in self.loss if math.isfinite(x)]
        return {
            "start": self.loss[0],
            "peak": max(finite) if finite else math.inf,
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
) -> RunTrace:
    """Train a wide EDSR for ``steps`` Adam steps and record loss and gradient norm per step.

    The package's trainer does the steps (T91 patches, L1, Adam, constant learning rate);
    nothing is validated or saved. Both runs of a comparison draw the same patches (same
    ``seed``) from the same initial weights up to ``res_scale``.
    """
    out = tempfile.mkdtemp(prefix="edsr-lite-rs-")
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
        out=out,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)
            trainer = Trainer(config, quiet=True)
        trace = RunTrace(f"res_scale {res_scale:g}", res_scale, lr, [], [], 0.0)
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
        trace.seconds = time.perf_counter() - start
        trace.model = trainer.model.eval()
        return trace
    finally:
        shutil.rmtree(out, ignore_errors=True)


def runs_table(traces: Sequence[RunTrace]) -> str:
    """Markdown table of :meth:`RunTrace.summary` for each run."""
    lines = [
        "| run | lr | loss at step 1 | peak loss | final loss (median, last 10) "
        "| max gradient norm | diverged (NaN) at |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in traces:
        s = t.summary()
        lines.append(
            f"| {t.label} | {t.lr:g} | {s['start']:.1f} | {s['peak']:.3g} | {s['final']:.3g} "
            f"| {s['max_grad_norm']:.3g} | {t.diverged_at or '-'} |"
        )
    return "\n".join(lines)


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


def predicted_growth(n_blocks: int, res_scale: float) -> float:
    """Std growth over ``n_blocks`` residual blocks at PyTorch's default initialization.

    A conv initialized as PyTorch does (uniform, variance 1/(3 fan_in)) keeps a third of its
    input's mean square; the ReLU keeps half of that; the second conv a third again: each
    branch adds ``res_scale**2 / 18`` of the input's variance, so after B blocks the std has
    grown by ``(1 + res_scale**2 / 18) ** (B / 2)``: 2.4x for 32 blocks, 1.009x with 0.1.
    """
    return (1 + res_scale**2 / 18) ** (n_blocks / 2)


# ============================================================================================
# Benchmark (notebook 05)
# ============================================================================================


def paper_ensemble_gain() -> dict[tuple[str, int], float]:
    """The paper's self-ensemble gain in dB: EDSR+ minus EDSR, where both are known."""
    return {k: round(v[0] - PAPER_EDSR[k][0], 2) for k, v in PAPER_EDSR_PLUS.items()}


def protocol_variants(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> list[dict]:
    """Each method's mean score on a set, three ways: the protocol and two common mistakes.

    ``methods``: ``{name: fn(lr, scale) -> sr}`` (e.g. ``{"bicubic": bicubic_sr}``, or
    :func:`edsr_lite.metrics.model_to_fn` of a network). One row per method: ``y_shave`` (Y
    channel, ``scale`` pixels shaved: the protocol), ``rgb_shave`` (RGB channels),
    ``y_no_shave`` (Y, borders kept): mean PSNR (dB) over the images (MATLAB bicubic LR).
    """
    scores: dict[str, list[tuple[float, float, float]]] = {name: [] for name in methods}
    for _, hr, lr in _benchmark(set_name, scale):
        for name, fn in methods.items():
            sr = fn(lr, scale)
            scores[name].append(
                (psnr(sr, hr, scale), psnr(sr, hr, scale, y_channel=False), psnr(sr, hr, 0))
            )
    keys = ("y_shave", "rgb_shave", "y_no_shave")
    return [
        {"method": name, **dict(zip(keys, map(float, np.mean(s, axis=0)), strict=True))}
        for name, s in scores.items()
    ]


def _benchmark(set_name: str, scale: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    from edsr_lite.data import benchmark

    return benchmark(set_name, scale)


def _mean_row(rows: Sequence[dict]) -> dict:
    keys = [k for k in rows[0] if k != "image"]
    return {"image": "mean", **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def pil_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL's bicubic resize of a uint8 image to ``size`` = (height, width)."""
    pil = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return np.asarray(pil)


def lr_difference(set_name: str = "Set5", scale: int = 2) -> dict[str, float]:
    """How PIL's bicubic downscaling differs from MATLAB's on a set's HR images.

    ``values_differ``: the fraction of LR values (all pixels and channels of all images)
    that differ; ``mean_abs_diff`` and ``max_abs_diff``: over all values, on the 0..255 scale.
    """
    diffs = []
    for _, hr, lr in _benchmark(set_name, scale):
        diffs.append(np.abs(pil_resize(hr, lr.shape[:2]).astype(int) - lr.astype(int)).ravel())
    d = np.concatenate(diffs)
    return {
        "values_differ": float((d > 0).mean()),
        "mean_abs_diff": float(d.mean()),
        "max_abs_diff": float(d.max()),
    }


def pil_vs_matlab(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> list[dict]:
    """Each method's mean Y PSNR (shave = scale) on LR images made by MATLAB's bicubic (the
    protocol) and by PIL's, and the difference (dB). A network trained on MATLAB's LR images
    meets a slightly different degradation in PIL's; bicubic upscaling does not care much.
    """
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    for _, hr, lr in _benchmark(set_name, scale):
        lr_pil = pil_resize(hr, lr.shape[:2])
        for name, fn in methods.items():
            scores[name].append(
                (psnr(fn(lr, scale), hr, scale), psnr(fn(lr_pil, scale), hr, scale))
            )
    rows = []
    for name, s in scores.items():
        matlab, pil = map(float, np.mean(s, axis=0))
        rows.append(
            {"method": name, "matlab_lr": matlab, "pil_lr": pil, "difference": pil - matlab}
        )
    return rows


def gray_image_scores(set_name: str = "Set14", scale: int = 2) -> list[dict]:
    """Bicubic PSNR per image under both protocols, and their difference.

    Rows: ``image``, ``gray`` (stored as a grayscale file), ``model`` (protocol "model": read
    as RGB, scored on MATLAB's Y = 16 + 219/255 * gray for a gray image), ``paper`` (protocol
    "paper_bicubic": a gray image is scored on its gray values), ``difference``; then "mean".
    For a gray image the difference is close to 20 log10(255/219) = 1.32 dB: errors on Y are
    219/255 of the errors on gray.
    """
    model_scores = evaluate_model_protocol(bicubic_sr, set_name, scale)
    paper_scores = evaluate_paper_bicubic(set_name, scale)
    paths = {p.stem: p for p in list_images(find_dataset(set_name))}
    rows = []
    for m, p in zip(model_scores, paper_scores, strict=True):
        rows.append(
            {
                "image": m.name,
                "gray": float(read_image(paths[m.name], mode="keep").ndim == 2),
                "model": m.psnr,
                "paper": p.psnr,
                "difference": m.psnr - p.psnr,
            }
        )
    return rows + [_mean_row(rows)]


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rows_table(rows: Sequence[dict], digits: int = 2) -> str:
    """Any list of flat dicts as a markdown table (floats to ``digits`` decimals, None as "-":
    a value not measured, e.g. of a model that has not shipped)."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for row in rows:
        cells = [_cell(v, digits) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_comparison(
    rows: Sequence[dict], reference: Mapping[tuple[str, int], tuple[float, float]]
) -> str:
    """:func:`edsr_lite.metrics.evaluate` rows beside published numbers, with the differences.

    One line per (method, set, scale): measured PSNR / SSIM, the paper's, and the difference
    in dB and SSIM. Pairs the reference lacks show "-".
    """
    lines = [
        "| method (protocol) | set | scale | measured PSNR / SSIM | paper PSNR / SSIM | Δ dB "
        "| Δ SSIM |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = reference.get((r["set"], r["scale"]))
        paper = f"{ref[0]:.2f} / {ref[1]:.4f}" if ref else "-"
        d_psnr = f"{r['psnr'] - ref[0]:+.2f}" if ref else "-"
        d_ssim = f"{r['ssim'] - ref[1]:+.4f}" if ref else "-"
        lines.append(
            f"| {r['method']} ({r['protocol']}) | {r['set']} | ×{r['scale']} "
            f"| {r['psnr']:.2f} / {r['ssim']:.4f} "
            f"| {paper} | {d_psnr} | {d_ssim} |"
        )
    return "\n".join(lines)


def ensemble_rows(
    model: nn.Module, sets: Sequence[str] = ("Set5",), scales: Sequence[int] | None = None
) -> list[dict]:
    """Evaluate ``model`` without and with the geometric self-ensemble (protocol "model").

    Returns :func:`edsr_lite.metrics.evaluate` rows, methods named ``<preset>`` and
    ``<preset>+`` as in the paper, plus a ``gain`` row per (set, scale) (PSNR and SSIM
    differences, method ``"gain (+ minus plain)"``).
    """
    scales = tuple(scales or model.scales)
    plain, plus = Upscaler(model), Upscaler(model, ensemble=True)
    rows = []
    for up in (plain, plus):
        for row in evaluate(up, sets, scales):
            rows.append({**row, "method": up.name})
    by_key = {(r["method"], r["set"], r["scale"]): r for r in rows}
    for s in sets:
        for k in scales:
            a, b = by_key[(plain.name, s, k)], by_key[(plus.name, s, k)]
            rows.append(
                {
                    **a,
                    "method": "gain (+ minus plain)",
                    "psnr": b["psnr"] - a["psnr"],
                    "ssim": b["ssim"] - a["ssim"],
                }
            )
    return rows


def mosaic(set_name: str = "B100", rows: int = 3, cols: int = 3, tile=(320, 480)) -> np.ndarray:
    """A large real image: ``rows x cols`` landscape photos of a set, each cropped to ``tile``
    = (height, width), side by side. B100 3 x 3: a 960 x 1440 x 3 uint8 image."""
    photos = []
    for path in list_images(find_dataset(set_name)):
        image = read_image(path)
        if image.shape[0] >= tile[0] and image.shape[1] >= tile[1]:
            photos.append(image[: tile[0], : tile[1]])
        if len(photos) == rows * cols:
            break
    if len(photos) < rows * cols:
        raise ValueError(f"{set_name} has only {len(photos)} images of at least {tile}")
    return np.concatenate(
        [np.concatenate(photos[r * cols : (r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )


@dataclass
class UpscaleMemory:
    """One upscale run in a fresh process: its settings, tiles, time and peak memory (MiB).

    ``allocated_mb``: the most memory PyTorch had allocated at once during the upscale, over
    what it held before (the memory profiler, exact). ``peak_rss_mb``: how much the process's
    peak resident memory grew (:func:`peak_rss_mb`, what the operating system counts: it adds the
    memory allocator's own keeping and oneDNN's scratch space, and varies from run to run).
    ``estimate_mb``: the tile budget's estimate (:func:`edsr_lite.infer.bytes_per_lr_pixel`
    x the largest tile's pixels). ``seconds``: wall time of the (unprofiled) upscale.
    """

    label: str
    tile: int  # core tile side in LR pixels; 0: the whole image at once
    n_tiles: int
    seconds: float
    allocated_mb: float
    peak_rss_mb: float
    estimate_mb: float
    output: np.ndarray = field(repr=False)


def measure_upscale_memory(
    model: nn.Module,
    image: np.ndarray,
    tile: int | None = 0,
    max_memory_mb: float = 2048,
    label: str = "",
) -> UpscaleMemory:
    """Upscale ``image`` with ``model`` in a fresh Python process and measure its memory.

    ``tile=0``: one forward pass over the whole image; ``tile=None``: the automatic tile size
    for ``max_memory_mb`` (what :func:`edsr_lite.upscale` does); an integer: that core size.
    The overlap is the model's receptive radius, so every setting gives the same pixels. A
    fresh process is needed because a process's peak memory only ever goes up.
    """
    from edsr_lite.infer import bytes_per_lr_pixel
    from edsr_lite.weights import save_checkpoint

    scale = model.scales[0]
    overlap = receptive_radius(model, scale)
    if tile is None:
        tile = auto_tile(model, scale, overlap, max_memory_mb)
    h, w = image.shape[:2]
    grid = tile_grid(h, w, tile, overlap) if tile and tile < max(h, w) else []
    biggest = max(((r.stop - r.start) * (c.stop - c.start) for r, c, *_ in grid), default=h * w)
    estimate = bytes_per_lr_pixel(model, scale) * biggest / MiB
    with tempfile.TemporaryDirectory(prefix="edsr-lite-mem-") as tmp:
        ckpt, inp, out = Path(tmp, "m.pt"), Path(tmp, "in.npy"), Path(tmp, "out.npy")
        save_checkpoint(ckpt, model)
        np.save(inp, image)
        args = json.dumps([str(ckpt), str(inp), str(out), int(tile), int(scale)])
        code = "from edsr_lite.experiments import _upscale_worker; _upscale_worker()"
        result = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"the upscale process failed:\n{result.stderr[-2000:]}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        output = np.load(out)
    label = label or ("whole image" if not grid else f"tiles of {tile} px")
    return UpscaleMemory(
        label,
        int(tile),
        max(1, len(grid)),
        report["seconds"],
        report["allocated_mb"],
        report["peak_rss_mb"],
        estimate,
        output,
    )


def peak_rss_mb() -> float:
    """The process's peak resident memory, MiB: Linux's ``VmHWM`` (which
    :func:`reset_peak_rss` restarts), elsewhere ``ru_maxrss``.

    Not ``ru_maxrss`` on Linux: a child process starts with its parent's peak there (it is
    carried across fork and exec), so a fresh process started from a big Jupyter kernel would
    report the kernel's peak as its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MiB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def reset_peak_rss() -> bool:
    """Restart the peak of :func:`peak_rss_mb` at the memory in use now (Linux: ``5`` into
    ``/proc/self/clear_refs``), so that set-up and warm-up do not count. False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _current_rss_mb() -> float | None:
    """The process's resident memory now, MiB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB
    except (OSError, ValueError):
        return None


def _upscale_worker() -> None:
    """Body of the measuring process of :func:`measure_upscale_memory` (argv[1]: JSON args)."""
    from edsr_lite.weights import load_model

    ckpt, inp, out, tile, scale = json.loads(sys.argv[1])
    model = load_model(ckpt)
    image = np.load(inp)
    upscaler = Upscaler(model, tile=tile)
    upscaler(image[:32, :32], scale)  # warm up: oneDNN sets itself up on the first call
    reset_peak_rss()
    before_peak = peak_rss_mb()
    before = _current_rss_mb() or before_peak
    start = time.perf_counter()
    sr = upscaler(image, scale)
    seconds = time.perf_counter() - start
    # The growth of the peak over the memory in use before. (Where the peak cannot be reset
    # and an earlier one was higher, this over-counts by at most before_peak - before: that
    # is reported as slack_mb.)
    peak = max(peak_rss_mb(), before_peak) - before
    np.save(out, sr)
    del sr
    # Then the same upscale again under the memory profiler (which needs much memory of its
    # own, so it runs after the RSS measurement): PyTorch's own allocations, exactly.
    _, allocated = profile_memory(lambda: upscaler(image, scale))
    total = allocated.sum(axis=1)
    report = {
        "seconds": seconds,
        "allocated_mb": float(total.max() - total[0]) / MiB,
        "peak_rss_mb": peak,
        "slack_mb": before_peak - before,
    }
    print(json.dumps(report))


def lr_crops(set_name: str = "Set5", scale: int = 2, size: int = 48) -> list[np.ndarray]:
    """The centre ``size`` x ``size`` crop of every LR image of a benchmark set (uint8 RGB)."""
    crops = []
    for _, _, lr in _benchmark(set_name, scale):
        top, left = (lr.shape[0] - size) // 2, (lr.shape[1] - size) // 2
        crops.append(np.ascontiguousarray(lr[top : top + size, left : left + size]))
    return crops


def upscale_memory_table(runs: Sequence[UpscaleMemory]) -> str:
    """Markdown table of :class:`UpscaleMemory` runs; pixels compared with the first run."""
    ref = runs[0].output
    lines = [
        "| run | core tile (LR px) | tiles | seconds | allocated by PyTorch (MiB) "
        "| estimate (MiB) | process peak RSS (MiB) | output values that differ from the first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        differ = int((r.output != ref).sum()) if r.output.shape == ref.shape else -1
        lines.append(
            f"| {r.label} | {r.tile or '-'} | {r.n_tiles} | {r.seconds:.1f} "
            f"| {r.allocated_mb:.0f} | {r.estimate_mb:.0f} | {r.peak_rss_mb:.0f} | {differ} |"
        )
    return "\n".join(lines)


def claims_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Markdown table of (claim, the paper's number, the number measured here)."""
    lines = ["| | paper | measured here |", "|---|---|---|"]
    lines += [f"| {claim} | {paper} | {ours} |" for claim, paper, ours in rows]
    return "\n".join(lines)


def evaluate_checkpoints(names: Sequence[str], sets: Sequence[str]) -> list[dict]:
    """:func:`edsr_lite.metrics.evaluate` rows (protocol "model", each model's own scales) for
    shipped checkpoints, by name (:func:`edsr_lite.weights.available_pretrained`); the method
    column holds the checkpoint's name."""
    from edsr_lite.weights import load_pretrained

    rows = []
    for name in names:
        model = load_pretrained(name)
        rows += [{**r, "method": name} for r in evaluate(model, sets, model.scales)]
    return rows

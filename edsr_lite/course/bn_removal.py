"""Notebook 01, BN removal: what autograd keeps, the memory of a training step, what BN does.

The paper: removing batch normalization from the residual blocks saves about 40% of the memory
during training. Where the memory goes is measured twice:

* :func:`saved_tensors` lists every tensor that autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``): an EDSR block keeps 2 feature maps, the
  SRResNet block 4 (BN-ReLU) or 5 (the original BN-PReLU, :class:`SRResNetBlock`).
* :func:`measure_step_memory` profiles one whole training step (forward, backward, Adam) with
  PyTorch's memory profiler (:func:`edsr_lite.course.memory.profile_memory`), which follows every
  allocation and sorts it by role (parameter, activation, gradient, optimizer state, ...): its
  peak is the step's peak allocation.

:func:`bn_batch_dependence` and :func:`bn_range_demo` show what BN does to a super-resolution
network: outputs that depend on the rest of the batch, and features whose range is normalized
away. :data:`BN_PAIR` names the shipped full-budget pair (EDSR-baseline x2 with and without BN).

Inputs are real image patches (T91, via :func:`edsr_lite.course.runs.real_batch`). All sizes are
in bytes unless a name says ``_mb`` (mebibytes, 2**20 bytes).
"""

from __future__ import annotations

import copy
import functools
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from edsr_lite.core.metrics import psnr
from edsr_lite.core.models import ResBlock, default_conv
from edsr_lite.course.live import progress
from edsr_lite.course.memory import MEMORY_CATEGORIES, MiB, profile_memory
from edsr_lite.course.runs import real_batch
from edsr_lite.datasets import benchmark
from edsr_lite.train import forward_backward, make_optimizer

# --------------------------------------------------------------------------------------------
# What autograd keeps, and the memory of a training step
# --------------------------------------------------------------------------------------------


class SRResNetBlock(nn.Module):
    """The residual block of SRResNet as published: conv-BN-PReLU-conv-BN, plus the skip.

    :class:`edsr_lite.core.models.ResBlock` with ``bn=True`` is the same block with ReLU (as in
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


#: The column of :func:`saved_maps_table` that counts the maps a block keeps.
MAPS_KEPT = "feature maps kept"


def saved_maps_table(n_feats: int = 64, batch_size: int = 16, patch_size: int = 48) -> list[dict]:
    """One row per block of :func:`block_variants`, at a training batch's size.

    Keys, as a table shows them: ``"block"``, ``"feature maps kept"`` (see
    :func:`count_saved_maps`), ``"saved (MiB)"`` (all the block's new saved memory, small
    tensors included), ``"layers that keep a map"`` (the layer that saved each new map).
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
                MAPS_KEPT: len(maps),
                "saved (MiB)": sum(s.nbytes for s in saved if s.new) / MiB,
                "layers that keep a map": ", ".join(f"{s.layer} ({s.kind})" for s in maps),
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


@dataclass
class StepMemory:
    """The memory of one training step (forward, L1 loss, backward, Adam update).

    ``times_ms``: T event times since the step began (the profiler slows the step down, so
    these are profiled times); ``bytes_by_category``: T x C bytes alive at each time, one
    column per :data:`MEMORY_CATEGORIES` entry. ``saved_bytes``: :func:`saved_activation_bytes`.
    ``seconds_per_step``: unprofiled, if measured (:func:`time_train_steps`). ``peaks``: the
    peak of each profiled step (the timeline is the first one's), so that the peak's noise from
    step to step can be estimated (:func:`edsr_lite.course.claims.samples`).
    """

    label: str
    batch_size: int
    patch_size: int
    saved_bytes: int
    times_ms: np.ndarray
    bytes_by_category: np.ndarray
    seconds_per_step: float | None = None
    peaks: list[int] = field(default_factory=list)

    @property
    def peaks_mb(self) -> list[float]:
        """The peak of every profiled step, MiB (the timeline's own when only one was)."""
        return [p / MiB for p in (self.peaks or [self.peak_bytes])]

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


def _step_fn(
    model: nn.Module,
    lr: torch.Tensor,
    hr: torch.Tensor,
    optimizer: torch.optim.Optimizer | None = None,
) -> Callable[[], float]:
    """One training step of the package's recipe (Adam, L1), as a function of nothing."""
    scale = hr.shape[-1] // lr.shape[-1]
    optimizer = optimizer or make_optimizer(model, 1e-4)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = forward_backward(model, lr, hr, scale, bf16=False)
        optimizer.step()
        return float(loss)

    return step


def measure_step_memory(
    model: nn.Module,
    batch_size: int = 16,
    patch_size: int = 48,
    label: str = "",
    repeats: int = 1,
    on_step: Callable[[], None] | None = None,
) -> StepMemory:
    """Saved activations and the profiled memory timeline of a training step of ``model``.

    A first, unprofiled step creates Adam's state (as in any step after the first); the next
    ``repeats`` steps are profiled, each on a new batch (seeds 0, 1, ...), their peaks kept
    in ``peaks``, the first one's timeline kept whole. Inputs: real T91 patches, LR
    ``patch_size`` pixels, scale of the model. ``on_step`` is called after each profiled step
    (a progress line).
    """
    scale = model.scale
    model = model.to(memory_format=torch.channels_last).train()
    lr, hr = real_batch(batch_size, patch_size, scale)
    saved = saved_activation_bytes(model, lr, hr)
    optimizer = make_optimizer(model, 1e-4)
    _step_fn(model, lr, hr, optimizer)()
    timeline = None
    peaks = []
    for seed in range(repeats):
        lr, hr = real_batch(batch_size, patch_size, scale, seed=seed)
        times, sizes = profile_memory(_step_fn(model, lr, hr, optimizer))
        timeline = timeline or (times, sizes)
        peaks.append(int(sizes.sum(axis=1).max()))
        if on_step is not None:
            on_step()
    label = label or model.config.get("preset", type(model).__name__)
    return StepMemory(label, batch_size, patch_size, saved, *timeline, peaks=peaks)


def measure_step_memories(
    models: Mapping[str, nn.Module], batch_size: int = 16, patch_size: int = 48, repeats: int = 3
) -> list[StepMemory]:
    """:func:`measure_step_memory` of each model (labelled by its key), ``repeats`` profiled
    steps each, with a progress line in a notebook ("profiling training steps: 3/6")."""
    steps = progress(range(len(models) * repeats), "profiling training steps", unit="steps")
    next(steps)  # the line starts at 0; each profiled step moves it on by one
    memories = [
        measure_step_memory(
            model, batch_size, patch_size, label, repeats, on_step=lambda: next(steps, None)
        )
        for label, model in models.items()
    ]
    for _ in steps:  # the last step's call ends the line ("... 6/6 steps in 12.3 s")
        pass
    return memories


def time_train_steps(
    models: Mapping[str, nn.Module],
    batch_size: int = 16,
    patch_size: int = 48,
    steps: int = 5,
    warmup: int = 2,
) -> dict[str, float]:
    """Median seconds per training step of each model (:func:`train_step_times`)."""
    times = train_step_times(models, batch_size, patch_size, steps, warmup)
    return {name: statistics.median(t) for name, t in times.items()}


def train_step_times(
    models: Mapping[str, nn.Module],
    batch_size: int = 16,
    patch_size: int = 48,
    steps: int = 5,
    warmup: int = 2,
    show: bool = False,
) -> dict[str, list[float]]:
    """Seconds of each of ``steps`` training steps per model, steps interleaved between models.

    Interleaving (A, B, A, B, ...) makes a busy machine slow them down alike, so the *ratio*
    is trustworthy even when the absolute times are noisy. ``warmup`` steps per model (oneDNN
    picks its kernels on the first calls) are not counted. ``show``: a progress line.
    """
    steps_by_name = {}
    for name, model in models.items():
        lr, hr = real_batch(batch_size, patch_size, model.scale)
        steps_by_name[name] = _step_fn(model.to(memory_format=torch.channels_last).train(), lr, hr)
    times: dict[str, list[float]] = {name: [] for name in models}
    rounds = range(warmup + steps)
    if show:
        rounds = progress(rounds, f"timing {len(models)} models' steps in turn", unit="rounds")
    for i in rounds:
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            step()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


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


#: The keys of :func:`bn_batch_dependence`: which two outputs of one image are compared.
BATCH_DEPENDENCE = (
    "training mode: alone vs in a batch",
    "evaluation mode: alone vs in a batch",
    "alone: training vs evaluation mode",
)


def bn_batch_dependence(model: nn.Module, images: Sequence[np.ndarray]) -> dict[str, float]:
    """How a BN network's output for one image depends on the batch and on the mode.

    ``images``: LR uint8 H x W x 3 arrays of the same size; the first is the one looked at.
    Returns max absolute differences (0..255 scale) of its output, keyed by the words a table
    shows (:data:`BATCH_DEPENDENCE`, in this order):

    * in training mode, alone vs together with the others (BN uses the batch's statistics, so
      the other images change this one's output);
    * the same in evaluation mode (running statistics: no dependence);
    * alone, training mode vs evaluation mode (the two normalizations differ).

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
    differences = (train_alone - train_batch, eval_alone - eval_batch, train_alone - eval_alone)
    return {key: float(d.abs().max()) for key, d in zip(BATCH_DEPENDENCE, differences, strict=True)}


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
# The shipped full-budget pair
# --------------------------------------------------------------------------------------------


#: Names under which the checkpoint runs ship their logs (data/checkpoints/<name>/log.csv).
BN_PAIR = {"EDSR block (no BN)": "edsr_baseline_x2", "SRResNet block (BN)": "edsr_baseline_bn_x2"}


# --------------------------------------------------------------------------------------------
# Per-image scores, for a paired comparison
# --------------------------------------------------------------------------------------------


def validation_crops(
    sets: Sequence[str] = ("Set5", "Set14"), scale: int = 2, size: int = 48
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, lr, hr)`` centre crops of every image of the benchmark ``sets``: LR
    ``size`` x ``size`` and HR ``scale`` times that (uint8 RGB, the benchmark's LR, so MATLAB
    bicubic), named "Set5/baby". Crops keep a score of many images cheap to compute."""
    crops = []
    for set_name in sets:
        for name, hr, lr in benchmark(set_name, scale):
            top, left = (lr.shape[0] - size) // 2, (lr.shape[1] - size) // 2
            lr_crop = lr[top : top + size, left : left + size]
            hr_crop = hr[scale * top : scale * (top + size), scale * left : scale * (left + size)]
            crops.append((f"{set_name}/{name}", *map(np.ascontiguousarray, (lr_crop, hr_crop))))
    return crops


def crop_psnrs(
    models: Mapping[str, nn.Module],
    crops: Sequence[tuple[str, np.ndarray, np.ndarray]],
    scale: int = 2,
) -> dict[str, list[float]]:
    """``{model name: [PSNR of each crop]}`` (dB, the paper's protocol: Y channel, ``scale``
    pixels shaved), in evaluation mode, with a progress line in a notebook. The same crops in
    the same order for every model, so the lists pair image by image
    (:func:`edsr_lite.course.claims.paired`)."""
    scores: dict[str, list[float]] = {name: [] for name in models}
    for _, lr, hr in progress(crops, f"scoring {len(models)} models", unit="crops"):
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float()
        for name, model in models.items():
            with torch.no_grad():
                out = model.eval()(x)[0].clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
            scores[name].append(psnr(out, hr, scale))
    return scores

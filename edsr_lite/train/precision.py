"""bfloat16 mixed precision: used only where the hardware runs it fast.

``TrainConfig(bf16=True)`` runs the forward pass under bfloat16 autocast (the loss stays
float32): about 2x faster on CPUs with bfloat16 instructions, about 10x *slower* on the others,
where the run warns and trains in float32 instead. Measurements: ``docs/training.md``.
"""

from __future__ import annotations

import warnings

import torch

FLOAT32, BF16_AUTOCAST = "float32", "bfloat16 autocast"  # as run.json's segments name them


class Bf16UnavailableWarning(UserWarning):
    """bf16 was asked for on hardware without fast bfloat16: the run trains in float32."""


def bf16_available(device: torch.device | str = "cpu") -> bool:
    """Whether bfloat16 autocast is fast on ``device``: a GPU that supports it, or a CPU with
    bfloat16 instructions (oneDNN's own test: AVX512 with BF16, or AMX). Elsewhere autocast
    runs generic kernels about 10x slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN: no fast bfloat16 either
        return False


def choose_bf16(asked: bool, device: torch.device) -> bool:
    """``asked`` where ``device`` runs bfloat16 fast; else False, with a
    :class:`Bf16UnavailableWarning`."""
    if not asked or bf16_available(device):
        return asked
    message = (
        f"bf16 was asked for, but {device} has no fast bfloat16 (no AVX512-BF16 or "
        "AMX on this CPU): autocast would make each step about 10x slower, so this run "
        "trains in float32 (run.json's segments record it)"
    )
    warnings.warn(message, Bf16UnavailableWarning, stacklevel=3)  # the caller of Trainer()
    return False


def precision_name(bf16: bool) -> str:
    """How run.json names the precision of a run's steps."""
    return BF16_AUTOCAST if bf16 else FLOAT32

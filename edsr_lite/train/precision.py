"""bfloat16 mixed precision in training: used only where the hardware runs it fast.

``TrainConfig(bf16=True)`` runs the forward pass under bfloat16 autocast (the loss stays
float32): about 2x faster on CPUs with bfloat16 instructions, about 10x *slower* on the others
(:func:`edsr_lite.precision.bf16_available` tells them apart), where the run warns and trains
in float32 instead. Measurements: ``docs/training.md``.
"""

from __future__ import annotations

import warnings

import torch

# Looked up here at each call (not through edsr_lite.precision), so a test can stand in for the
# hardware by replacing edsr_lite.train.precision.bf16_available.
from edsr_lite.precision import Bf16UnavailableWarning, bf16_available

FLOAT32, BF16_AUTOCAST = "float32", "bfloat16 autocast"  # as run.json's segments name them


def choose_bf16(asked: bool, device: torch.device) -> bool:
    """``asked`` where ``device`` runs bfloat16 fast; else False, with a
    :class:`~edsr_lite.precision.Bf16UnavailableWarning`."""
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

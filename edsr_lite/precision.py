"""bfloat16 on this machine: whether it is fast, for upscaling and for training alike.

bfloat16 autocast runs the convolutions in 16 bits: about 2x faster than float32 on a CPU with
bfloat16 instructions (AVX512-BF16, AMX) or a GPU that supports it, and about 10x *slower*
elsewhere, where PyTorch falls back to generic kernels. So both users of it ask
:func:`bf16_available` first and use float32 where it says no, with a
:class:`Bf16UnavailableWarning`: :class:`edsr_lite.infer.InferenceOptions` (``precision="bf16"``)
and :class:`edsr_lite.train.TrainConfig` (``bf16=True``, :mod:`edsr_lite.train.precision`).
Measurements: ``docs/speed.md`` and ``docs/training.md``.
"""

from __future__ import annotations

import torch

__all__ = ["PRECISIONS", "Bf16UnavailableWarning", "bf16_available"]

#: The arithmetic an :class:`edsr_lite.infer.Upscaler` runs the network in: float32, or bfloat16
#: autocast (convolutions in bfloat16, the output back to float32 before rounding). Its speed
#: and PSNR cost: ``python benchmarks/bench_runtimes.py`` prints them.
PRECISIONS = ("fp32", "bf16")


class Bf16UnavailableWarning(UserWarning):
    """bf16 was asked for on hardware without fast bfloat16: float32 is used instead."""


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

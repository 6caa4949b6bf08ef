"""The paper's training recipe (EDSR, Lim et al. 2017, Sec. 4.1), and nothing else.

=====================  ======================================  ==============================
hyper-parameter        paper                                   ours (the defaults)
=====================  ======================================  ==============================
loss                   L1 (mean absolute error), 0..255        same: :func:`l1_loss`
optimizer              Adam, beta1 0.9, beta2 0.999, eps 1e-8  same: :func:`make_optimizer`
learning rate          1e-4                                    same: :data:`LEARNING_RATE`
decay                  halved every 2 x 10^5 updates           halved every 2000
updates                3 x 10^5                                3000
minibatch              16                                      same: :data:`BATCH_SIZE`
LR patch               48 x 48 (HR patch: scale x 48)          same: :data:`PATCH_SIZE`
MDSR                   one random scale per minibatch          same: :func:`draw_scale`
=====================  ======================================  ==============================

The paper's schedule takes days on a GPU; a CPU affords thousands of updates, so ours keeps its
shape at 1/100 of the length (:data:`CPU_SCALE_DOWN`): 3000 updates, halved at 2000.
``edsr-lite train --decay-steps 200000 --max-steps 300000`` runs the paper's.

The L1 loss is the paper's choice over L2: it converges better for the same budget. Patches
(random 48 x 48 LR crops with the 8 flips/rotations) come from :mod:`edsr_lite.core.patches`.

One training step, as :meth:`edsr_lite.train.engine.Trainer.step` runs it::

    optimizer = make_optimizer(model)  # once; scheduler = make_scheduler(optimizer) too
    scale = draw_scale(scales, seed, step)  # MDSR: this minibatch's scale (EDSR: its own)
    optimizer.zero_grad(set_to_none=True)
    loss = forward_backward(model, lr_batch, hr_batch, scale)
    optimizer.step()
    scheduler.step()  # counts updates: halves the learning rate every DECAY_STEPS

MDSR: :func:`edsr_lite.core.patches.draw_scale` picks one scale per minibatch, uniformly at random
(a pure function of the seed and the step, the same on every process), so only that scale's
``pre_process`` and ``upsample`` modules (and the shared ones) change in that step. The
gradients are deleted (``set_to_none``), not zeroed: Adam moves a parameter whose gradient is
zero by its momentum, but skips one whose gradient is None.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edsr_lite.core.patches import PATCH_SIZE, draw_scale

__all__ = [
    "ADAM_BETAS",
    "ADAM_EPS",
    "BATCH_SIZE",
    "CPU_SCALE_DOWN",
    "DECAY_STEPS",
    "LEARNING_RATE",
    "LR_GAMMA",
    "MAX_STEPS",
    "PAPER_DECAY_STEPS",
    "PAPER_MAX_STEPS",
    "PATCH_SIZE",
    "draw_scale",
    "forward_backward",
    "l1_loss",
    "make_optimizer",
    "make_scheduler",
]

LEARNING_RATE = 1e-4
ADAM_BETAS = (0.9, 0.999)  # beta1, beta2
ADAM_EPS = 1e-8
LR_GAMMA = 0.5  # the learning rate is halved at every decay
BATCH_SIZE = 16  # LR/HR patch pairs per minibatch (PATCH_SIZE = 48: their LR side)
PAPER_DECAY_STEPS = 200_000
PAPER_MAX_STEPS = 300_000
CPU_SCALE_DOWN = 100  # our schedule is the paper's, this many times shorter
DECAY_STEPS = PAPER_DECAY_STEPS // CPU_SCALE_DOWN  # 2000
MAX_STEPS = PAPER_MAX_STEPS // CPU_SCALE_DOWN  # 3000


def l1_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between the output and the HR patches, both on 0..255 values
    (N x 3 x sp x sp); computed in float32 whatever precision made ``sr``."""
    return F.l1_loss(sr.float(), hr)


def forward_backward(
    model: nn.Module,
    lr_batch: torch.Tensor,
    hr_batch: torch.Tensor,
    scale: int,
    bf16: bool = False,
) -> torch.Tensor:
    """L1 loss of one minibatch and its gradients; returns the loss (a detached scalar).

    Args:
        lr_batch: N x 3 x p x p float32, 0..255. hr_batch: N x 3 x sp x sp float32, 0..255.
        scale: s, which picks the MDSR branch (EDSR checks it is its own scale).
        bf16: run the forward pass under bfloat16 autocast (mixed precision, not the paper's:
            :mod:`edsr_lite.train.precision`). bfloat16 has float32's range: no loss scaling.
    """
    with torch.autocast(lr_batch.device.type, dtype=torch.bfloat16, enabled=bf16):
        sr = model(lr_batch, scale)
    loss = l1_loss(sr, hr_batch)
    loss.backward()
    return loss.detach()


def make_optimizer(model: nn.Module, lr: float = LEARNING_RATE) -> torch.optim.Adam:
    """Adam as in the paper, over the trainable parameters (MeanShift is frozen)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)


def make_scheduler(
    optimizer: torch.optim.Optimizer, decay_steps: int = DECAY_STEPS
) -> torch.optim.lr_scheduler.StepLR:
    """Halve the learning rate every ``decay_steps`` optimizer steps (call its ``step()``
    after each ``optimizer.step()``)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=decay_steps, gamma=LR_GAMMA)

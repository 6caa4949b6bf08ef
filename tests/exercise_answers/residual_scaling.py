"""Answers to the exercises of ``notebooks/02_residual_scaling.ipynb``, whose checks are in
``edsr_lite.course.exercises.residual_scaling``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import copy
import math

import torch

import edsr_lite as el

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def _block_outputs(model, x, hook="forward"):
    stds = []
    blocks = [m for m in model.body if isinstance(m, el.ResBlock)]
    if hook == "forward":
        handles = [
            b.register_forward_hook(lambda m, i, o: stds.append(o.std().item())) for b in blocks
        ]
    else:
        handles = [
            b.register_forward_pre_hook(lambda m, i: stds.append(i[0].std().item())) for b in blocks
        ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return stds


def activation_growth(model, x):
    stds = _block_outputs(model, x)
    return stds[-1] / stds[0]


def predicted_growth(n_blocks, res_scale):
    return (1 + res_scale**2 / 18) ** (n_blocks / 2)


def fold_block(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[-1].weight.mul_(block.res_scale)
        folded.body[-1].bias.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


RIGHT = {
    "check_activation_growth": activation_growth,
    "check_predicted_growth": predicted_growth,
    "check_fold_res_scale": fold_block,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


def _growth_no_hook_removal(model, x):
    stds = []
    for b in model.body:
        if isinstance(b, el.ResBlock):
            b.register_forward_hook(lambda m, i, o: stds.append(o.std().item()))
    model(x)
    return stds[-1] / stds[0]


def _fold_in_place(block):
    with torch.no_grad():
        block.body[-1].weight.mul_(block.res_scale)
        block.body[-1].bias.mul_(block.res_scale)
    block.res_scale = 1.0
    return block


def _fold_weight_only(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[-1].weight.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


def _fold_keep_scale(block):
    folded = fold_block(block)
    folded.res_scale = block.res_scale
    return folded


def _fold_first_conv(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[0].weight.mul_(block.res_scale)
        folded.body[0].bias.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


WRONG = [
    ("check_activation_growth", lambda m, x: 1 / activation_growth(m, x), "upside down"),
    ("check_activation_growth", lambda m, x: activation_growth(m, x) ** 2, "variance"),
    ("check_activation_growth", lambda m, x: (lambda s: s[-1] / s[0])(_block_outputs(m, x, "pre")),
     "blocks' inputs"),
    ("check_activation_growth", _growth_no_hook_removal, "left hooks"),
    ("check_predicted_growth", lambda b, s: (1 + s**2 / 18) ** b, "square root"),
    ("check_predicted_growth", lambda b, s: (1 + s**2 / 9) ** (b / 2), "1/18, not 1/9"),
    ("check_predicted_growth", lambda b, s: (1 + s / 18) ** (b / 2), "res_scale squared"),
    ("check_predicted_growth", lambda b, s: math.sqrt(1 + b * s**2 / 18), "compound"),
    ("check_fold_res_scale", _fold_in_place, "changed the block it was given"),
    ("check_fold_res_scale", _fold_weight_only, "bias was not scaled"),
    ("check_fold_res_scale", _fold_keep_scale, "scaled twice"),
    ("check_fold_res_scale", copy.deepcopy, "nothing was folded"),
    ("check_fold_res_scale", _fold_first_conv, "first conv"),
]  # fmt: skip

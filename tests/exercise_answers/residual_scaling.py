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


# ============================================================================================
# The fairness table: correct variants accepted (None), wrong answers refused (the message)
# ============================================================================================


def _growth_numpy(model, x):
    """Population std in numpy, blocks found with modules(), a tensor-free float."""
    outs = []
    handles = [
        m.register_forward_hook(lambda mod, inp, out: outs.append(out.detach().numpy()))
        for m in model.modules()
        if isinstance(m, el.ResBlock)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return float(outs[-1].std() / outs[0].std())


def _growth_tensor(model, x):
    outs = []
    handles = [b.register_forward_hook(lambda m, i, o: outs.append(o)) for b in model.body[:-1]]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return outs[-1].std() / outs[0].std()


def _growth_lesson(model, x):
    from edsr_lite.course import residual_scaling

    return residual_scaling.depth_profile(model, x, x).activation_growth


def _predicted_float32(n_blocks, res_scale):
    return torch.tensor(1 + res_scale**2 / 18, dtype=torch.float32) ** (n_blocks / 2)


def _predicted_log(n_blocks, res_scale):
    return math.exp(n_blocks / 2 * math.log1p(res_scale**2 / 18))


def _predicted_lesson(n_blocks, res_scale):
    from edsr_lite.course.residual_scaling import predicted_growth as reference

    return reference(n_blocks, res_scale)


def _fold_new_block(block):
    conv = block.body[0]
    folded = el.ResBlock(conv.in_channels, conv.kernel_size[0]).to(conv.weight.dtype)
    folded.load_state_dict(block.state_dict())
    folded.body[2].weight.data *= block.res_scale
    folded.body[2].bias.data *= block.res_scale
    return folded


def _fold_parameters(block):
    folded = copy.deepcopy(block).eval()  # the copy's mode is the student's choice
    last = folded.body[-1]
    last.weight = torch.nn.Parameter(last.weight * block.res_scale)
    last.bias = torch.nn.Parameter(last.bias * block.res_scale)
    folded.res_scale = 1
    return folded


def _fold_switches_mode(block):
    block.eval()
    return fold_block(block)


def _fold_float32(block):
    return fold_block(block).float()


VARIANTS = [
    ("check_activation_growth", activation_growth, None),
    ("check_activation_growth", _growth_numpy, None),
    ("check_activation_growth", _growth_tensor, None),
    ("check_activation_growth", _growth_lesson, "`residual_scaling.depth_profile`"),
    ("check_activation_growth", _growth_no_hook_removal, "left hooks"),
    ("check_predicted_growth", predicted_growth, None),
    ("check_predicted_growth", _predicted_float32, None),
    ("check_predicted_growth", _predicted_log, None),
    ("check_predicted_growth", _predicted_lesson, "`residual_scaling.predicted_growth`"),
    ("check_predicted_growth", lambda b, s: (1 + s**2 / 18) ** b, "variance's growth"),
    ("check_fold_res_scale", fold_block, None),
    ("check_fold_res_scale", _fold_new_block, None),
    ("check_fold_res_scale", _fold_parameters, None),
    ("check_fold_res_scale", el.fold_res_scale, "calls edsr_lite's own `fold_res_scale`"),
    ("check_fold_res_scale", lambda block: el.fold_res_scale(block), "own `fold_res_scale`"),
    ("check_fold_res_scale", _fold_switches_mode, "switched the given block to evaluation mode"),
    ("check_fold_res_scale", _fold_float32, "weights are torch.float32"),
    ("check_fold_res_scale", _fold_in_place, "changed the block it was given"),
]  # fmt: skip

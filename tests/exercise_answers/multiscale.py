"""Answers to the exercises of ``notebooks/03_multiscale.ipynb``, whose checks are in
``edsr_lite.course.exercises.multiscale``: the notebook's solutions in plain Python
(``RIGHT``), typical wrong answers (``WRONG``: the check must name each mistake), and
``VARIANTS``: ``(check, answer, expected)`` with ``expected`` None for a correct variant the
check must accept, else a part of the message the check must give.
"""

from __future__ import annotations

import random

import torch.nn.functional as F

import edsr_lite as el
from edsr_lite.core.recipe import forward_backward

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def mdsr_forward(model, x, scale, index=None, skip=True):
    i = model.scales.index(scale) if index is None else index(model, scale)
    x = model.head(model.sub_mean(x))
    x = model.pre_process[i](x)
    x = x + model.body(x) if skip else model.body(x)
    return model.add_mean(model.tail(model.upsample[i](x)))


def mdsr_step(model, optimizer, batches, rng, draw=None, loss_fn=F.l1_loss, zero=True):
    scale = draw() if draw else model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    if zero:
        optimizer.zero_grad()
    loss = loss_fn(model(lr, scale), hr)
    loss.backward()
    optimizer.step()
    return scale, loss.item()


RIGHT = {
    "check_mdsr_forward": mdsr_forward,
    "check_mdsr_step": mdsr_step,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


def _step_all_scales(model, optimizer, batches, rng):
    optimizer.zero_grad()
    loss = sum(F.l1_loss(model(*batches[s][:1], s), batches[s][1]) for s in model.scales)
    loss.backward()
    optimizer.step()
    return int(model.scales[0]), loss.item() / len(model.scales)


def _step_zeros_not_none(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad(set_to_none=False)
    loss = F.l1_loss(model(batches[scale][0], scale), batches[scale][1])
    loss.backward()
    optimizer.step()
    return scale, loss.item()


def _step_no_update(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad()
    loss = F.l1_loss(model(batches[scale][0], scale), batches[scale][1])
    loss.backward()
    return scale, loss.item()


def _python_random(model):
    return lambda: random.choice(model.scales)


WRONG = [
    ("check_mdsr_forward", lambda m, x, s: mdsr_forward(m, x, s, index=lambda m, s: s - 2),
     "x4 branch"),
    ("check_mdsr_forward", lambda m, x, s: mdsr_forward(m, x, s, skip=False), "global skip"),
    ("check_mdsr_forward", lambda m, x, s: m(x, s), "edsr_lite's own"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, draw=lambda: 2), "drew only"),
    ("check_mdsr_step", _step_all_scales, "do not add up the losses of all scales"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, zero=False), "zero_grad"),
    ("check_mdsr_step", _step_zeros_not_none, "zero gradient instead of none"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, loss_fn=F.mse_loss),
     "mean squared error"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, draw=_python_random(m)),
     "the same seed gave other scales"),
    ("check_mdsr_step", _step_no_update, "changed no weight"),
]  # fmt: skip


# ============================================================================================
# Variants: correct forms the checks must accept, and wrong ones with the message they get
# ============================================================================================


def forward_with_branch(model, x, scale):
    i = model.branch(scale)  # the model's own index lookup: allowed
    h = model.head(model.sub_mean(x))
    h = model.pre_process[i](h)
    res = model.body(h)
    h = res + h
    return model.add_mean(model.tail(model.upsample[i](h)))


def forward_via_class(model, x, scale):
    return el.MDSR.forward(model, x, scale)


def forward_via_type(model, x, scale):
    return type(model).forward(model, x, scale)


def _my_helper(model, x, scale):
    return el.MDSR.forward(model, x, scale)


def forward_via_helper(model, x, scale):
    return _my_helper(model, x, scale)


def forward_switching_to_train(model, x, scale):
    model.train()
    return mdsr_forward(model, x, scale)


def step_zero_grad_last(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    loss = F.l1_loss(model(lr, scale), hr)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()  # a common idiom: clear after the update
    return scale, loss.item()


def step_reordered(model, optimizer, batches, rng):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    scale = int(rng.choice(model.scales))
    lr, hr = batches[scale]
    sr = model(lr, scale)
    loss = (sr - hr).abs().mean()
    loss.backward()
    optimizer.step()
    return scale, loss.item()


def step_hard_coded_scales(model, optimizer, batches, rng):
    scale = [2, 3, 4][rng.integers(3)]
    return _step_at(model, optimizer, batches, scale)


def step_clamped(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    optimizer.zero_grad()
    loss = F.l1_loss(model(lr, scale).clamp(0, 255), hr)
    loss.backward()
    optimizer.step()
    return scale, loss.item()


def step_left_in_eval(model, optimizer, batches, rng):
    scale, loss = mdsr_step(model, optimizer, batches, rng)
    model.eval()
    return scale, loss


def step_returns_graph(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    optimizer.zero_grad()
    loss = F.l1_loss(model(lr, scale), hr)
    loss.backward()
    optimizer.step()
    return scale, loss


def step_with_forward_backward(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad()
    loss = forward_backward(model, *batches[scale], scale)
    optimizer.step()
    return scale, float(loss)


def step_via_el_core(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad()
    loss = el.core.recipe.forward_backward(model, *batches[scale], scale)
    optimizer.step()
    return scale, float(loss)


def step_backward_after_update(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    optimizer.zero_grad()
    loss = F.l1_loss(model(lr, scale), hr)
    optimizer.step()
    loss.backward()
    return scale, loss.item()


def _step_at(model, optimizer, batches, scale):
    lr, hr = batches[scale]
    optimizer.zero_grad()
    loss = F.l1_loss(model(lr, scale), hr)
    loss.backward()
    optimizer.step()
    return scale, loss.item()


VARIANTS = [
    ("check_mdsr_forward", mdsr_forward, None),
    ("check_mdsr_forward", forward_with_branch, None),
    ("check_mdsr_forward", forward_via_class, "edsr_lite's own"),
    ("check_mdsr_forward", forward_via_type, "edsr_lite's own"),
    ("check_mdsr_forward", forward_via_helper, "edsr_lite's own"),
    ("check_mdsr_forward", forward_switching_to_train, "train mode"),
    *WRONG[:3],
    ("check_mdsr_step", mdsr_step, None),
    ("check_mdsr_step", step_zero_grad_last, None),
    ("check_mdsr_step", step_reordered, None),
    ("check_mdsr_step", step_hard_coded_scales, "not from a fixed list"),
    ("check_mdsr_step", step_clamped, "clamped the output to 0..255"),
    ("check_mdsr_step", step_left_in_eval, "eval mode"),
    ("check_mdsr_step", step_returns_graph, "with its graph"),
    ("check_mdsr_step", step_with_forward_backward, "edsr_lite's own"),
    ("check_mdsr_step", step_via_el_core, "edsr_lite's own"),
    ("check_mdsr_step", step_backward_after_update, "no gradient when optimizer.step.. ran"),
    *WRONG[3:],
]

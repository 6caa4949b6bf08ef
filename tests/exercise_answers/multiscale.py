"""Answers to the exercises of ``notebooks/03_multiscale.ipynb``, whose checks are in
``edsr_lite.course.exercises.multiscale``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import random

import torch.nn.functional as F

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
    ("check_mdsr_forward", lambda m, x, s: m(x, s), "do not call model"),
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

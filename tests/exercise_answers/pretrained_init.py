"""Answers to the exercises of ``notebooks/04_pretrained_init.ipynb``, whose checks are in
``edsr_lite.course.exercises.pretrained_init``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import torch

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def copy_matching_weights(model, source):
    own = model.state_dict()
    matching = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    return list(matching)


def random_fraction(model, source):
    own = model.state_dict()
    left = sum(v.numel() for k, v in own.items() if k not in source or source[k].shape != v.shape)
    return left / sum(v.numel() for v in own.values())


RIGHT = {
    "check_copy_matching_weights": copy_matching_weights,
    "check_random_fraction": random_fraction,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


def _copy_all(model, source):
    model.load_state_dict(source, strict=False)
    return list(source)


def _copy_by_position(model, source):
    own = model.state_dict()
    names = []
    with torch.no_grad():
        for (k, v), s in zip(own.items(), source.values(), strict=False):
            if v.shape == s.shape:
                v.copy_(s)
                names.append(k)
    return names


def _copy_parameters_only(model, source):
    names = []
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k in source and source[k].shape == p.shape:
                p.copy_(source[k])
                names.append(k)
    return names


def _copy_sharing_memory(model, source):
    names = []
    for k, p in model.named_parameters():
        if k in source and source[k].shape == p.shape:
            p.data = source[k]
            names.append(k)
    for k, b in model.named_buffers():
        if k in source and source[k].shape == b.shape:
            b.data = source[k]
            names.append(k)
    return names


def _fraction_by_name(model, source):
    own = model.state_dict()
    return sum(v.numel() for k, v in own.items() if k not in source) / sum(
        v.numel() for v in own.values()
    )


def _fraction_of_tensors(model, source):
    own = model.state_dict()
    left = [k for k, v in own.items() if k not in source or source[k].shape != v.shape]
    return len(left) / len(own)


WRONG = [
    ("check_copy_matching_weights", _copy_all, "shape differs"),
    ("check_copy_matching_weights", _copy_by_position, "by name, not by position"),
    ("check_copy_matching_weights", _copy_parameters_only, "buffer"),
    ("check_copy_matching_weights", _copy_sharing_memory, "shares memory"),
    ("check_copy_matching_weights", lambda m, s: copy_matching_weights(m, s)[1:], "wrong names"),
    ("check_random_fraction", _fraction_by_name, "shape differs"),
    ("check_random_fraction", _fraction_of_tensors, "counted tensors, not values"),
    ("check_random_fraction", lambda m, s: 1 - random_fraction(m, s), "fraction copied"),
]  # fmt: skip

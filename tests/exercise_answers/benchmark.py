"""Answers to the exercises of ``notebooks/05_benchmark.ipynb``, whose checks are in
``edsr_lite.course.exercises.benchmark``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def modcrop(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255


def psnr_y(sr, hr, scale, weights=Y_WEIGHTS, shave=None, channel="y"):
    s = scale if shave is None else shave
    if channel == "y":
        a, b = sr.astype(np.float64) @ weights, hr.astype(np.float64) @ weights
    else:
        a, b = sr.astype(np.float64), hr.astype(np.float64)
    if s:
        a, b = a[s:-s, s:-s], b[s:-s, s:-s]
    return 10 * math.log10(255**2 / np.mean((a - b) ** 2))


def self_ensemble(forward, x, ks=range(4), flips=(False, True), undo=-1, divide=True):
    outputs = []
    for k in ks:
        for flip in flips:
            t = torch.rot90(x, k, (2, 3))
            y = forward(t.flip(3) if flip else t)
            y = y.flip(3) if flip else y
            outputs.append(torch.rot90(y, undo * k, (2, 3)) if undo else y)
    total = torch.stack(outputs).sum(0)
    return total / len(outputs) if divide else total


RIGHT = {
    "check_modcrop": modcrop,
    "check_psnr_y_shave": psnr_y,
    "check_self_ensemble": self_ensemble,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


FULL_RANGE = np.array([0.299, 0.587, 0.114])


def _ensemble_no_untransform(forward, x):
    outs = [forward(torch.rot90(x, k, (2, 3)).flip(3) if f else torch.rot90(x, k, (2, 3)))
            for k in range(4) for f in (False, True)]  # fmt: skip
    return torch.stack(outs).mean(0)


WRONG = [
    ("check_modcrop", lambda im, s: im[: -(im.shape[0] % s), : -(im.shape[1] % s)], "empty"),
    ("check_modcrop", lambda im, s: im[im.shape[0] % s :, im.shape[1] % s :], "bottom-right"),
    ("check_modcrop", lambda im, s: im[: im.shape[0] - im.shape[0] % s], "wrong output shape"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, channel="rgb"), "computed on RGB"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, shave=0), "forgot the shave"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, shave=2 * s), "wrong amount"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, weights=FULL_RANGE), "full-range Y"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, flips=(False,)), "only 4 of the 8"),
    ("check_self_ensemble", _ensemble_no_untransform, "without transforming them back"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, undo=1), "rotated back the wrong way"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, divide=False), "divide by 8"),
]  # fmt: skip

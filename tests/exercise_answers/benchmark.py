"""Answers to the exercises of ``notebooks/05_benchmark.ipynb``, whose checks are in
``edsr_lite.course.exercises.benchmark``: the notebook's solutions in plain Python
(``RIGHT``), typical wrong answers (``WRONG``: the check must name each mistake), and
``VARIANTS``: ``(check, answer, expected)`` with ``expected`` None for a correct variant the
check must accept, else a part of the message the check must give.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import edsr_lite as el
from edsr_lite import infer
from edsr_lite.core import metrics

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


# ============================================================================================
# Variants: correct forms the checks must accept, and wrong ones with the message they get
# ============================================================================================


def modcrop_contiguous(image, scale):
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h // scale * scale, : w // scale * scale])


def modcrop_copy(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale, ...].copy()


def modcrop_float32(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale].astype(np.float32)


def modcrop_uint8(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale].astype(np.uint8)


def modcrop_list(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale].tolist()


def modcrop_with_el(image, scale):
    return el.modcrop(image, scale)


def psnr_with_torch(sr, hr, scale):
    weights = torch.tensor([65.481, 128.553, 24.966]) / 255
    a = 16 + torch.from_numpy(sr).float() @ weights  # float32 is precise enough
    b = 16 + torch.from_numpy(hr).float() @ weights
    s = scale
    rmse = torch.sqrt(torch.mean((a[s:-s, s:-s] - b[s:-s, s:-s]) ** 2))
    return 20 * torch.log10(255 / rmse)


def psnr_per_channel(sr, hr, scale):
    sr, hr = sr.astype(np.float64), hr.astype(np.float64)
    y_sr = 16 + (65.481 * sr[..., 0] + 128.553 * sr[..., 1] + 24.966 * sr[..., 2]) / 255
    y_hr = 16 + (65.481 * hr[..., 0] + 128.553 * hr[..., 1] + 24.966 * hr[..., 2]) / 255
    h, w = y_sr.shape
    d = y_sr[scale : h - scale, scale : w - scale] - y_hr[scale : h - scale, scale : w - scale]
    return float(10 * np.log10(255**2 / np.mean(d**2)))


def psnr_peak_219(sr, hr, scale):
    weights = np.array([65.481, 128.553, 24.966]) / 255
    a, b = sr.astype(np.float64) @ weights, hr.astype(np.float64) @ weights
    s = scale
    mse = np.mean((a[s:-s, s:-s] - b[s:-s, s:-s]) ** 2)
    return 10 * math.log10((235 - 16) ** 2 / mse)


def psnr_full_range(sr, hr, scale):
    a = sr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    b = hr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    s = scale
    return 10 * math.log10(255**2 / np.mean((a[s:-s, s:-s] - b[s:-s, s:-s]) ** 2))


def psnr_uint8_difference(sr, hr, scale):
    d = (sr - hr).astype(np.float64) @ Y_WEIGHTS
    s = scale
    return 10 * math.log10(255**2 / np.mean(d[s:-s, s:-s] ** 2))


def psnr_with_el(sr, hr, scale):
    return el.psnr(sr, hr, scale)


def _y(img):
    return metrics.rgb_to_y(img)


def psnr_via_helper(sr, hr, scale):
    a, b = _y(sr), _y(hr)
    return 10 * math.log10(
        255**2 / np.mean((a[scale:-scale, scale:-scale] - b[scale:-scale, scale:-scale]) ** 2)
    )


def ensemble_flip_first(forward, x):
    total = torch.zeros(0)
    for flip in (False, True):
        for k in range(4):
            t = torch.rot90(x.flip(3) if flip else x, k, (2, 3))
            y = torch.rot90(forward(t), -k, (2, 3))
            y = y.flip(3) if flip else y
            total = y if total.numel() == 0 else total + y
    return total / 8


def ensemble_batched(forward, x):
    n = x.shape[0]
    outs = []
    for t in (False, True):
        v = x.transpose(2, 3) if t else x
        views = torch.cat([v, v.flip(3), v.flip(2), v.flip(2, 3)])
        y = forward(views).split(n)
        y = [y[0], y[1].flip(3), y[2].flip(2), y[3].flip(2, 3)]
        outs += [yy.transpose(2, 3) if t else yy for yy in y]
    return torch.stack(outs).mean(0)


def ensemble_in_float64(forward, x):
    total = None
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (2, 3))
            y = forward(t.flip(3) if flip else t)
            y = torch.rot90(y.flip(3) if flip else y, -k, (2, 3)).double()
            total = y if total is None else total + y
    return total / 8


def ensemble_switching_to_eval(forward, x):
    forward.eval()
    return self_ensemble(forward, x)


def ensemble_with_infer(forward, x):
    return infer.self_ensemble(forward, x)


def ensemble_with_el_core(forward, x):
    return el.core.forward.self_ensemble(forward, x)


VARIANTS = [
    ("check_modcrop", modcrop, None),
    ("check_modcrop", modcrop_contiguous, None),
    ("check_modcrop", modcrop_copy, None),
    ("check_modcrop", modcrop_float32, "changed the dtype"),
    ("check_modcrop", modcrop_uint8, "changed the dtype"),
    ("check_modcrop", modcrop_list, "not a numpy array"),
    ("check_modcrop", modcrop_with_el, "edsr_lite's own"),
    ("check_psnr_y_shave", psnr_y, None),
    ("check_psnr_y_shave", psnr_with_torch, None),
    ("check_psnr_y_shave", psnr_per_channel, None),
    ("check_psnr_y_shave", psnr_peak_219, "used a peak of 219 .the height of rgb2ycbcr"),
    ("check_psnr_y_shave", psnr_full_range, "used the full-range Y.*the papers use MATLAB"),
    ("check_psnr_y_shave", psnr_uint8_difference, "wraps around"),
    ("check_psnr_y_shave", psnr_with_el, "edsr_lite's own"),
    ("check_psnr_y_shave", psnr_via_helper, "edsr_lite's own"),
    ("check_self_ensemble", self_ensemble, None),
    ("check_self_ensemble", ensemble_flip_first, None),
    ("check_self_ensemble", ensemble_batched, None),
    ("check_self_ensemble", ensemble_in_float64, "dtype"),
    ("check_self_ensemble", ensemble_switching_to_eval, "train/eval mode"),
    ("check_self_ensemble", ensemble_with_infer, "edsr_lite's own"),
    ("check_self_ensemble", ensemble_with_el_core, "edsr_lite's own"),
    *WRONG,
]

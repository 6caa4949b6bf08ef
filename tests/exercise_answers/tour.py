"""Answers to the exercises of ``notebooks/00_tour.ipynb``, whose checks are in
``edsr_lite.course.exercises.tour``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import numpy as np

import edsr_lite as el
from edsr_lite.core.degradation import modcrop
from edsr_lite.core.metrics import rgb_to_y

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
# ============================================================================================


def bicubic_baseline(hr, scale, crop=True):
    hr = modcrop(hr, scale) if crop else hr
    lr = el.imresize(hr, 1 / scale)
    return lr, el.imresize(lr, scale)


def error_map(sr, hr, scale, shave=True, absolute=True):
    diff = rgb_to_y(sr) - rgb_to_y(hr)
    diff = np.abs(diff) if absolute else diff
    return diff[scale:-scale, scale:-scale] if shave else diff


RIGHT = {
    "check_bicubic_baseline": bicubic_baseline,
    "check_error_map": error_map,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


def _subsampled_baseline(hr, scale):
    return modcrop(hr, scale)[::scale, ::scale], bicubic_baseline(hr, scale)[1]


def _hr_as_sr(hr, scale):
    return bicubic_baseline(hr, scale)[0], modcrop(hr, scale)


def _nearest_baseline(hr, scale):
    lr = el.imresize(modcrop(hr, scale), 1 / scale)
    return lr, np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)


def _float_baseline(hr, scale):
    lr = el.imresize(modcrop(hr, scale).astype(np.float64), 1 / scale)
    return lr, el.imresize(lr, scale)


def _skimage_baseline(hr, scale):
    from skimage.transform import rescale

    small = rescale(modcrop(hr, scale), 1 / scale, order=3, channel_axis=-1, preserve_range=True)
    lr = np.clip(np.round(small), 0, 255).astype(np.uint8)
    return lr, el.imresize(lr, scale)


WRONG = [
    ("check_bicubic_baseline", lambda hr, s: bicubic_baseline(hr, s, crop=False), "mod-crop HR"),
    ("check_bicubic_baseline", lambda hr, s: bicubic_baseline(hr, s)[::-1], "in that order"),
    ("check_bicubic_baseline", _subsampled_baseline, "aliases"),
    ("check_bicubic_baseline", _nearest_baseline, "nearest neighbour"),
    ("check_bicubic_baseline", _hr_as_sr, "HR itself"),
    ("check_bicubic_baseline", _float_baseline, "return uint8"),
    ("check_bicubic_baseline", _skimage_baseline, "MATLAB's bicubic downscale"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s, absolute=False), "absolute value"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s, shave=False), "shave 2 pixels"),
    ("check_error_map", lambda sr, hr, s: el.rgb_to_y(sr - hr)[s:-s, s:-s], "wraps around"),
    ("check_error_map", lambda sr, hr, s: np.abs(sr.astype(float) - hr)[s:-s, s:-s], "Y channel"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s) ** 2, "squared error"),
]  # fmt: skip


# ============================================================================================
# The fairness table: correct variants accepted (None), wrong answers refused (the message)
# ============================================================================================


def _baseline_as_list(hr, scale):
    return list(bicubic_baseline(hr, scale))


def _baseline_slicing_crop(hr, scale):
    h, w = hr.shape[:2]
    lr = el.imresize(hr[: h - h % scale, : w - w % scale], scale=1 / scale)
    return lr, el.imresize(lr, output_shape=(lr.shape[0] * scale, lr.shape[1] * scale))


def _baseline_lesson(hr, scale):
    from edsr_lite.course import tour

    versions = tour.sr_versions(hr, scale, {})
    return versions["LR"], versions["bicubic"]


def _baseline_downscale(hr, scale):
    from edsr_lite.core import degradation

    lr = degradation.downscale(modcrop(hr, scale), scale)
    return lr, el.imresize(lr, scale)


def _baseline_bicubic_sr(hr, scale):
    from edsr_lite import evaluation

    lr = el.imresize(modcrop(hr, scale), 1 / scale)
    return lr, evaluation.bicubic_sr(lr, scale)


def _baseline_in_place(hr, scale):
    np.clip(hr, 0, 200, out=hr)
    return bicubic_baseline(hr, scale)


def _float_both(hr, scale):
    lr = el.imresize(modcrop(hr, scale).astype(np.float64), 1 / scale)
    return lr, el.imresize(lr, scale)


def _my_y(img):
    rgb = img.astype(np.float64)
    return 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


def _error_map_own_y(sr, hr, scale):
    return np.abs(_my_y(sr) - _my_y(hr))[scale:-scale, scale:-scale]


def _error_map_float32_shave(sr, hr, scale):
    return el.core.metrics.shave(np.abs(rgb_to_y(sr) - rgb_to_y(hr)).astype(np.float32), scale)


def _error_map_tensor(sr, hr, scale):
    import torch

    return torch.from_numpy(error_map(sr, hr, scale))


def _error_map_lesson(sr, hr, scale):
    from edsr_lite.course import tour

    return tour.error_maps({"HR": hr, "SR": sr}, scale)["SR"]


VARIANTS = [
    ("check_bicubic_baseline", bicubic_baseline, None),
    ("check_bicubic_baseline", _baseline_as_list, None),
    ("check_bicubic_baseline", _baseline_slicing_crop, None),
    ("check_bicubic_baseline", _baseline_lesson, "calls edsr_lite's own `tour.sr_versions`"),
    ("check_bicubic_baseline", _baseline_downscale, "calls edsr_lite's own `downscale`"),
    ("check_bicubic_baseline", _baseline_bicubic_sr, "calls edsr_lite's own `bicubic_sr`"),
    ("check_bicubic_baseline", _baseline_in_place, "changed hr in place"),
    ("check_bicubic_baseline", _float_both, "lr is float64(.|\n)*sr is float64"),
    ("check_error_map", error_map, None),
    ("check_error_map", _error_map_own_y, None),
    ("check_error_map", _error_map_float32_shave, None),
    ("check_error_map", _error_map_tensor, None),
    ("check_error_map", _error_map_lesson, "calls edsr_lite's own `tour.error_maps`"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s).astype(np.uint8), "uint8 map"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s, shave=False, absolute=False),
     "shave 2 pixels(.|\n)*absolute value"),
]  # fmt: skip

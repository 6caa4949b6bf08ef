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

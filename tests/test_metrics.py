"""Unit tests of edsr_lite.core.metrics: Y conversion, PSNR, SSIM, evaluate() and format_table()."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from edsr_lite import evaluation
from edsr_lite.core import metrics
from edsr_lite.core.metrics import psnr, rgb_to_y, ssim
from edsr_lite.core.models import build
from edsr_lite.core.published import PAPER_BICUBIC
from edsr_lite.evaluation import evaluate, format_table
from edsr_lite.infer import Upscaler


def _pair(shape=(48, 40, 3), noise=12, seed=0):
    """A random uint8 'HR' image and a noisy copy of it as 'SR'."""
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return sr, hr


def _skimage_ssim(a, b, **kw):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# rgb_to_y
# ---------------------------------------------------------------------------------------------


def test_rgb_to_y_known_values():
    img = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0]]], dtype=np.uint8)
    y = rgb_to_y(img)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, [[235.0, 16.0, 16 + 65.481, 16 + 128.553]], atol=1e-12)


def test_rgb_to_y_accepts_float_and_keeps_gray():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_y(img), rgb_to_y(img.astype(np.float32)))
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    out = rgb_to_y(gray)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, gray)


def test_rgb_to_y_rejects_bad_shape():
    with pytest.raises(ValueError, match="H x W x 3"):
        rgb_to_y(np.zeros((4, 4, 4)))


# ---------------------------------------------------------------------------------------------
# psnr
# ---------------------------------------------------------------------------------------------


def test_psnr_matches_skimage_on_shaved_y():
    sr, hr = _pair()
    s = 3
    expected = peak_signal_noise_ratio(
        rgb_to_y(hr)[s:-s, s:-s], rgb_to_y(sr)[s:-s, s:-s], data_range=255
    )
    assert psnr(sr, hr, s) == pytest.approx(expected, abs=1e-10)


def test_psnr_rgb_mode_matches_skimage():
    sr, hr = _pair()
    expected = peak_signal_noise_ratio(hr[2:-2, 2:-2], sr[2:-2, 2:-2], data_range=255)
    assert psnr(sr, hr, 2, y_channel=False) == pytest.approx(expected, abs=1e-10)


def test_psnr_known_value():
    hr = np.full((20, 20), 100.0)
    sr = hr + 1.0  # MSE = 1
    assert psnr(sr, hr, 2) == pytest.approx(20 * math.log10(255), abs=1e-12)  # 48.13 dB


def test_psnr_identical_is_inf_and_ssim_is_one():
    _, hr = _pair()
    assert psnr(hr, hr.copy(), 2) == math.inf
    assert ssim(hr, hr.copy(), 2) == pytest.approx(1.0, abs=1e-12)


def test_shave_ignores_the_border():
    sr, hr = _pair(seed=2)
    s = 4
    changed = sr.copy()
    changed[:s] = 0
    changed[-s:] = 255
    changed[:, :s] = 17
    changed[:, -s:] = 200
    assert psnr(changed, hr, s) == psnr(sr, hr, s)
    assert ssim(changed, hr, s) == ssim(sr, hr, s)
    # ... but one pixel just inside the shaved frame counts.
    changed[s, s] = 255 - changed[s, s]
    assert psnr(changed, hr, s) != psnr(sr, hr, s)
    assert ssim(changed, hr, s) != ssim(sr, hr, s)


def test_shape_mismatch_names_both_shapes_and_modcrop():
    with pytest.raises(ValueError, match=r"\(20, 21, 3\).*\(20, 20, 3\).*modcrop"):
        psnr(np.zeros((20, 21, 3)), np.zeros((20, 20, 3)), 2)
    with pytest.raises(ValueError, match="modcrop"):
        ssim(np.zeros((20, 20)), np.zeros((22, 20)), 2)


def test_nan_input_is_an_error():
    sr, hr = _pair()
    bad = sr.astype(np.float64)
    bad[10, 10, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        psnr(bad, hr, 2)
    with pytest.raises(ValueError, match="NaN"):
        ssim(hr, bad, 2)


def test_bad_scale_and_too_small_images():
    sr, hr = _pair()
    with pytest.raises(ValueError, match="non-negative int"):
        psnr(sr, hr, 1.5)
    with pytest.raises(ValueError, match="too small"):
        psnr(sr[:8], hr[:8], 4)
    with pytest.raises(ValueError, match="window"):
        ssim(sr[:20], hr[:20], 5)  # 10 rows left, fewer than 11


def test_gray_images_and_the_y_mapping_of_gray_rgb():
    """A 2-D image is scored on its values; the same image as 3 equal channels is scored on
    Y = 16 + 219/255 * gray, which shrinks every error by 219/255: +20 log10(255/219) dB."""
    sr, hr = _pair(shape=(40, 40))
    direct = 10 * math.log10(255**2 / np.mean((sr[2:-2, 2:-2] - hr[2:-2, 2:-2].astype(float)) ** 2))
    assert psnr(sr, hr, 2) == pytest.approx(direct, abs=1e-10)
    as_rgb = psnr(np.dstack([sr] * 3), np.dstack([hr] * 3), 2)
    assert as_rgb - psnr(sr, hr, 2) == pytest.approx(20 * math.log10(255 / 219), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# ssim
# ---------------------------------------------------------------------------------------------


def test_ssim_matches_skimage_on_shaved_y():
    # skimage pads by reflection but averages only the map's interior (it crops the window
    # radius, 5 px), which is exactly MATLAB's 'valid' region: the two agree to rounding error.
    sr, hr = _pair(shape=(50, 60, 3), noise=30)
    s = 2
    expected = _skimage_ssim(rgb_to_y(sr)[s:-s, s:-s], rgb_to_y(hr)[s:-s, s:-s])
    assert ssim(sr, hr, s) == pytest.approx(expected, abs=1e-10)


def test_ssim_rgb_mode_matches_skimage_channel_average():
    sr, hr = _pair(shape=(50, 60, 3), noise=30, seed=3)
    expected = _skimage_ssim(
        sr[3:-3, 3:-3].astype(np.float64), hr[3:-3, 3:-3].astype(np.float64), channel_axis=2
    )
    assert ssim(sr, hr, 3, y_channel=False) == pytest.approx(expected, abs=1e-10)


def test_ssim_of_constant_images_has_closed_form():
    # Constant planes: zero variances, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b = 100.0, 120.0
    c1 = (0.01 * 255) ** 2
    value = ssim(np.full((30, 30), a), np.full((30, 30), b), 2)
    assert value == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-12)


def test_ssim_window_is_matlab_fspecial():
    g = metrics._gaussian_window_1d()
    window = np.outer(g, g)
    x, y = np.meshgrid(np.arange(-5, 6), np.arange(-5, 6))
    fspecial = np.exp(-(x**2 + y**2) / (2 * 1.5**2))
    np.testing.assert_allclose(window, fspecial / fspecial.sum(), atol=1e-15)


# ---------------------------------------------------------------------------------------------
# evaluate() and format_table()
# ---------------------------------------------------------------------------------------------


def _nearest(lr: np.ndarray, scale: int) -> np.ndarray:
    return lr.repeat(scale, axis=0).repeat(scale, axis=1)


class _NearestNet(torch.nn.Module):
    """A 'network' that is not an EDSR/MDSR: evaluate() cannot tile or check its scales."""

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")


def test_evaluate_with_a_callable_returns_one_row_per_set_and_scale():
    rows = evaluate(_nearest, sets=("Set5",), scales=(3, 4))
    assert [(r["set"], r["scale"]) for r in rows] == [("Set5", 3), ("Set5", 4)]
    for r in rows:
        assert r["method"] == "_nearest"
        assert r["protocol"] == "model"
        assert r["n_images"] == 5
        assert 20 < r["psnr"] < 35 and 0.5 < r["ssim"] < 1
    # The row is the mean of the per-image scores of the protocol function.
    scores = evaluation.evaluate_model_protocol(_nearest, "Set5", 4)
    assert rows[1]["psnr"] == pytest.approx(np.mean([s.psnr for s in scores]), abs=1e-12)
    assert [s.name for s in scores] == ["baby", "bird", "butterfly", "head", "woman"]


def test_evaluate_runs_a_network_through_the_upscaler():
    torch.manual_seed(0)
    net = build("edsr_tiny", 4).train()
    (row,) = evaluate(net, sets=("Set5",), scales=(4,))
    assert net.training, "evaluate() must restore the training mode"
    assert row["method"] == "EDSR" and row["n_images"] == 5
    # One code path: the same numbers as the Upscaler that `edsr-lite upscale` runs.
    (reference,) = evaluate(Upscaler(net), sets=("Set5",), scales=(4,))
    assert (row["psnr"], row["ssim"]) == (reference["psnr"], reference["ssim"])


def test_evaluate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="only defined for model_or_fn='bicubic'"):
        evaluate(_nearest, sets=("Set5",), scales=(4,), protocol="paper_bicubic")
    with pytest.raises(ValueError, match="paper_bicubic"):
        evaluate("bicubic", sets=("Set5",), scales=(4,), protocol="no_such_protocol")
    with pytest.raises(ValueError, match="bicubic"):
        evaluate("lanczos", sets=("Set5",), scales=(4,))
    with pytest.raises(TypeError, match="uint8"):
        evaluate(lambda lr, s: _nearest(lr, s).astype(float), sets=("Set5",), scales=(4,))
    with pytest.raises(TypeError, match=r"EDSR or MDSR.*fn\(lr, scale\)"):
        evaluate(_NearestNet(), sets=("Set5",), scales=(4,))
    with pytest.raises(ValueError, match="ensemble=True needs a network"):
        evaluate(_nearest, sets=("Set5",), scales=(4,), ensemble=True)


def test_format_table():
    rows = [
        {"method": "bicubic", "protocol": "paper_bicubic", "set": s, "scale": k, "psnr": p,
         "ssim": q, "n_images": 5}
        for (s, k), (p, q) in PAPER_BICUBIC.items()
        if s != "B100"
    ]  # fmt: skip
    assert format_table(rows) == (
        "| Set | ×2 | ×3 | ×4 |\n"
        "|---|---:|---:|---:|\n"
        "| Set5 | 33.66 / 0.9299 | 30.39 / 0.8682 | 28.42 / 0.8104 |\n"
        "| Set14 | 30.24 / 0.8688 | 27.55 / 0.7742 | 26.00 / 0.7027 |"
    )
    with_reference = format_table(rows[:1], reference=PAPER_BICUBIC)
    assert with_reference.splitlines()[-1] == "| Set5 | 33.66 / 0.9299 (paper 33.66 / 0.9299) |"
    two_methods = format_table(rows[:1] + [{**rows[0], "method": "edsr", "protocol": "model"}])
    assert two_methods.splitlines()[0] == "| Method (protocol) | Set | ×2 |"
    assert two_methods.splitlines()[3].startswith("| edsr (model) | Set5 |")

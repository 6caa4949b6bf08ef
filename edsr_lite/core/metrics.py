"""The two scores of super-resolution, PSNR and SSIM, as the MATLAB code behind the papers.

* :func:`rgb_to_y`: the luma Y of MATLAB's ``rgb2ycbcr``, ``16 + (65.481 R + 128.553 G +
  24.966 B) / 255`` (BT.601 studio swing, 16..235), float64, not rounded.
* :func:`psnr`: ``10 log10(255^2 / MSE)`` on Y, peak 255, after shaving ``scale`` pixels from
  each border (shave = scale).
* :func:`ssim`: Wang et al. (2004), ``ssim_index.m``: an 11x11 Gaussian window, sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, mean of the map; same Y and shave.

Images hold 0..255 values (uint8 or float), H x W x 3 RGB or H x W gray (taken as Y already);
nothing is rounded here.  With these conventions the bicubic baseline reproduces the published
33.66 dB / 0.9299 on Set5 x2, and all of EDSR's Table 6 "Bicubic" column within 0.01 dB / 0.001
(:func:`edsr_lite.evaluation.evaluate_paper_bicubic`; the protocols: ``docs/protocol.md``).
"""

from __future__ import annotations

import math

import numpy as np

# MATLAB rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in 0..255.
_Y_OFFSET = 16.0
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0

_PEAK = 255.0  # PSNR peak and SSIM dynamic range L
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


# ---------------------------------------------------------------------------------------------
# Colour conversion and the two metrics
# ---------------------------------------------------------------------------------------------


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Luma Y of MATLAB's ``rgb2ycbcr``, as float64 on the 0..255 scale (not rounded).

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in 0..255, so black maps
    to 16 and white to 235 (ITU-R BT.601 studio swing).  This is the Y every SR paper since
    SRCNN measures on.  MATLAB's ``rgb2ycbcr`` on a uint8 image additionally *rounds* Y to
    uint8; that rounding is not done here (EDSR's "model" protocol does not round), and
    :func:`edsr_lite.evaluation.evaluate_paper_bicubic` applies it explicitly where the old
    scripts did.

    Args:
        img: H x W x 3 RGB image, uint8 or float with values in 0..255 (not 0..1).
            A 2-D array is taken to be a gray image that is *already* a luma plane and is
            returned unchanged (as float64): the SRCNN-era scripts measure gray images on their
            gray values, without the 16..235 mapping.

    Returns:
        H x W float64 array.
    """
    img = np.asarray(img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image or an H x W gray image, got {img.shape}")
    return _Y_OFFSET + img.astype(np.float64) @ _Y_WEIGHTS


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """``img`` without ``border`` pixels on each of its four sides (a view; 0 keeps it whole).

    The benchmarks' convention: the border of an SR image, where the network saw less context,
    is left out of the score; EDSR shaves ``scale`` pixels (H x W -> (H - 2s) x (W - 2s)).
    """
    return img[border:-border, border:-border] if border else img


def _prepare(
    sr: np.ndarray, hr: np.ndarray, scale: int, y_channel: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of images, convert to Y (or keep RGB) as float64, shave ``scale`` pixels."""
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(
            f"SR and HR images must have the same shape, got SR {sr.shape} and HR {hr.shape}. "
            f"Crop HR to multiples of the scale (edsr_lite.core.degradation.modcrop(hr, {scale})) "
            "before making the LR image, and make the method return exactly scale x the LR size."
        )
    if sr.ndim not in (2, 3):
        raise ValueError(f"expected H x W or H x W x C images, got shape {sr.shape}")
    for label, img in (("SR", sr), ("HR", hr)):
        if np.issubdtype(img.dtype, np.floating) and not np.isfinite(img).all():
            raise ValueError(f"{label} image contains NaN or infinite values")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 0:
        raise ValueError(f"scale (the border shave) must be a non-negative int, got {scale!r}")
    if min(sr.shape[:2]) <= 2 * scale:
        raise ValueError(f"image of shape {sr.shape} is too small to shave {scale} pixels per side")

    if y_channel:
        a, b = rgb_to_y(sr), rgb_to_y(hr)
    else:
        a, b = sr.astype(np.float64), hr.astype(np.float64)
    return shave(a, scale), shave(b, scale)


def psnr(sr: np.ndarray, hr: np.ndarray, scale: int, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB, MATLAB/EDSR convention.

    ``PSNR = 10 log10(255^2 / MSE)``, computed in float64 on the Y channel of
    :func:`rgb_to_y` (or on all RGB channels together if ``y_channel=False``), after removing
    ``scale`` pixels from each border.  Peak is 255 regardless of dtype; inputs hold 0..255
    values (uint8 or float).  No rounding happens here: round SR to uint8 first if the
    protocol says so.  Identical images give ``inf``.

    With these settings the bicubic baseline reproduces the published 33.66 dB on Set5 x2
    (protocol ``"paper_bicubic"``); it matches ``skimage.metrics.peak_signal_noise_ratio``
    with ``data_range=255`` on the same shaved Y planes.

    Args:
        sr: super-resolved image, H x W x 3 RGB or H x W gray.
        hr: ground truth of the same shape.
        scale: SR scale factor; also the number of border pixels to shave (0 for none).
        y_channel: measure on Y (default) or on RGB.

    Raises:
        ValueError: shapes differ, an input has NaN/inf, or the image is too small to shave.
    """
    a, b = _prepare(sr, hr, scale, y_channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(_PEAK**2 / mse))


def _gaussian_window_1d(size: int = _SSIM_WINDOW, sigma: float = _SSIM_SIGMA) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)`` (the 2-D window is its outer
    product with itself, normalised to sum 1)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(g' * g, img, 'valid')``: separable weighted average over every position
    where the whole window fits inside the image (output shrinks by ``len(g) - 1``)."""
    k = len(g)
    rows = np.lib.stride_tricks.sliding_window_view(img, k, axis=0) @ g  # (H-k+1, W)
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=1) @ g  # (H-k+1, W-k+1)


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two float64 planes, exactly as Wang et al.'s ``ssim_index.m``."""
    g = _gaussian_window_1d()
    c1 = (_SSIM_K1 * _PEAK) ** 2
    c2 = (_SSIM_K2 * _PEAK) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a**2
    var_b = _filter_valid(b * b, g) - mu_b**2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def ssim(sr: np.ndarray, hr: np.ndarray, scale: int, y_channel: bool = True) -> float:
    """Structural similarity, exactly as the MATLAB ``ssim_index`` of Wang et al. (2004).

    Convention: the same shaved float64 Y planes as :func:`psnr` (``scale`` pixels removed
    from each border; ``y_channel=False`` scores each RGB channel and averages the three).
    On those planes: an 11x11 Gaussian window with sigma 1.5 (``fspecial``), K1 = 0.01,
    K2 = 0.03, L = 255, population (not sample) variances, statistics computed only where the
    window lies fully inside the image ('valid' filtering, so the SSIM map is 10 pixels
    smaller in each dimension), and the mean of the SSIM map.

    With these settings the bicubic baseline reproduces the published 0.9299 on Set5 x2
    (protocol ``"paper_bicubic"``).  scikit-image's ``structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)`` pads the
    image by reflection, but then averages only the map's interior (it crops 5 pixels, the
    window radius) -- exactly the 'valid' region -- so it agrees to rounding error.

    Raises:
        ValueError: as :func:`psnr`, or if the shaved image is smaller than the 11x11 window.
    """
    a, b = _prepare(sr, hr, scale, y_channel)
    if min(a.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(f"shaved image {a.shape} is smaller than the {_SSIM_WINDOW}x11 window")
    if a.ndim == 2:
        return _ssim_plane(a, b)
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))

"""Tests of edsr_lite.core.degradation.imresize: a bit-exact port of MATLAB's imresize(img,
scale, 'bicubic').

The key test compares against 15 low-resolution Set5 images that MATLAB itself made
(tests/fixtures/Set5_LR_bicubic, see tests/fixtures/README.md). The others check the output size
rule, the float path, and the 1-D formula evaluated directly, one sample at a time, in plain
Python.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edsr_lite.core.degradation import imresize

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures" / "Set5_LR_bicubic"
SET5_DIRS = [TESTS.parent / "data" / "Set5", Path("/work/shared/data/Set5")]
SET5_NAMES = ["baby", "bird", "butterfly", "head", "woman"]


def load_set5_hr(name: str) -> np.ndarray:
    """A Set5 HR image, (H, W, 3) uint8, from the repository's data/Set5 (preferred)."""
    for folder in SET5_DIRS:
        path = folder / f"{name}.png"
        if path.is_file():
            return np.asarray(Image.open(path).convert("RGB"))
    raise FileNotFoundError(f"{name}.png not found in {[str(d) for d in SET5_DIRS]}")


@pytest.fixture(scope="module")
def butterfly() -> np.ndarray:
    return load_set5_hr("butterfly")  # 256 x 256 x 3 uint8


# --- The key requirement: MATLAB's own output, bit for bit ------------------------------------


@pytest.mark.parametrize("s", [2, 3, 4])
@pytest.mark.parametrize("name", SET5_NAMES)
def test_matches_matlab_bit_for_bit(name: str, s: int) -> None:
    hr = load_set5_hr(name)
    h, w = hr.shape[:2]
    hr = hr[: h - h % s, : w - w % s]  # MATLAB's modcrop
    expected = np.asarray(Image.open(FIXTURES / f"X{s}" / f"{name}x{s}.png"))

    lr = imresize(hr, 1 / s)

    assert lr.dtype == np.uint8
    assert lr.shape == expected.shape
    differing = int(np.count_nonzero(lr != expected))
    assert differing == 0, f"{differing} of {lr.size} values differ from MATLAB"


# --- Output size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_shape", "scale", "out_shape"),
    [
        ((7, 5), 0.5, (4, 3)),  # odd sizes: ceil(3.5) = 4, ceil(2.5) = 3
        ((255, 255), 1 / 3, (85, 85)),
        ((256, 255), 0.25, (64, 64)),  # ceil(63.75) = 64
        ((9, 11), 0.3, (3, 4)),  # ceil(2.7) = 3, ceil(3.3) = 4
        ((10, 13), 1.5, (15, 20)),  # ceil(19.5) = 20
        ((3, 5), 2.5, (8, 13)),
        ((5, 7), 2.0, (10, 14)),
        ((1, 1), 3.0, (3, 3)),
        ((6, 4), 1 / 7, (1, 1)),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_output_size_is_ceil_of_scale_times_size(
    in_shape: tuple[int, int], scale: float, out_shape: tuple[int, int], dtype: type
) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(*in_shape, 3)).astype(dtype)
    out = imresize(img, scale)
    assert out.shape == (*out_shape, 3)
    assert out.dtype == dtype


def test_output_shape_argument_gives_that_shape(butterfly: np.ndarray) -> None:
    out = imresize(butterfly, output_shape=(7, 19))
    assert out.shape == (7, 19, 3)
    assert out.dtype == np.uint8


def test_scale_and_equivalent_output_shape_agree(butterfly: np.ndarray) -> None:
    by_scale = imresize(butterfly, 0.5)
    by_shape = imresize(butterfly, output_shape=(128, 128))
    np.testing.assert_array_equal(by_scale, by_shape)


# --- Values ------------------------------------------------------------------------------------


def test_upscaling_a_constant_image_keeps_it_constant() -> None:
    img = np.full((7, 9, 3), 137, dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, 2), np.full((14, 18, 3), 137, dtype=np.uint8))

    flat = np.full((7, 9), 0.3)
    np.testing.assert_allclose(imresize(flat, 2), np.full((14, 18), 0.3), rtol=0, atol=1e-12)
    np.testing.assert_allclose(imresize(flat, 1 / 3), np.full((3, 3), 0.3), rtol=0, atol=1e-12)


def test_upscaling_an_impulse_gives_the_cubic_kernel_samples() -> None:
    # Upscaling x2 samples the kernel at distances 0.25, 0.75, 1.25 and 1.75, where
    # cubic = 111/128, 29/128, -9/128 and -3/128 (a = -0.5). All exact in binary floating point.
    impulse = np.zeros((1, 7))
    impulse[0, 3] = 1.0
    k = np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 128
    expected = np.concatenate([np.zeros(3), k, np.zeros(3)])

    out = imresize(impulse, output_shape=(1, 14))

    np.testing.assert_array_equal(out[0], expected)


def test_uint8_rounds_half_away_from_zero() -> None:
    # 64 * 29/128 = 14.5 -> 15 and 64 * 111/128 = 55.5 -> 56 (np.round would give 14 and 56);
    # 64 * -9/128 = -4.5 saturates to 0.
    impulse = np.zeros((1, 7), dtype=np.uint8)
    impulse[0, 3] = 64

    out = imresize(impulse, output_shape=(1, 14))

    np.testing.assert_array_equal(out[0], [0, 0, 0, 0, 0, 15, 56, 56, 15, 0, 0, 0, 0, 0])


def _keys_cubic(t: float) -> float:
    """The cubic convolution kernel with a = -0.5, in Horner form."""
    t = abs(t)
    if t <= 1:
        return (1.5 * t - 2.5) * t * t + 1
    if t < 2:
        return ((-0.5 * t + 2.5) * t - 4) * t + 2
    return 0.0


def _matlab_bicubic_1d(signal: list[float], out_len: int, scale: float) -> list[float]:
    """MATLAB's bicubic resize of a 1-D signal, evaluated sample by sample (slow, plain Python)."""
    n = len(signal)
    stretch = min(scale, 1.0)  # when shrinking, the kernel is widened by 1 / scale
    radius = 2 / stretch
    out = []
    for i in range(out_len):
        centre = (i + 0.5) / scale - 0.5  # position of output sample i on the input grid
        total = weight_sum = 0.0
        for k in range(math.floor(centre - radius), math.ceil(centre + radius) + 1):
            weight = stretch * _keys_cubic(stretch * (centre - k))
            mirrored = k % (2 * n)  # mirror at the borders: ... 1 0 | 0 1 ... n-1 | n-1 ...
            if mirrored >= n:
                mirrored = 2 * n - 1 - mirrored
            total += weight * signal[mirrored]
            weight_sum += weight
        out.append(total / weight_sum)
    return out


@pytest.mark.parametrize(
    ("n", "out_len"),
    [(9, 18), (8, 4), (12, 4), (16, 4), (11, 4), (10, 17), (2, 1), (3, 1), (1, 5), (5, 3)],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_float_resize_matches_the_1d_formula(n: int, out_len: int, axis: int) -> None:
    signal = np.random.default_rng(n * 100 + out_len).uniform(-1, 2, size=n)
    expected = _matlab_bicubic_1d(signal.tolist(), out_len, out_len / n)

    img = signal.reshape((n, 1) if axis == 0 else (1, n))
    out_shape = (out_len, 1) if axis == 0 else (1, out_len)
    out = imresize(img, output_shape=out_shape)

    np.testing.assert_allclose(out.ravel(), expected, rtol=0, atol=1e-12)


def test_scale_not_output_over_input_is_used_for_odd_sizes() -> None:
    # 7 samples at scale 1/2 give ceil(3.5) = 4 samples, resized with scale 0.5, not 4 / 7.
    signal = np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0])
    expected = _matlab_bicubic_1d(signal.tolist(), 4, 0.5)

    out = imresize(signal[None, :], 0.5)  # the single row is resized 1 -> 1: unchanged

    assert out.shape == (1, 4)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-12)
    assert not np.allclose(expected, _matlab_bicubic_1d(signal.tolist(), 4, 4 / 7))


def _matlab_uint8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)


@pytest.mark.parametrize(
    ("crop", "out_h", "out_w"),
    [(256, 128, 128), (255, 85, 85), (256, 64, 64), (256, 512, 512), (256, 95, 171)],
)
def test_float_path_is_the_uint8_path_before_rounding(
    butterfly: np.ndarray, crop: int, out_h: int, out_w: int
) -> None:
    # The height scale is never larger than the width scale here, so MATLAB resizes the height
    # first; one pass at a time, the float result rounded is the uint8 result.
    hr = butterfly[:crop, :crop]
    rows_f = imresize(hr.astype(np.float64), output_shape=(out_h, crop))
    rows_u = imresize(hr, output_shape=(out_h, crop))
    assert np.abs(np.clip(rows_f, 0, 255) - rows_u).max() <= 0.5
    np.testing.assert_array_equal(rows_u, _matlab_uint8(rows_f))

    both_f = imresize(rows_u.astype(np.float64), output_shape=(out_h, out_w))
    both_u = imresize(rows_u, output_shape=(out_h, out_w))
    assert np.abs(np.clip(both_f, 0, 255) - both_u).max() <= 0.5
    np.testing.assert_array_equal(both_u, _matlab_uint8(both_f))

    # uint8 imresize is exactly these two passes, rounded in between.
    np.testing.assert_array_equal(imresize(hr, output_shape=(out_h, out_w)), both_u)


def test_smaller_scale_dimension_is_resized_first(butterfly: np.ndarray) -> None:
    def height_then_width(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return imresize(imresize(img, output_shape=(shape[0], img.shape[1])), output_shape=shape)

    def width_then_height(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return imresize(imresize(img, output_shape=(img.shape[0], shape[1])), output_shape=shape)

    for shape in [(64, 128), (200, 90)]:
        h_first = height_then_width(butterfly, shape)
        w_first = width_then_height(butterfly, shape)
        assert not np.array_equal(h_first, w_first)  # so the order can be told apart
        smaller_first = h_first if shape[0] < shape[1] else w_first
        np.testing.assert_array_equal(imresize(butterfly, output_shape=shape), smaller_first)


def test_grayscale_is_one_channel_of_rgb(butterfly: np.ndarray) -> None:
    rgb = imresize(butterfly, 1 / 3)
    for c in range(3):
        gray = imresize(butterfly[:, :, c], 1 / 3)
        assert gray.shape == rgb.shape[:2]
        np.testing.assert_array_equal(gray, rgb[:, :, c])
    assert imresize(butterfly[:, :, :1], 1 / 3).shape == (86, 86, 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_dtype_is_kept_and_input_untouched(butterfly: np.ndarray, dtype: type) -> None:
    img = butterfly.astype(dtype)
    before = img.copy()
    out = imresize(img, 0.5)
    assert out.dtype == dtype
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(img, before)


def test_float32_is_computed_in_float64(butterfly: np.ndarray) -> None:
    out32 = imresize(butterfly.astype(np.float32) / 255, 1 / 3)
    out64 = imresize(butterfly.astype(np.float64) / 255, 1 / 3)
    np.testing.assert_allclose(out32, out64, rtol=0, atol=1e-7)


def test_nan_propagates_to_the_outputs_that_read_it() -> None:
    img = np.ones((20, 20))
    img[10, 10] = np.nan
    out = imresize(img, 0.5)
    assert np.isnan(out[5, 5])
    assert np.isfinite(out[0, 0]) and np.isfinite(out[-1, -1])
    assert np.isnan(out).sum() < out.size / 4


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("img", "kwargs"),
    [
        (np.zeros((4, 4)), {"scale": 0}),
        (np.zeros((4, 4)), {"scale": -0.5}),
        (np.zeros((4, 4)), {"scale": float("nan")}),
        (np.zeros((4, 4)), {"scale": float("inf")}),
        (np.zeros((4, 4)), {}),
        (np.zeros((4, 4)), {"scale": 2, "output_shape": (8, 8)}),
        (np.zeros((4, 4)), {"output_shape": (0, 8)}),
        (np.zeros((4, 4)), {"output_shape": (8,)}),
        (np.zeros((4, 4)), {"output_shape": (8, 7.5)}),
        (np.zeros((0, 4)), {"scale": 2}),
        (np.zeros((4, 0, 3)), {"scale": 2}),
        (np.zeros(4), {"scale": 2}),
        (np.zeros((2, 4, 4, 3)), {"scale": 2}),
    ],
)
def test_bad_input_raises_value_error(img: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        imresize(img, **kwargs)


@pytest.mark.parametrize("img", [np.zeros((4, 4), dtype=np.int32), np.zeros((4, 4), dtype=bool)])
def test_unsupported_dtype_raises_type_error(img: np.ndarray) -> None:
    with pytest.raises(TypeError):
        imresize(img, 2)

"""The degradation: how the paper's low-resolution images are made (Sec. 4.1, Table 6).

HR is cropped to a multiple of the scale (:func:`modcrop`) and shrunk with MATLAB's bicubic
(:func:`downscale`): the "bicubic" track of DIV2K the paper trains on, and the LR images of the
benchmarks it reports. :func:`imresize` is a vectorized port of ``imresize(img, scale, 'bicubic')``.

Why MATLAB, and not PIL or ``torch.nn.functional.interpolate``?
-----------------------------------------------------------------
Single-image super-resolution papers (SRCNN, VDSR, EDSR, ...) and the DIV2K challenge make their
low-resolution (LR) inputs with MATLAB's ``imresize(HR, 1/s, 'bicubic')``. The PSNR/SSIM numbers in
their tables are only comparable with ours if our LR images hold the *same pixels*. Other bicubic
resizers are close, but not equal:

* PIL's ``Image.BICUBIC`` uses the same kernel, but at the image border it drops the taps that
  fall outside and renormalizes, where MATLAB mirrors the image; and PIL computes in fixed point.
* ``torch.nn.functional.interpolate(mode='bicubic')`` uses the cubic with a = -0.75 and, by
  default, no antialiasing when it downscales; with ``antialias=True`` it behaves like PIL.

Such differences are small, but a network trained on one degradation and tested on another loses
PSNR, and a border that differs by one grey level already changes the score. So this module
reproduces MATLAB's algorithm step by step (the names in the comments are the sub-functions of
MATLAB's ``imresize.m``), and the test suite checks it bit for bit against LR images that MATLAB
made.

How it works
------------
A separable resize works one dimension at a time. For each dimension we compute which (at most
``P``) input samples each output sample reads and with what cubic weight -- MATLAB's
``contributions`` -- and add up those taps along that axis (MATLAB's ``resizeAlongDim``). The
dimension that shrinks most is resized first.

For ``uint8`` input MATLAB rounds (half away from zero) and saturates to ``uint8`` after *each*
1-D pass; we do the same, which is what makes the result bit-exact. Floating-point input is
resized in float64 with no rounding or clipping (a bicubic kernel overshoots, so values can leave
the input range), and NaN propagates: an output sample is NaN when any of its taps reads a NaN.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["downscale", "imresize", "modcrop"]

# Width of the cubic kernel: it is non-zero on (-2, 2).
_CUBIC_SUPPORT = 4.0


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resize an image exactly as MATLAB's ``imresize(img, scale, 'bicubic')`` does.

    Give exactly one of ``scale`` and ``output_shape``.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` array, ``uint8`` (values 0..255) or floating point
            (any range, e.g. 0..1; NaN propagates).
        scale: factor applied to both height and width, > 0 (e.g. ``1/4`` to downscale by 4).
            The output size is ``ceil(scale * H) x ceil(scale * W)``, as in MATLAB.
        output_shape: ``(out_H, out_W)``, both >= 1. The two dimensions then get their own
            scales ``out_H / H`` and ``out_W / W``.

    Returns:
        ``(out_H, out_W)`` or ``(out_H, out_W, C)`` array with the dtype of ``img``: ``uint8``
        (rounded and saturated, bit-exact with MATLAB) or the input's float dtype (computed in
        float64, not clipped, so values may over/undershoot the input range slightly).

    Raises:
        ValueError: for a bad ``img`` shape, an empty image, a non-positive or non-finite
            ``scale``, both or neither of ``scale``/``output_shape``, or an output size of 0.
        TypeError: for a dtype other than ``uint8`` or floating point.
    """
    _check_image(img)
    in_shape = (img.shape[0], img.shape[1])
    scales, out_shape = _scales_and_output_shape(in_shape, scale, output_shape)

    # MATLAB's getDimOrder: `[~, order] = sort(scale)` -- resize along the dimension with the
    # smaller scale first (less work for the second pass). The sort is stable, so with equal
    # scales the rows (axis 0) go first; the order matters for uint8 because of the rounding.
    order = sorted(range(2), key=lambda axis: scales[axis])

    # uint8 stays uint8 between the passes (MATLAB rounds after each one); float input is
    # worked on in float64 and cast back to its own dtype only at the end.
    out = img if img.dtype == np.uint8 else img.astype(np.float64, copy=False)
    for axis in order:
        out = _resize_along_axis(out, axis, in_shape[axis], out_shape[axis], scales[axis])
    return np.ascontiguousarray(out, dtype=img.dtype)


def _check_image(img: np.ndarray) -> None:
    """Raise if ``img`` is not a non-empty ``(H, W)`` / ``(H, W, C)`` uint8 or float array."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"img must be a numpy array, got {type(img).__name__}")
    if img.ndim not in (2, 3):
        raise ValueError(f"img must be H x W or H x W x C, got shape {img.shape}")
    if img.size == 0:
        raise ValueError(f"img is empty (shape {img.shape})")
    if img.dtype != np.uint8 and not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"img must be uint8 or floating point, got dtype {img.dtype}")


def _scales_and_output_shape(
    in_shape: tuple[int, int],
    scale: float | None,
    output_shape: tuple[int, int] | None,
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Per-dimension scales and output size, following MATLAB's rules.

    With ``scale``: both dimensions use it and the output is ``ceil(scale * size)``. With
    ``output_shape``: each dimension uses ``out / in``. Returns ``((s_H, s_W), (out_H, out_W))``.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")

    if scale is not None:
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        out_shape = (math.ceil(scale * in_shape[0]), math.ceil(scale * in_shape[1]))
        scales = (scale, scale)
    else:
        if len(output_shape) != 2 or any(int(n) != n for n in output_shape):
            raise ValueError(
                f"output_shape must be two integers (out_H, out_W), got {output_shape}"
            )
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_shape[0] / in_shape[0], out_shape[1] / in_shape[1])

    if min(out_shape) < 1:
        raise ValueError(f"output size {out_shape} has a zero (or negative) dimension")
    return scales, out_shape


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``cubic``: Keys' cubic convolution kernel with a = -0.5.

    Args:
        x: distances in samples, any shape.

    Returns:
        Kernel values, same shape: 1 at x = 0, 0 at the other integers, 0 for |x| >= 2.
    """
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: which input samples each output sample reads, with what weight.

    Args:
        in_len: number of input samples along the dimension (>= 1).
        out_len: number of output samples (>= 1).
        scale: ``out / in`` size ratio (> 0); < 1 means downscaling.

    Returns:
        ``(weights, indices)``, both ``(out_len, P)``. Row ``i`` of ``weights`` (float64, sums
        to 1) and of ``indices`` (int64, 0-based, in ``[0, in_len)``) give output sample ``i`` as
        ``sum_p weights[i, p] * input[indices[i, p]]``. ``P`` is ``ceil(kernel width) + 2``
        minus the tap columns that are zero for every output.
    """
    kernel_width = _CUBIC_SUPPORT
    if scale < 1:
        # Antialiasing: when shrinking, stretch the kernel by 1/scale so it also acts as a
        # low-pass filter (h(x) = scale * cubic(scale * x) still integrates to 1).
        kernel_width = _CUBIC_SUPPORT / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)

    else:
        kernel = _cubic

    # Output sample x (1-based, as in MATLAB) sits at u in input coordinates. The 0.5 terms
    # align pixel *centres*: the outer edges of the input and output images coincide.
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)

    # The leftmost input sample involved, and P candidate taps (2 more than the kernel width,
    # so that rounding never misses one).
    left = np.floor(u - kernel_width / 2)
    num_taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(num_taps)[None, :]  # (out_len, P), 1-based

    # Normalize each row to sum 1 (the weights of a truncated / stretched kernel do not).
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # Taps outside the image read its mirror image (MATLAB's symmetric boundary rule):
    # aux = [1:in_len, in_len:-1:1]; indices = aux(mod(indices - 1, 2 * in_len) + 1).
    # The `mod` also covers very small images where a tap lands more than one image away.
    aux = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])  # 0-based
    indices = aux[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]

    # Drop tap columns whose weight is zero for every output sample.
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def _resize_along_axis(img: np.ndarray, axis: int, in_len: int, out_len: int, scale: float):
    """MATLAB's ``resizeAlongDim``: each output sample is its taps' weighted sum along ``axis``.

    Args:
        img: ``(H, W)`` or ``(H, W, C)``, uint8 or float64, with ``img.shape[axis] == in_len``.
        axis: 0 (rows / height) or 1 (columns / width).
        in_len, out_len, scale: the dimension's input and output length and their ratio.

    Returns:
        ``img`` resized to ``out_len`` along ``axis``, same dtype. uint8 is rounded half away
        from zero and saturated to 0..255, as MATLAB does after every pass; float64 is left as
        it is.
    """
    weights, indices = _contributions(in_len, out_len, scale)
    # Bring `axis` to the front and flatten the rest, so one pass resizes every row/column and
    # channel at once: (in_len, rest) -> (out_len, rest). The transposing copy is made before
    # the conversion to float64, so that for uint8 it moves 1 byte per value.
    moved = np.moveaxis(img, axis, 0)
    flat = np.ascontiguousarray(moved).reshape(moved.shape[0], -1)
    # Tap by tap, in MATLAB's order: each output is the same sequence of float64 multiply-adds
    # as MATLAB's loop (sum_p weights[i, p] * input[indices[i, p]]), hence bit-exact uint8.
    # The taps are gathered from the input as it is (uint8: 1 byte a value) into one buffer.
    resized = np.empty((out_len, flat.shape[1]))
    tap = np.empty_like(resized)
    for p in range(weights.shape[1]):
        np.multiply(weights[:, p : p + 1], flat[indices[:, p]], out=tap if p else resized)
        if p:
            resized += tap
    if img.dtype == np.uint8:
        resized = _round_to_uint8(resized)
    return np.moveaxis(resized.reshape((-1,) + moved.shape[1:]), 0, axis)


def _round_to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's conversion to uint8: round half away from zero, saturate to [0, 255].

    Args:
        x: float64 array, any shape and range (no NaN). It is overwritten.

    Returns:
        uint8 array of the same shape.
    """
    # Adding 0.5 and truncating rounds half away from zero for x >= 0, and the clip makes every
    # value >= 0 (np.round would round half to even: 2.5 -> 2, where MATLAB gives 3). The only
    # double that this rounds wrongly is the one just below 0.5 (0.5 - 2**-54, x + 0.5 == 1.0),
    # which a weighted sum of integers practically never hits. Done in place: x is large.
    x += 0.5
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)  # float -> uint8 truncates, which is floor here


# ---------------------------------------------------------------------------------------------
# The benchmark degradation: crop to a multiple of the scale, then bicubic x 1/s
# ---------------------------------------------------------------------------------------------


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom rows and right columns so that H and W are multiples of ``scale``.

    This is the usual SR benchmark convention (``modcrop`` in the SRCNN/EDSR MATLAB code):
    the top-left corner is kept, so at most ``scale - 1`` rows and columns are lost.

    Args:
        image: H x W or H x W x C array (any dtype).
        scale: the super-resolution factor, a positive integer.

    Returns:
        A view of ``image`` of shape (H - H % scale) x (W - W % scale) [x C].

    Raises:
        ValueError: ``scale`` is not a positive integer, or the image is smaller than it.
    """
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ValueError(f"scale must be a positive integer (2, 3, 4, ...), got {scale!r}")
    height, width = image.shape[:2]
    if height < scale or width < scale:
        raise ValueError(
            f"image of size {height} x {width} is smaller than the scale factor {scale}; "
            "nothing would be left after cropping to a multiple of it."
        )
    return image[: height - height % scale, : width - width % scale]


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-compatible bicubic ``imresize(hr, 1/scale)`` of a ``uint8`` H x W [x 3] image.

    ``hr`` should have sides divisible by ``scale`` (see :func:`modcrop`); the result is then
    (H/scale) x (W/scale) [x 3], ``uint8`` 0..255. (``ceil(H * (1/scale))``, MATLAB's output
    size, equals ``H/scale`` exactly for every such H: checked for s = 2..8, H < 20000.)
    """
    return imresize(hr, scale=1 / scale)

"""Notebook 05's pictures of what it measures: the border a protocol shaves, the self-ensemble,
the tile seams.

* :func:`border_pictures` / :func:`plot_border_errors`: one image's ``|SR - HR|`` on Y under
  each method, the band the protocol shaves outlined, and the mean error against the distance
  from the border;
* :func:`ensemble_picture` / :func:`plot_ensemble_crop`: a crop of the plain and the
  self-ensembled output and their difference;
* :func:`seam_picture` / :func:`plot_seam`: a crop across a tile corner of the tiled and the
  whole-image outputs, and, for contrast, of tiles cut without overlap.

All errors and differences are on MATLAB's Y channel, in grey levels of the 0..255 scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from edsr_lite.core.forward import receptive_radius, tile_grid
from edsr_lite.core.metrics import psnr, rgb_to_y
from edsr_lite.course.memory import UpscaleMemory
from edsr_lite.datasets import benchmark
from edsr_lite.evaluation import SRFunction
from edsr_lite.infer import Upscaler

__all__ = [
    "BorderPicture",
    "EnsemblePicture",
    "SeamPicture",
    "border_pictures",
    "ensemble_picture",
    "error_by_distance",
    "plot_border_errors",
    "plot_ensemble_crop",
    "plot_seam",
    "seam_picture",
    "y_difference",
]

ERROR_LABEL = "|Y error| (grey levels, 0..255 scale)"


def y_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Y(a) - Y(b)`` (float64, H x W, grey levels) of two uint8 H x W x 3 RGB images, Y as
    MATLAB's ``rgb2ycbcr`` (unrounded)."""
    return rgb_to_y(a) - rgb_to_y(b)


def _load(set_name: str, scale: int, image: str) -> tuple[np.ndarray, np.ndarray]:
    """``(hr, lr)`` of one benchmark image, by name (a ValueError naming the set's images)."""
    found = {name: (hr, lr) for name, hr, lr in benchmark(set_name, scale)}
    if image not in found:
        raise ValueError(f"{set_name} has no image {image!r}; it has {', '.join(found)}")
    return found[image]


# --------------------------------------------------------------------------------------------
# The shaved border
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BorderPicture:
    """One method on one image: ``error`` = ``|Y(SR) - Y(HR)|`` (H x W, grey levels), the
    ``shave`` (px) the protocol removes from each side, and the PSNR (dB) shaved and kept."""

    method: str
    image: str
    error: np.ndarray
    shave: int
    psnr_shaved: float
    psnr_kept: float


def border_pictures(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2, image: str = "bird"
) -> list[BorderPicture]:
    """:class:`BorderPicture` of each method (``{name: fn(lr, scale) -> sr}``) on one image."""
    hr, lr = _load(set_name, scale, image)
    pictures = []
    for name, fn in methods.items():
        sr = fn(lr, scale)
        error = np.abs(y_difference(sr, hr))
        pictures.append(
            BorderPicture(name, image, error, scale, psnr(sr, hr, scale), psnr(sr, hr, 0))
        )
    return pictures


def error_by_distance(error: np.ndarray, up_to: int = 16) -> np.ndarray:
    """Mean of ``error`` (H x W) over the pixels at each distance 0..``up_to - 1`` (px) from
    the nearest image border: ring ``d`` is the pixels ``d`` steps in from the edge."""
    h, w = error.shape
    rows, cols = np.indices((h, w))
    distance = np.minimum.reduce([rows, cols, h - 1 - rows, w - 1 - cols])
    return np.array([error[distance == d].mean() for d in range(up_to)])


def plot_border_errors(
    pictures: list[BorderPicture], corner: int = 24, vmax: float = 30.0, up_to: int = 16
) -> Figure:
    """Per method (one row): the whole error map with the shaved band outlined, its top-left
    ``corner`` x ``corner`` px enlarged (the band hatched), and the mean error against the
    distance from the border with the shave marked. One colour scale, clipped at ``vmax``."""
    fig = Figure(figsize=(11, 3.3 * len(pictures)), layout="constrained")
    axes = fig.subplots(len(pictures), 3, squeeze=False)
    for (whole, zoom, profile), p in zip(axes, pictures, strict=True):
        h, w = p.error.shape
        shown = whole.imshow(p.error, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        whole.add_patch(
            Rectangle(
                (p.shave - 0.5, p.shave - 0.5),
                w - 2 * p.shave,
                h - 2 * p.shave,
                fill=False,
                ec="cyan",
                lw=1,
            )
        )
        whole.add_patch(Rectangle((-0.5, -0.5), corner, corner, fill=False, ec="white", lw=1))
        whole.set(
            title=f"{p.method} on {p.image}\n{p.psnr_shaved:.2f} dB shaved, "
            f"{p.psnr_kept:.2f} dB kept",
            xlabel="x (px)",
            ylabel="y (px)",
        )
        zoom.imshow(
            p.error[:corner, :corner], cmap="magma", vmin=0, vmax=vmax, interpolation="nearest"
        )
        for xy, width, height in (((-0.5, -0.5), corner, p.shave), ((-0.5, -0.5), p.shave, corner)):
            zoom.add_patch(Rectangle(xy, width, height, fill=False, ec="cyan", hatch="///", lw=0))
        zoom.set(
            title=f"top-left {corner} px\nshaved band ({p.shave} px) hatched",
            xlabel="x (px)",
            ylabel="y (px)",
        )
        fig.colorbar(shown, ax=[whole, zoom], label=ERROR_LABEL, shrink=0.9)
        profile.plot(np.arange(up_to), error_by_distance(p.error, up_to), "o-", ms=3)
        profile.axvspan(-0.5, p.shave - 0.5, color="cyan", alpha=0.25, label="shaved")
        profile.set(
            title="mean error by distance\nfrom the border",
            xlabel="distance (px)",
            ylabel="mean |Y error| (grey levels)",
        )
        profile.grid(alpha=0.3)
        profile.legend()
    return fig


# --------------------------------------------------------------------------------------------
# The self-ensemble on a crop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnsemblePicture:
    """A crop (``box`` = top, left, side in HR px) of one image: HR, the plain and the
    self-ensembled output (uint8 RGB), and the crop's PSNR (dB, Y, no shave) of each."""

    image: str
    box: tuple[int, int, int]
    hr: np.ndarray
    plain: np.ndarray
    plus: np.ndarray
    psnr_plain: float
    psnr_plus: float


def ensemble_picture(
    model: nn.Module,
    set_name: str = "Set5",
    scale: int = 2,
    image: str = "butterfly",
    size: int = 64,
) -> EnsemblePicture:
    """The ``size`` x ``size`` HR crop where the self-ensemble changes the output most (the
    largest mean ``|Y(plus) - Y(plain)|`` over a grid of candidate crops), plain and with it."""
    hr, lr = _load(set_name, scale, image)
    plain = Upscaler(model)(lr, scale)
    plus = Upscaler(model, ensemble=True)(lr, scale)
    change = np.abs(y_difference(plus, plain))
    h, w = change.shape
    step = size // 2
    candidates = [
        (t, c) for t in range(0, h - size + 1, step) for c in range(0, w - size + 1, step)
    ]
    top, left = max(
        candidates, key=lambda tl: change[tl[0] : tl[0] + size, tl[1] : tl[1] + size].mean()
    )
    cut = np.s_[top : top + size, left : left + size]
    return EnsemblePicture(
        image,
        (top, left, size),
        hr[cut],
        plain[cut],
        plus[cut],
        psnr(plain[cut], hr[cut], 0),
        psnr(plus[cut], hr[cut], 0),
    )


def plot_ensemble_crop(p: EnsemblePicture, vmax: float | None = None) -> Figure:
    """HR, plain, self-ensembled crops, then ``Y(plus) - Y(plain)`` and the change in the error
    ``|plain - HR| - |plus - HR|`` on Y (positive where the ensemble is closer to HR), both in
    grey levels on a symmetric scale."""
    fig = Figure(figsize=(16, 3.6), layout="constrained")
    axes = fig.subplots(1, 5)
    top, left, size = p.box
    titles = (
        f"HR: {p.image}\ncrop at y={top}, x={left}",
        f"plain\n{p.psnr_plain:.2f} dB on this crop",
        f"self-ensemble\n{p.psnr_plus:.2f} dB on this crop",
    )
    for ax, picture, title in zip(axes[:3], (p.hr, p.plain, p.plus), titles, strict=True):
        ax.imshow(picture, interpolation="nearest")
        ax.set(title=title, xlabel="x (px)", ylabel="y (px)")
    change = y_difference(p.plus, p.plain)
    helped = np.abs(y_difference(p.plain, p.hr)) - np.abs(y_difference(p.plus, p.hr))
    limit = vmax or max(float(np.abs(change).max()), float(np.abs(helped).max()), 1.0)
    for ax, values, title, label in (
        (axes[3], change, "ensemble minus plain", "Y(plus) - Y(plain)\n(grey levels)"),
        (
            axes[4],
            helped,
            "error removed by the ensemble\n(red: closer to HR)",
            "|plain - HR| - |plus - HR| on Y\n(grey levels)",
        ),
    ):
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set(title=title, xlabel="x (px)", ylabel="y (px)")
        fig.colorbar(shown, ax=ax, label=label, shrink=0.85)
    return fig


# --------------------------------------------------------------------------------------------
# A tile seam
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeamPicture:
    """Crops (HR px) around a corner where four tiles meet: the ``whole``-image output, the
    ``tiled`` one (overlap = the receptive radius), and ``no_overlap``: the same crop's LR
    region upscaled in tiles cut without overlap, meeting at the same corner; ``seam`` = the
    corner's (row, column) in the crop, ``tile`` = the core tile side (LR px)."""

    whole: np.ndarray
    tiled: np.ndarray
    no_overlap: np.ndarray
    whole_here: np.ndarray
    seam: tuple[int, int]
    tile: int
    overlap: int


def seam_picture(
    model: nn.Module,
    image: np.ndarray,
    whole: UpscaleMemory,
    tiled: UpscaleMemory,
    half: int = 24,
) -> SeamPicture | None:
    """A :class:`SeamPicture` at the first interior corner of ``tiled``'s tile grid (``half``
    LR px each side of it), or None when the run was not cut into tiles."""
    scale = whole.output.shape[0] // image.shape[0]
    h, w = image.shape[:2]
    overlap = receptive_radius(model, scale)
    if tiled.tile <= 0 or tiled.n_tiles < 2:
        return None
    corners = [
        (r.stop, c.stop)
        for _, _, r, c in tile_grid(h, w, tiled.tile, overlap)
        if half <= r.stop <= h - half and half <= c.stop <= w - half
    ]
    if not corners:
        return None
    row, col = corners[0]
    cut = np.s_[
        scale * (row - half) : scale * (row + half), scale * (col - half) : scale * (col + half)
    ]
    region = np.ascontiguousarray(image[row - half : row + half, col - half : col + half])
    no_overlap = Upscaler(model, tile=half, overlap=0)(region, scale)
    whole_here = Upscaler(model, tile=0)(region, scale)
    seam = (scale * half, scale * half)
    return SeamPicture(
        whole.output[cut], tiled.output[cut], no_overlap, whole_here, seam, tiled.tile, overlap
    )


def plot_seam(p: SeamPicture) -> Figure:
    """Top: the whole-image output, the tiled output and their difference on Y (grey levels).
    Bottom: the same, for tiles cut without overlap (their seams show). Seams dashed."""
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 3)
    rows = (
        (
            p.whole,
            p.tiled,
            "whole image at once",
            f"tiled, overlap {p.overlap} px (receptive radius)",
        ),
        (p.whole_here, p.no_overlap, "this region at once", "tiled without overlap (for contrast)"),
    )
    for (ref_ax, tiled_ax, diff_ax), (ref, tiles, whole_title, name) in zip(
        axes, rows, strict=True
    ):
        diff = y_difference(tiles, ref)
        limit = max(float(np.abs(diff).max()), 1.0)
        ref_ax.imshow(ref, interpolation="nearest")
        ref_ax.set(title=whole_title)
        tiled_ax.imshow(tiles, interpolation="nearest")
        tiled_ax.set(title=name)
        shown = diff_ax.imshow(
            diff, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
        )
        differ = int((tiles != ref).sum())
        diff_ax.set(title=f"tiled minus whole: {differ} values differ")
        fig.colorbar(shown, ax=diff_ax, label="Y difference (grey levels)", shrink=0.85)
        for ax in (ref_ax, tiled_ax, diff_ax):
            ax.axhline(p.seam[0] - 0.5, color="gold", ls="--", lw=0.6, alpha=0.7)
            ax.axvline(p.seam[1] - 0.5, color="gold", ls="--", lw=0.6, alpha=0.7)
            ax.set(xlabel="x (output px)", ylabel="y (output px)")
    fig.suptitle("a corner where four tiles meet (seams dashed)")
    return fig

"""edsr_lite.course.benchmark_pictures (notebook 05): the pictures are of what was measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from edsr_lite.core.models import build
from edsr_lite.course import benchmark
from edsr_lite.course import benchmark_pictures as pictures
from edsr_lite.course.memory import UpscaleMemory
from edsr_lite.evaluation import bicubic_sr, evaluate_model_protocol
from edsr_lite.infer import Upscaler


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build("edsr_tiny", 2)


def _colorbar_labels(fig: Figure) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes if "grey levels" in ax.get_ylabel()]


def test_error_by_distance_averages_rings_from_the_border():
    h, w = 9, 12
    rows, cols = np.indices((h, w))
    distance = np.minimum.reduce([rows, cols, h - 1 - rows, w - 1 - cols]).astype(float)
    assert pictures.error_by_distance(distance, 4) == pytest.approx([0, 1, 2, 3])


def test_border_pictures_score_as_the_protocol_does():
    (p,) = pictures.border_pictures({"bicubic": bicubic_sr}, "Set5", 2, "bird")
    bird = next(s for s in evaluate_model_protocol(bicubic_sr, "Set5", 2) if s.name == "bird")
    assert p.psnr_shaved == pytest.approx(bird.psnr) and p.shave == 2
    assert p.error.min() >= 0 and p.error.ndim == 2
    fig = pictures.plot_border_errors([p])
    assert _colorbar_labels(fig) and all(ax.get_xlabel() for ax in fig.axes[:3])
    with pytest.raises(ValueError, match="has no image"):
        pictures.border_pictures({"bicubic": bicubic_sr}, "Set5", 2, "nope")


def test_the_ensemble_crop_is_where_the_ensemble_changes_most(model):
    p = pictures.ensemble_picture(model, "Set5", 2, "butterfly", size=32)
    assert p.hr.shape == p.plain.shape == p.plus.shape == (32, 32, 3)
    assert not np.array_equal(p.plain, p.plus)
    assert isinstance(pictures.plot_ensemble_crop(p), Figure)


def test_the_seam_picture_shows_tiles_equal_with_overlap_and_different_without(model):
    image = benchmark.mosaic("B100", 1, 1)[:96, :128]
    whole_out, tiled_out = Upscaler(model, tile=0)(image, 2), Upscaler(model, tile=48)(image, 2)
    whole = UpscaleMemory("whole", 0, 1, 1.0, 1.0, 1.0, 1.0, whole_out)
    tiled = UpscaleMemory("tiles", 48, 6, 1.0, 1.0, 1.0, 1.0, tiled_out)
    p = pictures.seam_picture(model, image, whole, tiled)
    assert p is not None and p.seam == (48, 48) and p.tiled.shape == (96, 96, 3)
    assert np.array_equal(p.tiled, p.whole)
    assert not np.array_equal(p.no_overlap, p.whole_here)
    assert len(_colorbar_labels(pictures.plot_seam(p))) == 2
    assert pictures.seam_picture(model, image, whole, whole) is None

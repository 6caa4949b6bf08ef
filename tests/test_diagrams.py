"""The network figures are read off the model objects: they change when the model does."""

from __future__ import annotations

import re

import pytest

from edsr_lite.core.models import ResBlock, build
from edsr_lite.course.diagrams import COLOURS, draw_blocks, draw_edsr, draw_mdsr, labels


def _count(pattern: str, texts: list[str]) -> int:
    return sum(bool(re.search(pattern, t)) for t in texts)


def test_blocks_show_bn_only_in_the_srresnet_block():
    texts = labels(draw_blocks())
    assert _count(r"^BN$", texts) == 2  # conv-BN-ReLU-conv-BN
    assert _count(r"^Conv 3x3, 64$", texts) == 4 and _count(r"^ReLU$", texts) == 2
    assert "SRResNet block (Fig. 2b)" in texts and "EDSR block (Fig. 2c)" in texts
    no_bn = labels(draw_blocks(srresnet=ResBlock(64), edsr=ResBlock(64)))
    assert _count(r"^BN$", no_bn) == 0


def test_blocks_show_the_residual_scaling_and_kernel():
    texts = labels(draw_blocks(edsr=ResBlock(256, kernel_size=5, res_scale=0.1)))
    assert "Mult 0.1" in texts and _count(r"^Conv 5x5, 256$", texts) == 2


@pytest.mark.parametrize(
    "preset, scale, blocks, feats, stages",
    [("edsr_baseline", 2, 16, 64, 1), ("edsr_tiny", 3, 8, 32, 1), ("edsr", 4, 32, 256, 2)],
)
def test_edsr_figure_has_the_presets_blocks_features_and_upsampler(
    preset, scale, blocks, feats, stages
):
    texts = labels(draw_edsr(build(preset, scale=scale)))
    assert f"{blocks} x ResBlock 3x3, {feats}" in " ".join(texts)
    assert any(f"B = {blocks} residual blocks, F = {feats} features" in t for t in texts)
    (up,) = [t for t in texts if t.startswith("Upsample")]
    assert up.startswith(f"Upsample x{scale}") and (f"{stages} x (" in up) == (stages > 1)
    assert "global skip" in texts


def test_edsr_figure_changes_with_bn():
    assert "(BN)" not in " ".join(labels(draw_edsr(build("edsr_baseline"))))
    assert "ResBlock 3x3, 64 (BN)" in " ".join(labels(draw_edsr(build("edsr_baseline", bn=True))))


@pytest.mark.parametrize(
    "preset, scales, blocks", [("mdsr_baseline", (2, 3, 4), 16), ("mdsr_tiny", (2, 4), 8)]
)
def test_mdsr_figure_has_one_branch_per_scale_and_a_shared_body(preset, scales, blocks):
    texts = labels(draw_mdsr(build(preset, scale=scales)))
    assert _count(r"^2 x ResBlock 5x5", texts) == len(scales)  # pre-processing, per scale
    assert _count(r"^Upsample x", texts) == len(scales)
    for s in scales:
        assert _count(rf"\[x{s}\]$", texts) == 1 and _count(rf"^Upsample x{s}\n", texts) == 1
    assert _count(rf"^{blocks} x ResBlock 3x3", texts) == 1  # the body, once
    assert f"{len(scales)} scale branches" in " ".join(texts)


def test_each_concept_has_one_colour_and_labels_are_readable():
    assert len(set(COLOURS.values())) == len(COLOURS)
    for fig in (draw_blocks(), draw_edsr(), draw_mdsr()):
        assert all(t.get_fontsize() >= 9 for ax in fig.axes for t in ax.texts)


def test_the_drawers_refuse_the_other_architecture():
    with pytest.raises(TypeError, match="draw_mdsr"):
        draw_edsr(build("mdsr_tiny"))
    with pytest.raises(TypeError, match="draw_edsr"):
        draw_mdsr(build("edsr_tiny"))

"""The networks: official state-dict layout, exact parameter counts, shapes, blocks, branches."""

import re

import pytest
import torch
from torch import nn

from edsr_lite.core.models import (
    EDSR,
    MDSR,
    PRESETS,
    ResBlock,
    build,
    count_parameters,
    fold_res_scale,
)

# The paper / official EDSR-PyTorch release counts (the 24 frozen MeanShift values included).
OFFICIAL_PARAMS = {
    ("edsr_baseline", 2): 1_369_883,
    ("edsr_baseline", 3): 1_554_523,
    ("edsr_baseline", 4): 1_517_595,
    ("edsr", 2): 40_729_627,
    ("edsr", 3): 43_680_027,
    ("edsr", 4): 43_089_947,
    ("mdsr_baseline", None): 3_227_227,
    ("mdsr", None): 7_954_011,
}


@pytest.mark.parametrize(("preset", "scale"), OFFICIAL_PARAMS)
def test_parameter_counts_are_the_official_ones(preset, scale):
    assert count_parameters(build(preset, scale)) == OFFICIAL_PARAMS[(preset, scale)]


def official_edsr_keys(n_resblocks: int, scale: int) -> list[str]:
    """The key list of an official EDSR state dict, written out from the release's layout."""
    keys = ["sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias"]
    keys += ["head.0.weight", "head.0.bias"]
    for i in range(n_resblocks):
        keys += [f"body.{i}.body.{j}.{p}" for j in (0, 2) for p in ("weight", "bias")]
    keys += [f"body.{n_resblocks}.weight", f"body.{n_resblocks}.bias"]
    stages = {2: [0], 3: [0], 4: [0, 2]}[scale]
    keys += [f"tail.0.{j}.{p}" for j in stages for p in ("weight", "bias")]
    keys += ["tail.1.weight", "tail.1.bias"]
    return keys


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_baseline_keys_and_shapes_match_the_official_layout(scale):
    sd = build("edsr_baseline", scale).state_dict()
    assert list(sd) == official_edsr_keys(16, scale)
    assert len(sd) == (78 if scale == 4 else 76)
    assert sd["head.0.weight"].shape == (64, 3, 3, 3)
    assert sd["body.3.body.2.weight"].shape == (64, 64, 3, 3)
    assert sd["tail.0.0.weight"].shape == ({2: 256, 3: 576, 4: 256}[scale], 64, 3, 3)
    assert sd["tail.1.weight"].shape == (3, 64, 3, 3)
    assert sd["sub_mean.weight"].shape == (3, 3, 1, 1)


def test_wide_edsr_keys_and_res_scale():
    model = build("edsr", 4)
    assert list(model.state_dict()) == official_edsr_keys(32, 4)
    assert model.state_dict()["body.31.body.0.weight"].shape == (256, 256, 3, 3)
    assert {b.res_scale for b in model.modules() if isinstance(b, ResBlock)} == {0.1}


@pytest.mark.parametrize("preset", ["mdsr_baseline", "mdsr"])
def test_mdsr_keys_match_the_official_layout(preset):
    sd = build(preset).state_dict()
    n = PRESETS[preset].n_resblocks
    expected = {"sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias"}
    expected |= {"head.0.weight", "head.0.bias", "tail.0.weight", "tail.0.bias"}
    for i in range(3):
        expected |= {
            f"pre_process.{i}.{b}.body.{j}.{p}"
            for b in (0, 1)
            for j in (0, 2)
            for p in ("weight", "bias")
        }
    for i in range(n):
        expected |= {f"body.{i}.body.{j}.{p}" for j in (0, 2) for p in ("weight", "bias")}
    expected |= {f"body.{n}.weight", f"body.{n}.bias"}
    expected |= {f"upsample.{i}.0.{p}" for i in range(3) for p in ("weight", "bias")}
    expected |= {"upsample.2.2.weight", "upsample.2.2.bias"}
    assert set(sd) == expected
    assert sd["pre_process.1.0.body.0.weight"].shape == (64, 64, 5, 5)
    assert sd["upsample.1.0.weight"].shape == (576, 64, 3, 3)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize(("h", "w"), [(7, 9), (1, 5), (12, 11)])
def test_output_shapes_on_odd_sizes(scale, h, w):
    model = build("edsr_tiny", scale).eval()
    x = torch.rand(2, 3, h, w) * 255
    with torch.no_grad():
        assert model(x).shape == (2, 3, h * scale, w * scale)


def test_mean_shift_is_frozen_and_round_trips():
    model = build("edsr_tiny", 2)
    x = torch.rand(1, 3, 4, 4) * 255
    assert not any(p.requires_grad for p in model.sub_mean.parameters())
    torch.testing.assert_close(model.add_mean(model.sub_mean(x)), x)
    mean = torch.tensor([0.4488, 0.4371, 0.4040]) * 255
    torch.testing.assert_close(model.sub_mean(x)[0, :, 0, 0], x[0, :, 0, 0] - mean)


def test_edsr_block_has_no_bn_and_no_relu_after_the_sum():
    block = ResBlock(8)
    assert [type(m) for m in block.body] == [nn.Conv2d, nn.ReLU, nn.Conv2d]
    # No ReLU after the sum: a negative input stays negative when the residual is zero.
    for conv in (block.body[0], block.body[2]):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = -torch.ones(1, 8, 3, 3)
    torch.testing.assert_close(block(x), x)


def test_bn_true_gives_the_srresnet_block_everywhere_else_unchanged():
    plain, with_bn = build("edsr_baseline", 2), build("edsr_baseline", 2, bn=True)
    block = with_bn.body[0]
    assert [type(m) for m in block.body] == [
        nn.Conv2d,
        nn.BatchNorm2d,
        nn.ReLU,
        nn.Conv2d,
        nn.BatchNorm2d,
    ]
    # Same head, tail, skip and convolutions: only the BN layers are added.
    n_bn = sum(
        m.weight.numel() + m.bias.numel()
        for m in with_bn.modules()
        if isinstance(m, nn.BatchNorm2d)
    )
    assert n_bn == 16 * 2 * 2 * 64
    assert count_parameters(with_bn) == count_parameters(plain) + n_bn


def test_res_scale_multiplies_the_residual():
    torch.manual_seed(0)
    full, scaled = ResBlock(4, res_scale=1.0), ResBlock(4, res_scale=0.1)
    scaled.load_state_dict(full.state_dict())
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(scaled(x) - x, 0.1 * (full(x) - x))


def test_mdsr_picks_the_branch_by_scale_value():
    torch.manual_seed(0)
    model = MDSR(scales=(2, 3, 4), n_resblocks=2, n_feats=8).eval()
    x = torch.rand(1, 3, 6, 5) * 255
    out3 = model(x, 3)
    assert out3.shape == (1, 3, 18, 15)
    # Zeroing the x3 branch's upsampler changes x3 output but not x2 or x4.
    out2, out4 = model(x, 2), model(x, 4)
    with torch.no_grad():
        for p in model.upsample[1].parameters():
            p.zero_()
    assert not torch.allclose(model(x, 3), out3)
    torch.testing.assert_close(model(x, 2), out2)
    torch.testing.assert_close(model(x, 4), out4)


def test_mdsr_with_scales_in_another_order_still_selects_by_value():
    model = MDSR(scales=(4, 2), n_resblocks=1, n_feats=8).eval()
    assert model(torch.rand(1, 3, 3, 3), 2).shape == (1, 3, 6, 6)
    assert model(torch.rand(1, 3, 3, 3), 4).shape == (1, 3, 12, 12)


def test_mdsr_rejects_an_unknown_scale_clearly():
    model = build("mdsr_tiny")
    with pytest.raises(ValueError, match=r"x2, x3, x4, not x8"):
        model(torch.rand(1, 3, 4, 4), 8)
    with pytest.raises(ValueError, match="needs a scale"):
        model(torch.rand(1, 3, 4, 4))


def test_edsr_refuses_another_scale_clearly():
    model = build("edsr_tiny", 2)
    with pytest.raises(ValueError, match=r"built for x2 and cannot upscale x4"):
        model(torch.rand(1, 3, 4, 4), 4)
    assert model(torch.rand(1, 3, 4, 4), 2).shape == (1, 3, 8, 8)


def test_build_rejects_unknown_presets_and_arguments():
    with pytest.raises(ValueError, match="unknown preset 'edsr_huge'.*edsr_baseline"):
        build("edsr_huge")
    with pytest.raises(TypeError, match="n_feat"):
        build("edsr_baseline", n_feat=32)
    with pytest.raises(ValueError, match="2, 3, 4"):
        EDSR(scale=5, n_resblocks=1, n_feats=4)


@pytest.mark.parametrize("bn", [False, True])
def test_fold_res_scale_keeps_outputs(bn):
    torch.manual_seed(0)
    model = build("edsr_tiny", 3, res_scale=0.1, bn=bn).eval()
    folded = fold_res_scale(model)
    blocks = [m for m in folded.modules() if isinstance(m, ResBlock)]
    assert blocks and all(b.res_scale == 1.0 for b in blocks)
    assert model.body[0].res_scale == 0.1  # the original is untouched
    x = torch.rand(1, 3, 9, 7) * 255
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-3)


def test_presets_include_small_teaching_models():
    for name in ("edsr_tiny", "mdsr_tiny"):
        p = PRESETS[name]
        assert (p.n_resblocks, p.n_feats) == (8, 32)
    assert all(re.fullmatch(r"[a-z_]+", name) for name in PRESETS)

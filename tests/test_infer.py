"""Inference: receptive radius, tiled == untiled, self-ensemble on batches, upscale() inputs,
the options checked in one place."""

import numpy as np
import pytest
import torch
from PIL import Image

from edsr_lite.core.forward import (
    computed_pixels,
    receptive_radius,
    self_ensemble,
    tile_grid,
    tiled_forward,
)
from edsr_lite.core.models import MDSR, build
from edsr_lite.images import read_image, to_tensor
from edsr_lite.infer import InferenceOptions, Upscaler, upscale
from edsr_lite.locations import DATA_DIR


def _model(preset="edsr_tiny", scale=2, seed=0, **kw):
    torch.manual_seed(seed)
    return build(preset, scale, **kw).eval()


@pytest.fixture(scope="module")
def butterfly() -> np.ndarray:
    """A real image (Set5 butterfly), 256 x 256 x 3 uint8."""
    return read_image(DATA_DIR / "Set5" / "butterfly.png")


def test_receptive_radius_of_the_baseline():
    # head 1 + 16 blocks x 2 + body conv 1 = 34 at LR; the upsampler and tail add 1.5 (x2)
    # or 1 + 1/2 + 1/4 (x4), rounded up.
    assert receptive_radius(build("edsr_baseline", 2)) == 36
    assert receptive_radius(build("edsr_baseline", 3)) == 36
    assert receptive_radius(build("edsr_baseline", 4)) == 36
    # MDSR adds its two 5x5 pre-processing blocks (4 convs x 2 px) on the path of one scale.
    assert receptive_radius(build("mdsr_baseline"), 2) == 36 + 8


@pytest.mark.parametrize("scale", [2, 3])
def test_receptive_radius_is_where_a_pixel_stops_mattering(scale):
    model = _model(n_resblocks=2, scale=scale)
    radius = receptive_radius(model)
    x = torch.rand(1, 3, 31, 31, generator=torch.Generator().manual_seed(0)) * 255
    x2 = x.clone()
    x2[:, :, 15, 15] += 50
    with torch.no_grad():
        changed = (model(x) - model(x2)).abs().sum(dim=(0, 1)) > 0
    rows = torch.nonzero(changed.any(dim=1)).flatten()
    reach = max(15 * scale - rows.min().item(), rows.max().item() - (16 * scale - 1))
    # The change reaches no further than the radius, and the radius is not loose by a pixel.
    assert reach <= radius * scale
    assert reach > (radius - 1) * scale


def test_tile_grid_cores_partition_the_image():
    grid = tile_grid(23, 10, tile=7, overlap=3)
    covered = np.zeros((23, 10), int)
    for rows, cols, core_r, core_c in grid:
        covered[core_r, core_c] += 1
        assert rows.start == max(0, core_r.start - 3) and rows.stop == min(23, core_r.stop + 3)
        assert cols.start == max(0, core_c.start - 3) and cols.stop == min(10, core_c.stop + 3)
    assert (covered == 1).all()


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize(("h", "w"), [(37, 29), (1, 23), (5, 1)])
def test_tiled_equals_untiled_pixel_for_pixel(butterfly, scale, h, w):
    model = _model(scale=scale)
    lr = butterfly[50 : 50 + h, 70 : 70 + w]
    whole = Upscaler(model, tile=0)(lr)
    tiled = Upscaler(model, tile=8)(lr)
    assert tiled.shape == (h * scale, w * scale, 3)
    np.testing.assert_array_equal(tiled, whole)


def test_tiled_float_output_is_identical_too(butterfly):
    model = _model(scale=3).to(memory_format=torch.channels_last)
    x = to_tensor(butterfly[:41, :35])
    with torch.no_grad():
        whole = model(x)
        tiled = tiled_forward(model, x, 3, tile=9, overlap=receptive_radius(model))
    assert torch.equal(tiled, whole)


def test_too_small_an_overlap_shows_seams(butterfly):
    model = _model(scale=2)
    lr = butterfly[:40, :40]
    good = Upscaler(model, tile=10)(lr)
    bad = Upscaler(model, tile=10, overlap=2)(lr)
    assert not np.array_equal(good, bad)


def test_mdsr_tiling_at_every_scale(butterfly):
    torch.manual_seed(0)
    model = MDSR(n_resblocks=2, n_feats=8).eval()
    lr = butterfly[10:35, 20:47]
    for scale in (2, 3, 4):
        np.testing.assert_array_equal(
            Upscaler(model, tile=7)(lr, scale), Upscaler(model, tile=0)(lr, scale)
        )


def _ensemble_by_hand(model, x):
    """The 8 transforms written as rotations, independently of self_ensemble's flips."""
    outs = []
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (2, 3))
            t = t.flip(3) if flip else t
            y = model(t)
            y = y.flip(3) if flip else y
            outs.append(torch.rot90(y, -k, (2, 3)))
    return torch.stack(outs).mean(0)


def test_self_ensemble_matches_the_eight_transforms_and_works_on_batches(butterfly):
    model = _model(scale=2)
    x = torch.cat([to_tensor(butterfly[:13, :17]), to_tensor(butterfly[100:113, 50:67])])
    with torch.no_grad():
        batch = self_ensemble(model, x)
        singles = torch.cat([self_ensemble(model, x[i : i + 1]) for i in range(2)])
        by_hand = _ensemble_by_hand(model, x)
    assert batch.shape == (2, 3, 26, 34)
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-3)
    torch.testing.assert_close(batch, by_hand, rtol=0, atol=1e-3)
    assert not torch.allclose(batch, model(x), atol=0.1)  # it does change the output


def test_ensemble_combines_with_tiling(butterfly):
    model = _model(scale=2)
    lr = butterfly[60:89, 30:61]
    np.testing.assert_array_equal(
        Upscaler(model, ensemble=True, tile=9)(lr), Upscaler(model, ensemble=True, tile=0)(lr)
    )


def test_upscale_takes_arrays_pil_images_and_paths(tmp_path, butterfly):
    model = _model(scale=2)
    lr = butterfly[:20, :24]
    path = tmp_path / "lr.png"
    Image.fromarray(lr).save(path)
    expected = upscale(model, lr)
    assert expected.dtype == np.uint8 and expected.shape == (40, 48, 3)
    np.testing.assert_array_equal(upscale(model, Image.fromarray(lr)), expected)
    np.testing.assert_array_equal(upscale(model, path), expected)
    np.testing.assert_array_equal(upscale(model, str(path)), expected)
    assert model.training is False


def test_upscale_restores_training_mode():
    model = _model(scale=2).train()
    upscale(model, np.zeros((4, 4, 3), np.uint8))
    assert model.training


def test_grayscale_and_rgba_inputs_come_out_rgb(tmp_path, butterfly):
    model = _model(scale=2)
    gray = tmp_path / "gray.png"
    Image.fromarray(butterfly[:16, :16, 1]).save(gray)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([butterfly[:16, :16], np.full((16, 16), 7, np.uint8)])).save(rgba)
    out_gray, out_rgba = upscale(model, gray), upscale(model, rgba)
    assert out_gray.shape == out_rgba.shape == (32, 32, 3)
    np.testing.assert_array_equal(out_rgba, upscale(model, butterfly[:16, :16]))
    assert upscale("bicubic", gray, scale=2).shape == (32, 32, 3)


def test_bicubic_is_matlab_imresize():
    from edsr_lite.core.degradation import imresize

    lr = np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5
    np.testing.assert_array_equal(upscale("bicubic", lr, scale=3), imresize(lr, 3))
    with pytest.raises(ValueError, match="needs a scale"):
        upscale("bicubic", lr)


def test_wrong_scales_are_refused_clearly():
    lr = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"EDSR model upscales x2, not x4"):
        upscale(_model(scale=2), lr, scale=4)
    mdsr = _model("mdsr_tiny", scale=None)
    with pytest.raises(ValueError, match=r"x2, x3, x4: pass scale="):
        upscale(mdsr, lr)
    with pytest.raises(ValueError, match=r"not x8"):
        upscale(mdsr, lr, scale=8)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU: use --device cpu"):
        upscale(_model(), np.zeros((4, 4, 3), np.uint8), device="cuda")


def test_computed_pixels_count_the_overlap_as_often_as_it_is_recomputed():
    assert computed_pixels(750, 1000, 0, 36) == 750 * 1000  # the whole image once
    assert computed_pixels(750, 1000, 1000, 36) == 750 * 1000  # one tile covers it
    # 2 x 2 tiles: cores of rows 0-500, 500-750 and columns 0-500, 500-1000, each widened by
    # 36 on its inner side: rows 536 + 286, columns 536 + 536
    assert computed_pixels(750, 1000, 500, 36) == (536 + 286) * (536 + 536)


# --------------------------------------------------------------------------- the options


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"tile": -1}, r"^tile must be a whole number of LR pixels, 1 or more"),
        ({"tile": 2.5}, r"^tile must be"),
        ({"overlap": -2}, r"^overlap must be a whole number of LR pixels, 0 or more"),
        ({"max_memory_mb": 0}, r"^max_memory_mb must be a number of megabytes above 0"),
        ({"max_memory_mb": float("nan")}, r"^max_memory_mb must be"),
        ({"precision": "fp16"}, r"^precision must be one of fp32, bf16, got 'fp16'$"),
        ({"backend": "onnx"}, r"^backend must be one of auto, torch, openvino, got 'onnx'$"),
        ({"device": "gpu"}, r"^device must be 'cpu' or 'cuda', got 'gpu'$"),
        ({"ensemble": "yes"}, r"^ensemble must be True or False, got 'yes'$"),
    ],
)
def test_the_options_refuse_each_bad_choice_in_one_plain_line(choice, message):
    for make in (
        lambda: InferenceOptions(**choice),
        lambda: Upscaler(_model(), **choice),
        lambda: upscale(_model(), np.zeros((4, 4, 3), np.uint8), **choice),
    ):
        with pytest.raises(ValueError, match=message) as caught:
            make()
        assert "\n" not in str(caught.value)


def test_the_options_are_resolved_once_and_frozen(monkeypatch):
    import dataclasses

    import edsr_lite.backends as backends

    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    options = InferenceOptions(backend="auto", device="cpu", tile=64)
    assert options.device == torch.device("cpu") and options.backend == "torch"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.tile = 0  # type: ignore[misc]
    assert dataclasses.replace(options, tile=0) == InferenceOptions(tile=0, backend="torch")
    upscaler = Upscaler(_model(), options=options)
    assert upscaler.options is options


def test_bf16_where_it_would_be_slow_is_fp32_with_a_warning(monkeypatch):
    import edsr_lite.infer as infer
    from edsr_lite.precision import Bf16UnavailableWarning

    monkeypatch.setattr(infer, "bf16_available", lambda device="cpu": False)
    with pytest.warns(Bf16UnavailableWarning, match="no native bfloat16") as caught:
        options = InferenceOptions(precision="bf16")
    assert options.precision == "fp32"
    assert caught[0].filename == __file__  # it points at the caller, not at infer.py
    monkeypatch.setattr(infer, "bf16_available", lambda device="cpu": True)
    assert InferenceOptions(precision="bf16").precision == "bf16"


def test_the_choices_are_keywords_never_positionals():
    model, lr = _model(), np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError):
        Upscaler(model, True)  # ensemble? tile? a positional says neither
    with pytest.raises(TypeError):
        Upscaler(model, False, 0, None, 4096, "cpu", False, "fp32", "torch")
    with pytest.raises(TypeError):
        upscale(model, lr, 2, 0)
    with pytest.raises(TypeError):
        Upscaler(model, options=InferenceOptions(), tile=0)  # one or the other
    with pytest.raises(TypeError):
        Upscaler(model, options={"tile": 0})
    with pytest.raises(TypeError, match="tiles"):
        Upscaler(model, tiles=0)  # a misspelt choice is not ignored
    np.testing.assert_array_equal(
        Upscaler(model, options=InferenceOptions(tile=0))(lr), Upscaler(model, tile=0)(lr)
    )

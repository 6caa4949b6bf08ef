"""Inference: receptive radius, tiled == untiled, self-ensemble on batches, upscale() inputs."""

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
from edsr_lite.infer import (
    Upscaler,
    auto_tile,
    bytes_per_lr_pixel,
    choose_tile,
    even_tile,
    upscale,
)
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


def test_automatic_tiles_fit_the_budget_for_a_12_megapixel_photo():
    model = build("edsr_baseline", 4)
    overlap = receptive_radius(model)
    tile = auto_tile(model, 4, overlap, max_memory_mb=2048)
    side = tile + 2 * overlap
    assert bytes_per_lr_pixel(model, 4) * side**2 <= 2048 * 2**20
    assert tile >= 64  # big enough to keep the overlap overhead modest
    assert len(tile_grid(3000, 4000, tile, overlap)) < 1000
    with pytest.raises(ValueError, match="too small for this model"):
        auto_tile(model, 4, overlap, max_memory_mb=1)


def _computed(h, w, tile, overlap):
    """(tiles, LR pixels computed, largest tile's pixels) of the grid."""
    areas = [(r.stop - r.start) * (c.stop - c.start) for r, c, *_ in tile_grid(h, w, tile, overlap)]
    return len(areas), sum(areas), max(areas)


def test_the_automatic_tile_is_the_largest_that_fits_evened_out():
    # The rule (not its timings): larger tiles are faster (less overlap to recompute, fewer
    # tiles), so the whole image when it fits, else the largest tile that fits the budget,
    # then evened out: as many tiles, none thin, less memory, about as many pixels.
    model = build("edsr_baseline", 2)
    overlap = receptive_radius(model)
    assert choose_tile(model, 2, (1, 300, 400), 2048) >= 400  # fits: one tile
    h, w = 750, 1000
    # A 1000 x 750 photo at x2 needs ~3 GB whole: one tile at the default 4096 MB budget,
    # though a square tile of that budget (with its overlap) would be narrower than the image.
    assert choose_tile(model, 2, (1, h, w), 4096) == w
    assert auto_tile(model, 2, overlap, 4096, fixed_mb=(h * w * 30) / 2**20 + 100) < w
    assert choose_tile(model, 2, (1, h, w), 2048) < w
    budgets = [300, 500, 800, 1200]
    tiles = [choose_tile(model, 2, (1, h, w), mb) for mb in budgets]
    assert tiles == sorted(tiles) and all(t < w for t in tiles)  # a bigger budget, bigger tiles
    for mb, tile in zip(budgets, tiles, strict=True):
        largest = auto_tile(model, 2, overlap, mb, fixed_mb=(h * w * 30) / 2**20 + 100)
        assert tile == even_tile(h, w, largest) <= largest
        count, pixels, peak = _computed(h, w, tile, overlap)
        before = _computed(h, w, largest, overlap)
        assert count == before[0] and pixels <= 1.05 * before[1] and peak <= before[2]
    assert even_tile(750, 1000, 584) == 500  # 2 x 2 tiles of 500 x 375, not 584 + 416 wide
    assert even_tile(750, 1000, 2000) == 2000


def test_computed_pixels_count_the_overlap_as_often_as_it_is_recomputed():
    assert computed_pixels(750, 1000, 0, 36) == 750 * 1000  # the whole image once
    assert computed_pixels(750, 1000, 1000, 36) == 750 * 1000  # one tile covers it
    # 2 x 2 tiles: cores of rows 0-500, 500-750 and columns 0-500, 500-1000, each widened by
    # 36 on its inner side: rows 536 + 286, columns 536 + 536
    assert computed_pixels(750, 1000, 500, 36) == (536 + 286) * (536 + 536)

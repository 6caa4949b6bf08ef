"""edsr_lite.memory_budget: how big a tile fits the memory budget (the estimate; the measured
peak is checked by tests/test_upscale_bad_input.py and tests/test_memory.py)."""

import pytest

from edsr_lite.core.forward import receptive_radius, tile_grid
from edsr_lite.core.models import build
from edsr_lite.memory_budget import auto_tile, bytes_per_lr_pixel, choose_tile, even_tile


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

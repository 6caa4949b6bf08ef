"""edsr_lite.course.memory: a tiled upscale's memory in a fresh process, a process's peak."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edsr_lite.core.models import build
from edsr_lite.course import benchmark, memory


def test_tiled_upscale_same_pixels_less_memory():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2).eval()
    image = benchmark.mosaic("B100", 1, 1)
    whole = memory.measure_upscale_memory(model, image, tile=0)
    # 100 MB of the budget go to the images and working space, the rest to the tiles
    tiled = memory.measure_upscale_memory(model, image, tile=None, max_memory_mb=140)
    assert whole.n_tiles == 1 and tiled.n_tiles > 1 and tiled.tile > 0
    assert np.array_equal(whole.output, tiled.output)
    assert whole.output.shape == (640, 960, 3)
    assert tiled.allocated_mb < 0.5 * whole.allocated_mb
    assert tiled.allocated_mb <= tiled.estimate_mb  # the budget's estimate is conservative
    assert whole.peak_rss_mb > 0 and tiled.seconds > 0
    table = memory.upscale_memory_table([whole, tiled])
    assert table.splitlines()[-1].endswith("| 0 |")  # no output value differs


def test_upscale_memory_is_the_child_process_own_not_its_parent_peak():
    """A big notebook kernel must not make a small upscale look big (Linux carries the peak
    RSS across fork and exec)."""
    ballast = torch.ones(256 * 2**20)  # 1 GiB held by this (the parent) process
    image = benchmark.mosaic("Set5", 1, 1)[:64, :64]
    measured = memory.measure_upscale_memory(build("edsr_tiny", 2).eval(), image, tile=0)
    assert ballast.sum() > 0
    assert 0 < measured.peak_rss_mb < 200


def test_upscale_memory_without_the_profiler_pass():
    """What benchmarks/bench_infer.py uses on large images: time and peak RSS only."""
    image = benchmark.mosaic("Set5", 1, 1)[:64, :64]
    model = build("edsr_tiny", 2).eval()
    measured = memory.measure_upscale_memory(model, image, tile=0, profile=False)
    assert measured.allocated_mb is None and measured.peak_rss_mb > 0
    assert measured.output.shape == (128, 128, 3)
    assert "| 1 | " in memory.upscale_memory_table([measured])  # one tile, allocation "-"
    assert memory.upscale_memory_table([measured]).splitlines()[-1].count("| - |") == 2


def test_peak_rss_restarts_where_the_os_allows():
    ballast = torch.ones(128 * 2**20)  # 512 MiB
    ballast.add_(1)
    del ballast
    high = memory.peak_rss_mb()
    if not memory.reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs here")
    assert memory.peak_rss_mb() < high - 400

"""edsr_lite.course.benchmark (notebook 05): the protocol taken apart, the paper's tables, EDSR+."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edsr_lite.core.models import build
from edsr_lite.core.published import PAPER_BICUBIC, PAPER_EDSR, PAPER_EDSR_PLUS
from edsr_lite.course import benchmark
from edsr_lite.course.memory import UpscaleMemory
from edsr_lite.evaluation import bicubic_sr, evaluate
from edsr_lite.infer import Upscaler


def test_paper_tables():
    assert set(PAPER_EDSR) == set(PAPER_BICUBIC)
    for key, (p, s) in PAPER_EDSR.items():
        assert p > PAPER_BICUBIC[key][0] + 1.5 and s > PAPER_BICUBIC[key][1]
    for key, (p, s) in PAPER_EDSR_PLUS.items():
        assert p > PAPER_EDSR[key][0] and s > PAPER_EDSR[key][1]
    assert all(0 < g < 0.2 for g in benchmark.paper_ensemble_gain().values())


def test_protocol_variants_bicubic():
    (row,) = benchmark.protocol_variants({"bicubic": bicubic_sr}, "Set5", scale=2)
    (reference,) = evaluate("bicubic", ("Set5",), (2,))
    assert row[benchmark.Y_SHAVED] == pytest.approx(reference["psnr"])
    assert row[benchmark.RGB_SHAVED] < row[benchmark.Y_SHAVED] - 1
    assert all("_" not in column for column in row)  # words for a reader, not identifiers


def test_an_upscaler_works_with_protocol_variants():
    torch.manual_seed(0)
    fn = Upscaler(build("edsr_tiny", 2))
    rows = benchmark.protocol_variants({"net": fn, "bicubic": bicubic_sr}, "Set5", scale=2)
    assert [r["method"] for r in rows] == ["net", "bicubic"]


def test_pil_bicubic_differs_from_matlab():
    diff = benchmark.lr_difference("Set5", scale=2)
    assert 0.05 < diff["values_differ"] < 0.5 and diff["max_abs_diff"] >= 5
    (row,) = benchmark.pil_vs_matlab({"bicubic": bicubic_sr}, "Set5", scale=2)
    d = benchmark.DIFFERENCE
    assert row[d] == pytest.approx(row[benchmark.PIL_LR] - row[benchmark.MATLAB_LR])
    assert abs(row[d]) < 0.1


def test_gray_bridge_scores_1_32_db_higher_under_protocol_model():
    rows = {r["image"]: r for r in benchmark.gray_image_scores("Set14", scale=2)}
    d = benchmark.DIFFERENCE
    assert rows["bridge"]["stored as"] == "gray" and rows["baboon"]["stored as"] == "RGB"
    assert rows["bridge"][d] == pytest.approx(20 * math.log10(255 / 219), abs=0.05)
    assert rows["mean"][d] == pytest.approx(0.09, abs=0.02)


def test_ensemble_rows_report_the_gain():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2)
    rows = benchmark.ensemble_rows(model, ("Set5",), (2,))
    plain, plus, gain = rows
    assert (plain["method"], plus["method"]) == ("edsr_tiny", "edsr_tiny+")
    assert gain["psnr"] == pytest.approx(plus["psnr"] - plain["psnr"])
    assert plain["psnr"] == pytest.approx(evaluate(model, ("Set5",), (2,))[0]["psnr"])


def test_mosaic_is_a_large_real_image():
    big = benchmark.mosaic("B100", 3, 3)
    assert big.shape == (960, 1440, 3) and big.dtype == np.uint8 and big.std() > 20
    with pytest.raises(ValueError, match="only"):
        benchmark.mosaic("Set5", 3, 3)


def test_deviations_from_a_published_table():
    rows = [
        {"method": "bicubic", "set": "Set5", "scale": 2, "psnr": 33.70},
        {"method": "bicubic", "set": "Set5", "scale": 3, "psnr": 30.36},
        {"method": "bicubic", "set": "Urban100", "scale": 2, "psnr": 26.0},  # not in the table
    ]
    table = {("Set5", 2): (33.66, 0.9), ("Set5", 3): (30.39, 0.9)}
    deltas = benchmark.paper_deltas(rows, table)
    assert list(deltas) == ["bicubic on Set5 x2", "bicubic on Set5 x3"]
    assert deltas["bicubic on Set5 x2"] == pytest.approx(0.04)
    assert benchmark.largest_deviation(rows, table) == (pytest.approx(0.04), 2)


def _run(label, n_tiles, seconds, allocated, peak, estimate, output):
    return UpscaleMemory(label, 0, n_tiles, seconds, allocated, peak, estimate, output)


def test_the_tiling_sentence_picks_its_words_from_the_measurement():
    out = np.zeros((4, 4, 3), np.uint8)
    whole = _run("whole image", 1, 5.1, 900.0, 1000.0, 950.0, out)
    tiled = _run("budget 192 MiB", 6, 4.7, 150.0, 400.0, 180.0, out)
    said = benchmark.tiled_versus_whole(tiled, whole)
    assert "(budget 192 MiB, 6 tiles)" in said and "the same pixels as" in said
    assert "0.4 s less time" in said and "within the budget's estimate" in said
    assert "250 MiB more than PyTorch allocated" in said
    slower = _run("budget 192 MiB", 1, 5.6, 200.0, 200.0, 180.0, out + 1)
    said = benchmark.tiled_versus_whole(slower, whole)
    assert "0.5 s longer" in said and "above the budget's estimate" in said
    assert f"{out.size} output values that differ" in said and "(budget 192 MiB, 1 tile)" in said
    assert "as much as PyTorch allocated" in said

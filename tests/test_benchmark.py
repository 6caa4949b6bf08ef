"""edsr_lite.course.benchmark (notebook 05): the protocol taken apart, the paper's tables, EDSR+."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edsr_lite.course import benchmark
from edsr_lite.evaluation import bicubic_sr, evaluate
from edsr_lite.infer import Upscaler
from edsr_lite.models import build
from edsr_lite.paper import PAPER_BICUBIC, PAPER_EDSR, PAPER_EDSR_PLUS


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
    assert row["y_shave"] == pytest.approx(reference["psnr"])
    assert row["rgb_shave"] < row["y_shave"] - 1


def test_an_upscaler_works_with_protocol_variants():
    torch.manual_seed(0)
    fn = Upscaler(build("edsr_tiny", 2))
    rows = benchmark.protocol_variants({"net": fn, "bicubic": bicubic_sr}, "Set5", scale=2)
    assert [r["method"] for r in rows] == ["net", "bicubic"]


def test_pil_bicubic_differs_from_matlab():
    diff = benchmark.lr_difference("Set5", scale=2)
    assert 0.05 < diff["values_differ"] < 0.5 and diff["max_abs_diff"] >= 5
    (row,) = benchmark.pil_vs_matlab({"bicubic": bicubic_sr}, "Set5", scale=2)
    assert row["difference"] == pytest.approx(row["pil_lr"] - row["matlab_lr"])
    assert abs(row["difference"]) < 0.1


def test_gray_bridge_scores_1_32_db_higher_under_protocol_model():
    rows = {r["image"]: r for r in benchmark.gray_image_scores("Set14", scale=2)}
    assert rows["bridge"]["gray"] == 1 and rows["baboon"]["gray"] == 0
    assert rows["bridge"]["difference"] == pytest.approx(20 * math.log10(255 / 219), abs=0.05)
    assert rows["mean"]["difference"] == pytest.approx(0.09, abs=0.02)


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

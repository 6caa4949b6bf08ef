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


def _scores(kept_minus_shaved: list[float]) -> np.ndarray:
    """Per-image rows (Y shaved, RGB shaved, Y kept) with the given border effect."""
    shaved = np.array([30.0, 31.0, 32.0, 33.0, 34.0])
    return np.stack([shaved, shaved - 1, shaved + np.asarray(kept_minus_shaved)], axis=1)


def test_protocol_scores_are_per_image_and_average_to_the_table():
    scores = benchmark.protocol_scores({"bicubic": bicubic_sr}, "Set5", scale=2)
    assert scores["bicubic"].shape == (5, 3)
    (row,) = benchmark.variant_rows(scores)
    assert row[benchmark.Y_BORDER_KEPT] == pytest.approx(scores["bicubic"][:, 2].mean())


def test_the_border_sentence_judges_each_method_by_its_per_image_noise():
    same = {"a": _scores([0.01, -0.01, 0.02, 0.0, -0.02]), "b": _scores([0.0] * 5)}
    said = benchmark.border_sentence(same)
    assert "Keeping the border moves a's score by +0.00 dB (within its noise" in said
    assert "pay the same within noise" in said
    apart = {
        "a": _scores([0.01, 0.0, 0.01, 0.0, 0.01]),
        "b": _scores([-0.5, -0.6, -0.4, -0.5, -0.5]),
    }
    said = benchmark.border_sentence(apart)
    assert "b's score by -0.50 dB (beyond its noise" in said
    assert "costs a and b different amounts" in said


def test_the_pil_sentence_says_within_noise_when_the_pairs_disagree():
    noisy = {"net": np.array([[30.0, 30.1], [31.0, 30.9], [32.0, 32.05], [33.0, 32.96]])}
    assert "scores the same as on MATLAB's within noise" in benchmark.pil_sentence(noisy)
    lower = {"net": np.array([[30.0, 29.9], [31.0, 30.91], [32.0, 31.89], [33.0, 32.9]])}
    said = benchmark.pil_sentence(lower)
    assert "scores 0.100 dB lower than on MATLAB's, beyond its noise" in said
    (row,) = benchmark.pil_rows(lower)
    assert row[benchmark.DIFFERENCE] == pytest.approx(-0.1)


def test_the_ensemble_gain_is_paired_over_the_same_images():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2)
    rows = benchmark.ensemble_scores(model, ("Set5",), scale=2)
    assert [r["image"] for r in rows] == ["baby", "bird", "butterfly", "head", "woman"]
    plain = np.mean([r["plain"] for r in rows])
    assert plain == pytest.approx(evaluate(model, ("Set5",), (2,))[0]["psnr"])
    effect = benchmark.ensemble_effect(rows)
    assert effect.value == pytest.approx(np.mean([r["plus"] - r["plain"] for r in rows]))
    assert effect.how == "5 images" and effect.noise > 0
    (row,) = benchmark.ensemble_table(rows, "edsr_tiny")
    assert row["set"] == "Set5 (5 images)" and row["gain (dB)"] == pytest.approx(effect.value)
    assert row["paper's gain, EDSR (dB)"] == benchmark.paper_ensemble_gain()[("Set5", 2)]


def test_the_bicubic_table_gives_both_protocols_per_set_and_scale():
    rows = benchmark.bicubic_table(("Set5",), (2, 3))
    assert [(r["protocol"], r["scale"]) for r in rows] == [
        ("paper_bicubic", 2),
        ("paper_bicubic", 3),
        ("model", 2),
        ("model", 3),
    ]
    assert rows[0]["psnr"] == pytest.approx(PAPER_BICUBIC[("Set5", 2)][0], abs=0.01)

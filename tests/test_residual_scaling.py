"""edsr_lite.course.residual_scaling (notebook 02): growth with depth, an unstable run, folding."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edsr_lite.course import residual_scaling
from edsr_lite.course import runs as ex
from edsr_lite.train import TrainLog


def test_predicted_growth():
    assert residual_scaling.predicted_growth(32, 1.0) == pytest.approx(2.375, abs=0.01)
    assert residual_scaling.predicted_growth(32, 0.1) == pytest.approx(1.0089, abs=1e-3)
    assert residual_scaling.predicted_growth(0, 1.0) == 1


def test_depth_profile_shows_growth_without_scaling(patches):
    lr, hr = patches
    unscaled, scaled = (
        residual_scaling.depth_profile(residual_scaling.wide_stack(12, 32, rs), lr, hr)
        for rs in (1, 0.1)
    )
    assert len(unscaled.activation_std) == len(unscaled.grad_rms) == 12
    assert unscaled.activation_growth > 1.15 and unscaled.gradient_growth > 1.15
    assert abs(scaled.activation_growth - 1) < 0.05 and abs(scaled.gradient_growth - 1) < 0.05
    assert unscaled.activation_growth == pytest.approx(
        residual_scaling.predicted_growth(12, 1), rel=0.2
    )
    assert np.all(scaled.branch_std < 0.2 * unscaled.branch_std)
    assert np.all(scaled.weight_grad_norm < unscaled.weight_grad_norm)


def test_fold_check_identical_outputs(patches):
    model = residual_scaling.wide_stack(4, 16, 0.1).train()
    check = residual_scaling.fold_check(model, patches[0])
    assert check["max_abs_diff"] < 1e-3 and check["pixels_changed"] == 0
    assert model.training  # the mode is given back


def test_instability_run_records_every_step():
    trace = residual_scaling.instability_run(0.1, n_resblocks=2, n_feats=16, steps=3, patch_size=12)
    assert len(trace.loss) == len(trace.grad_norm) == 3 and trace.diverged_at is None
    assert all(math.isfinite(x) and x > 0 for x in trace.loss + trace.grad_norm)
    summary = trace.summary()
    assert summary["start"] == trace.loss[0] and summary["peak"] == max(trace.loss)
    assert trace.model is not None and not trace.model.training
    assert "res_scale 0.1" in residual_scaling.runs_table([trace])


@pytest.mark.slow
def test_unscaled_wide_stack_is_unstable_where_the_scaled_one_trains():
    """The notebook's live run, shortened: the unscaled loss explodes, the scaled one does not."""
    unscaled, scaled = (residual_scaling.instability_run(rs, steps=15) for rs in (1.0, 0.1))
    u, s = unscaled.summary(), scaled.summary()
    assert u["peak"] > 20 * s["peak"]
    assert u["final"] > 5 * s["final"]
    assert u["max_grad_norm"] > 20 * s["max_grad_norm"]


def test_stability_report_gives_peaks_recent_medians_and_the_validation_set(tmp_path):
    assert "not in this checkout yet" in residual_scaling.stability_report(
        residual_scaling.RES_SCALE_PAIR, {}
    )
    run = tmp_path / residual_scaling.RES_SCALE_PAIR["res_scale 1"]
    run.mkdir()
    losses = [20.0, 122.0, 50.0, 9.0, 8.0, 7.0]
    rows = [f"{i + 1},2,{v},{10 * v},1e-4,{i}," for i, v in enumerate(losses)]
    (run / "log.csv").write_text(
        "step,scale,loss,grad_norm,lr,seconds,psnr\n0,,,,,0,12.5\n" + "\n".join(rows) + "31.25\n"
    )
    (run / "run.json").write_text(json.dumps({"metrics": {"Set5[:2]": {"x2": 31.25}, "step": 6}}))
    report = residual_scaling.stability_report(
        residual_scaling.RES_SCALE_PAIR,
        ex.shipped_logs(residual_scaling.RES_SCALE_PAIR, tmp_path),
        3,
    )
    unscaled, scaled = report.splitlines()
    assert unscaled == (
        "res_scale 1: loss peak 122 at step 2, median of the last 3 steps 8; "
        "gradient norm peak 1.22e+03 at step 2, median of the last 3 steps 80; "
        "2 Set5 images 31.25 dB at step 6"
    )
    assert scaled == "res_scale 0.1: no log shipped"


def _trace(losses, diverged_at=None):
    return residual_scaling.RunTrace(
        "res_scale 1", 1.0, 2e-3, list(losses), [1.0] * len(losses), 1.0, diverged_at
    )


def test_instability_runs_pairs_the_scales_seed_by_seed():
    runs = residual_scaling.instability_runs(
        (1.0, 0.1), (0, 1), n_resblocks=1, n_feats=8, steps=2, patch_size=12, batch_size=2
    )
    assert list(runs) == [1.0, 0.1]
    assert [t.label for t in runs[1.0]] == ["res_scale 1, seed 0", "res_scale 1, seed 1"]
    # a seed's two runs see the same patches from the same weights up to the scale: their
    # first losses are close; two seeds see different patches
    assert runs[1.0][0].loss[0] == pytest.approx(runs[0.1][0].loss[0], rel=0.1)
    assert runs[1.0][0].loss[0] != runs[1.0][1].loss[0]


def test_loss_effect_compares_orders_of_magnitude_against_the_seed_spread():
    blown = [_trace([70.0, 3e5, 2e4, 2e4]), _trace([65.0, 1e5, 5e3, 8e3])]
    calm = [_trace([70.0, 90.0, 40.0, 35.0]), _trace([66.0, 80.0, 38.0, 36.0])]
    peak = residual_scaling.loss_effect(blown, calm, "peak")
    assert peak.value == pytest.approx(np.mean(np.log10([3e5, 1e5])) - np.mean(np.log10([90, 80])))
    assert peak.unit == "orders of magnitude" and peak.verdict == "shown here"
    assert residual_scaling.loss_effect(calm, blown, "final", tail=2).verdict == "not shown here"
    # one seed cannot tell its spread: within noise, whichever way it points
    assert residual_scaling.loss_effect(blown[:1], calm[:1]).verdict == "within noise"
    with pytest.raises(ValueError):
        residual_scaling.loss_effect(blown, calm, "start")


def test_times_and_geometric_mean_say_ratios_in_words():
    assert residual_scaling.times(3.0) == "1,000 times higher"
    assert residual_scaling.times(math.log10(3.2)) == "3.2 times higher"
    assert residual_scaling.times(-1.5) == "32 times lower"
    assert residual_scaling.times(0.01) == "as high"
    traces = [_trace([10.0, 1000.0]), _trace([10.0, 10.0])]
    assert residual_scaling.geometric_mean(traces, "peak") == pytest.approx(100.0)


def test_shipped_effect_needs_enough_validations_to_judge():
    few = residual_scaling.shipped_effect(
        _summary({0: 12.0, 200: 35.7, 400: 37.9}), _summary({0: 12.0, 200: 37.4, 400: 38.0})
    )
    assert few.value == pytest.approx(0.1) and few.verdict == "within noise"  # 2 points: no jitter
    steady = {s: 30.0 + s / 100 + 0.01 * (-1) ** (s // 100) for s in range(100, 900, 100)}
    better = residual_scaling.shipped_effect(
        _summary(steady), _summary({s: v + 1 for s, v in steady.items()})
    )
    assert better.value == pytest.approx(1.0) and better.verdict == "shown here"
    assert residual_scaling.shipped_effect(_summary({0: 12.0}), _summary({0: 12.0})) is None


def test_verdicts_and_words_come_from_the_losses():
    exploded = _trace([70.0, 3e5, 2e4, 2e4])
    assert residual_scaling.unstable(exploded) and not residual_scaling.trained(exploded)
    assert exploded.summary()["peak_step"] == 2
    assert residual_scaling.describe_trace(exploded, tail=2) == (
        "the loss went from 70 at step 1 to a peak of 3e+05 at step 2 and ended at 2e+04 "
        "(median of the last 2 steps), above where it started"
    )
    fell = _trace([70.0, 360.0, 40.0, 35.0])
    assert residual_scaling.trained(fell)
    assert residual_scaling.describe_trace(fell, tail=2).endswith("below where it started")
    nan = _trace([70.0, 80.0, math.nan], diverged_at=3)
    assert residual_scaling.unstable(nan)
    assert residual_scaling.describe_trace(nan).endswith("then to NaN at step 3")


def test_preset_scales_names_the_edsr_presets_in_words():
    rows = {r["preset"]: r for r in residual_scaling.preset_scales()}
    assert rows["edsr"] == {
        "preset": "edsr",
        "blocks": 32,
        "features": 256,
        "residual scale": "0.1",
    }
    assert rows["edsr_baseline"]["residual scale"] == "1" and "mdsr" not in rows


def _summary(psnr):
    return residual_scaling.LogSummary(
        (1.0, 1), (1.0, 1), 1.0, 50, psnr, "Set5[:2]", 400, 4, 24, 49.0, 2
    )


def test_recovery_says_what_the_validations_show():
    def story(unscaled, scaled):
        return residual_scaling.recovery(_summary(unscaled), _summary(scaled))

    assert "had caught up by step 400" in story(
        {0: 12, 200: 35.7, 400: 37.9}, {200: 37.4, 400: 37.3}
    )
    assert "had not caught up in 400 steps" in story({200: 35.7, 400: 37.0}, {200: 37.4, 400: 37.3})
    assert "cost nothing" in story({200: 37.5, 400: 37.9}, {200: 37.4, 400: 37.3})
    assert story({0: 12.0}, {0: 12.0}) == ""


def test_summarize_log_reads_peaks_validations_and_the_budget():
    rows = [{"step": 0, "psnr": 12.5}]
    rows += [
        {"step": s, "loss": v, "grad_norm": 10 * v} for s, v in ((1, 70.0), (2, 122.0), (3, 8.0))
    ]
    rows += [{"step": 4, "loss": 7.0, "grad_norm": 70.0, "psnr": 31.25}]
    info = {
        "step": 4,
        "seconds": 120.0,
        "train_config": {"batch_size": 4, "patch_size": 24},
        "machine": {"cpu_cores": 2},
        "metrics": {"Set5[:2]": {"x2": 31.25}, "step": 4},
    }
    summary = residual_scaling.summarize_log(TrainLog(rows, info), tail=2)
    assert summary.loss_peak == (122.0, 2) and summary.grad_peak == (1220.0, 2)
    assert summary.loss_tail == 7.5 and summary.psnr == {0: 12.5, 4: 31.25}
    assert (summary.steps, summary.batch_size, summary.patch_size) == (4, 4, 24)
    assert summary.minutes == 2.0 and summary.cores == 2 and summary.validated_on == "2 Set5 images"

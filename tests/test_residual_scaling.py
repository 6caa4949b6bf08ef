"""edsr_lite.course.residual_scaling (notebook 02): growth with depth, an unstable run, folding."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edsr_lite.course import residual_scaling
from edsr_lite.course import runs as ex


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
        "Set5[:2] 31.25 dB at step 6"
    )
    assert scaled == "res_scale 0.1: no log shipped"

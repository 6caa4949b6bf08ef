"""edsr_lite.experiments, figures and settings: the measurements the notebooks show.

Small models and real patches keep each test to seconds; the claims the notebooks make are
asserted here at that size (e.g. an EDSR block keeps 2 feature maps, a BN block 4).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from edsr_lite import experiments as ex
from edsr_lite import figures
from edsr_lite.metrics import PAPER_BICUBIC, bicubic_sr, evaluate, model_to_fn
from edsr_lite.models import ResBlock, build
from edsr_lite.settings import ENV_VAR, choose, describe_mode, fast_mode
from edsr_lite.train import TrainConfig, TrainLog

# ------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("value", "fast"),
    [(None, False), ("", False), ("0", False), ("false", False), ("1", True), ("YES", True)],
)
def test_fast_mode_reads_the_environment(monkeypatch, value, fast):
    if value is None:
        monkeypatch.delenv(ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(ENV_VAR, value)
    assert fast_mode() is fast
    assert choose(fast="small", full="big") == ("small" if fast else "big")
    assert describe_mode().startswith("FAST mode" if fast else "full mode")


def test_a_misspelt_fast_mode_is_an_error(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fats")
    with pytest.raises(ValueError, match=ENV_VAR):
        fast_mode()


# ------------------------------------------------------------------------------- BN removal


@pytest.fixture(scope="module")
def patches():
    """Two real x2 T91 patches: LR 2 x 3 x 16 x 16, HR 2 x 3 x 32 x 32."""
    return ex.real_batch(2, 16, scale=2)


def test_real_batch_is_real_and_reproducible(patches):
    lr, hr = patches
    assert lr.shape == (2, 3, 16, 16) and hr.shape == (2, 3, 32, 32)
    assert lr.min() >= 0 and lr.max() <= 255 and lr.std() > 5  # an image, not a flat patch
    assert torch.equal(ex.real_batch(2, 16, scale=2)[0], lr)


@pytest.mark.parametrize(
    ("block", "maps"), [("EDSR (no BN)", 2), ("SRResNet, BN-ReLU", 4), ("SRResNet, BN-PReLU", 5)]
)
def test_feature_maps_saved_per_block(block, maps):
    x = torch.rand(2, 8, 12, 12) * 50
    assert ex.count_saved_maps(ex.block_variants(8)[block], x) == maps


def test_saved_tensors_skip_parameters_and_see_shared_memory():
    block = ResBlock(8).train()
    saved = ex.saved_tensors(block, torch.rand(1, 8, 6, 6))
    assert all(s.shape == (1, 8, 6, 6) for s in saved)  # no weight is listed
    # conv2 reads the in-place ReLU's output: the same memory, saved a second time
    assert [(s.layer, s.new) for s in saved] == [
        ("body.0", True),
        ("body.1", True),
        ("body.2", False),
    ]


def test_saved_maps_table_rows():
    rows = ex.saved_maps_table(n_feats=16, batch_size=2, patch_size=16)
    assert [r["maps"] for r in rows] == [2, 4, 5]
    assert rows[0]["saved_mb"] < rows[1]["saved_mb"] < rows[2]["saved_mb"]
    assert "ReLU" in rows[0]["layers"] and "PReLU" in rows[2]["layers"]


def test_removing_bn_saves_activation_memory(patches):
    lr, hr = patches
    plain = ex.saved_activation_bytes(build("edsr_tiny", 2), lr, hr)
    with_bn = ex.saved_activation_bytes(build("edsr_tiny", 2, bn=True), lr, hr)
    # 2 maps per block instead of 4; the head, tail and loss do not shrink
    assert 0.35 < 1 - plain / with_bn < 0.5


@pytest.fixture(scope="module")
def step_memories():
    return [
        ex.measure_step_memory(build("edsr_tiny", 2, bn=bn), 2, 16, label=name)
        for name, bn in (("BN", True), ("no BN", False))
    ]


def test_step_memory_timeline(step_memories):
    with_bn, plain = step_memories
    for m in step_memories:
        assert m.bytes_by_category.shape == (len(m.times_ms), len(ex.MEMORY_CATEGORIES))
        assert np.all(np.diff(m.times_ms) >= 0) and m.times_ms[0] == 0
        at_peak = m.at_peak()
        assert sum(at_peak.values()) == m.peak_bytes
        assert at_peak["parameter"] > 0 and at_peak["optimizer state"] > 0  # Adam: 2 per weight
        assert at_peak["activation"] >= 0.8 * m.saved_bytes
    assert plain.peak_bytes < with_bn.peak_bytes
    assert plain.at_peak()["activation"] < 0.6 * with_bn.at_peak()["activation"]
    table = ex.memory_summary(step_memories)
    assert "no BN vs BN" in table and "% less" in table


def test_time_train_steps_interleaves_and_reports_each_model():
    models = {"a": build("edsr_tiny", 2), "b": build("edsr_tiny", 2, bn=True)}
    seconds = ex.time_train_steps(models, batch_size=2, patch_size=16, steps=1, warmup=1)
    assert set(seconds) == {"a", "b"} and all(s > 0 for s in seconds.values())


def test_bn_makes_outputs_depend_on_the_batch_and_mode():
    crops = ex.lr_crops("Set5", scale=2, size=24)
    assert len(crops) == 5 and crops[0].shape == (24, 24, 3) and crops[0].dtype == np.uint8
    torch.manual_seed(0)
    with_bn = build("edsr_tiny", 2, bn=True).eval()
    before = [b.clone() for b in with_bn.buffers()]
    d = ex.bn_batch_dependence(with_bn, crops)
    assert d["train_alone_vs_in_batch"] > 0.01 and d["train_vs_eval"] > 0.01
    assert d["eval_alone_vs_in_batch"] < 1e-3
    assert all(torch.equal(a, b) for a, b in zip(before, with_bn.buffers(), strict=True))
    plain = ex.bn_batch_dependence(build("edsr_tiny", 2).eval(), crops)
    assert max(plain.values()) < 1e-3


def test_bn_normalizes_the_range_away():
    rows = ex.bn_range_demo(ex.lr_crops("Set5", 2, 48)[0], contrasts=(0.25, 1.0, 2.0))
    conv = [r["conv_std"] for r in rows]
    assert conv[2] / conv[0] == pytest.approx(8, rel=1e-3)  # features follow the contrast
    assert all(r["conv_bn_std"] == pytest.approx(1, abs=0.01) for r in rows)  # BN: always 1


def test_train_briefly_keeps_the_log_and_removes_the_folder():
    config = TrainConfig(preset="edsr_tiny", max_steps=2, batch_size=2, val_every=2, val_images=1)
    result = ex.train_briefly(config)
    assert result.step == 2 and not result.out_dir.exists()
    assert result.log.series("psnr")[0] == [0, 2]
    assert ex.final_psnr(result.log)[0] == 2


def test_shipped_logs_found_when_present(tmp_path):
    assert ex.shipped_logs(ex.BN_PAIR, root=tmp_path) == {}
    assert "not in this checkout yet" in ex.shipped_report(ex.BN_PAIR, {})
    run = tmp_path / ex.BN_PAIR["EDSR block (no BN)"]
    run.mkdir()
    (run / "log.csv").write_text(
        "step,scale,loss,lr,seconds,psnr\n0,2,,,0,30.5\n10,2,9.1,1e-4,5,33.25\n"
    )
    logs = ex.shipped_logs(ex.BN_PAIR, root=tmp_path)
    assert list(logs) == ["EDSR block (no BN)"] and isinstance(logs["EDSR block (no BN)"], TrainLog)
    report = ex.shipped_report(ex.BN_PAIR, logs)
    assert "33.25 dB at step 10" in report and "no log shipped" in report


def test_shipped_logs_compared_at_the_same_budget(tmp_path):
    for name, last in (("edsr_baseline_x2", 20), ("edsr_baseline_bn_x2", 10)):
        (tmp_path / name).mkdir()
        rows = [f"{step},2,1.0,1e-4,{step},{30 + step / 10}" for step in range(0, last + 1, 5)]
        (tmp_path / name / "log.csv").write_text(
            "step,scale,loss,lr,seconds,psnr\n" + "\n".join(rows)
        )
    logs = ex.shipped_logs(ex.BN_PAIR, root=tmp_path, same_budget=True)
    assert {label: ex.final_psnr(log) for label, log in logs.items()} == {
        "EDSR block (no BN)": (10, 31.0),
        "SRResNet block (BN)": (10, 31.0),
    }
    whole = ex.shipped_logs(ex.BN_PAIR, root=tmp_path)
    assert ex.final_psnr(whole["EDSR block (no BN)"]) == (20, 32.0)


def test_shipped_claim_compares_the_pair_once_both_have_shipped(tmp_path):
    assert ex.shipped_claim(ex.BN_PAIR, {}) == "- (not shipped yet)"
    for name, last in (("edsr_baseline_x2", 20), ("edsr_baseline_bn_x2", 10)):
        (tmp_path / name).mkdir()
        rows = [
            f"{step},2,1.0,1e-4,{step},{30 + step / 8 if 'bn' in name else 31 + step / 8}"
            for step in range(0, last + 1, 5)
        ]
        (tmp_path / name / "log.csv").write_text(
            "step,scale,loss,lr,seconds,psnr\n" + "\n".join(rows)
        )
        if name == "edsr_baseline_x2":  # only one run of the pair shipped so far
            one = ex.shipped_logs(ex.BN_PAIR, root=tmp_path)
            assert ex.shipped_claim(ex.BN_PAIR, one) == "- (not shipped yet)"
    same = ex.shipped_logs(ex.BN_PAIR, root=tmp_path, same_budget=True)
    assert ex.shipped_claim(ex.BN_PAIR, same) == (
        "EDSR block (no BN): 32.25 dB vs SRResNet block (BN): 31.25 dB at step 10"
    )
    whole = ex.shipped_logs(ex.BN_PAIR, root=tmp_path)
    assert ex.shipped_claim(ex.BN_PAIR, whole) == (
        "EDSR block (no BN): 33.50 dB at step 20 vs SRResNet block (BN): 31.25 dB at step 10"
    )


def test_stability_report_gives_peaks_recent_medians_and_the_validation_set(tmp_path):
    assert "not in this checkout yet" in ex.stability_report(ex.RES_SCALE_PAIR, {})
    run = tmp_path / ex.RES_SCALE_PAIR["res_scale 1"]
    run.mkdir()
    losses = [20.0, 122.0, 50.0, 9.0, 8.0, 7.0]
    rows = [f"{i + 1},2,{v},{10 * v},1e-4,{i}," for i, v in enumerate(losses)]
    (run / "log.csv").write_text(
        "step,scale,loss,grad_norm,lr,seconds,psnr\n0,,,,,0,12.5\n" + "\n".join(rows) + "31.25\n"
    )
    (run / "run.json").write_text(json.dumps({"metrics": {"Set5[:2]": {"x2": 31.25}, "step": 6}}))
    report = ex.stability_report(ex.RES_SCALE_PAIR, ex.shipped_logs(ex.RES_SCALE_PAIR, tmp_path), 3)
    unscaled, scaled = report.splitlines()
    assert unscaled == (
        "res_scale 1: loss peak 122 at step 2, median of the last 3 steps 8; "
        "gradient norm peak 1.22e+03 at step 2, median of the last 3 steps 80; "
        "Set5[:2] 31.25 dB at step 6"
    )
    assert scaled == "res_scale 0.1: no log shipped"


# ------------------------------------------------------------------------------- residual scaling


def test_predicted_growth():
    assert ex.predicted_growth(32, 1.0) == pytest.approx(2.375, abs=0.01)
    assert ex.predicted_growth(32, 0.1) == pytest.approx(1.0089, abs=1e-3)
    assert ex.predicted_growth(0, 1.0) == 1


def test_depth_profile_shows_growth_without_scaling(patches):
    lr, hr = patches
    unscaled, scaled = (ex.depth_profile(ex.wide_stack(12, 32, rs), lr, hr) for rs in (1, 0.1))
    assert len(unscaled.activation_std) == len(unscaled.grad_rms) == 12
    assert unscaled.activation_growth > 1.15 and unscaled.gradient_growth > 1.15
    assert abs(scaled.activation_growth - 1) < 0.05 and abs(scaled.gradient_growth - 1) < 0.05
    assert unscaled.activation_growth == pytest.approx(ex.predicted_growth(12, 1), rel=0.2)
    assert np.all(scaled.branch_std < 0.2 * unscaled.branch_std)
    assert np.all(scaled.weight_grad_norm < unscaled.weight_grad_norm)


def test_fold_check_identical_outputs(patches):
    model = ex.wide_stack(4, 16, 0.1).train()
    check = ex.fold_check(model, patches[0])
    assert check["max_abs_diff"] < 1e-3 and check["pixels_changed"] == 0
    assert model.training  # the mode is given back


def test_instability_run_records_every_step():
    trace = ex.instability_run(0.1, n_resblocks=2, n_feats=16, steps=3, patch_size=12)
    assert len(trace.loss) == len(trace.grad_norm) == 3 and trace.diverged_at is None
    assert all(math.isfinite(x) and x > 0 for x in trace.loss + trace.grad_norm)
    summary = trace.summary()
    assert summary["start"] == trace.loss[0] and summary["peak"] == max(trace.loss)
    assert trace.model is not None and not trace.model.training
    assert "res_scale 0.1" in ex.runs_table([trace])


@pytest.mark.slow
def test_unscaled_wide_stack_is_unstable_where_the_scaled_one_trains():
    """The notebook's live run, shortened: the unscaled loss explodes, the scaled one does not."""
    unscaled, scaled = (ex.instability_run(rs, steps=15) for rs in (1.0, 0.1))
    u, s = unscaled.summary(), scaled.summary()
    assert u["peak"] > 20 * s["peak"]
    assert u["final"] > 5 * s["final"]
    assert u["max_grad_norm"] > 20 * s["max_grad_norm"]


# ------------------------------------------------------------------------------- benchmark


def test_paper_tables():
    assert set(ex.PAPER_EDSR) == set(PAPER_BICUBIC)
    for key, (p, s) in ex.PAPER_EDSR.items():
        assert p > PAPER_BICUBIC[key][0] + 1.5 and s > PAPER_BICUBIC[key][1]
    for key, (p, s) in ex.PAPER_EDSR_PLUS.items():
        assert p > ex.PAPER_EDSR[key][0] and s > ex.PAPER_EDSR[key][1]
    assert all(0 < g < 0.2 for g in ex.paper_ensemble_gain().values())


def test_protocol_variants_bicubic():
    (row,) = ex.protocol_variants({"bicubic": bicubic_sr}, "Set5", scale=2)
    (reference,) = evaluate("bicubic", ("Set5",), (2,))
    assert row["y_shave"] == pytest.approx(reference["psnr"])
    assert row["rgb_shave"] < row["y_shave"] - 1


def test_pil_bicubic_differs_from_matlab():
    diff = ex.lr_difference("Set5", scale=2)
    assert 0.05 < diff["values_differ"] < 0.5 and diff["max_abs_diff"] >= 5
    (row,) = ex.pil_vs_matlab({"bicubic": bicubic_sr}, "Set5", scale=2)
    assert row["difference"] == pytest.approx(row["pil_lr"] - row["matlab_lr"])
    assert abs(row["difference"]) < 0.1


def test_gray_bridge_scores_1_32_db_higher_under_protocol_model():
    rows = {r["image"]: r for r in ex.gray_image_scores("Set14", scale=2)}
    assert rows["bridge"]["gray"] == 1 and rows["baboon"]["gray"] == 0
    assert rows["bridge"]["difference"] == pytest.approx(20 * math.log10(255 / 219), abs=0.05)
    assert rows["mean"]["difference"] == pytest.approx(0.09, abs=0.02)


def test_tables():
    rows = evaluate("bicubic", ("Set5",), (2,), protocol="paper_bicubic")
    table = ex.paper_comparison(rows, PAPER_BICUBIC)
    assert "bicubic (paper_bicubic) | Set5 | ×2 | 33.66 / 0.9299 | 33.66 / 0.9299 | +0.00" in table
    assert "| - | - | - |" in ex.paper_comparison(rows, {})
    assert ex.rows_table([{"a": 1.234, "b": "x"}], digits=1).splitlines()[-1] == "| 1.2 | x |"
    assert ex.rows_table([{"a": None, "b": True}]).splitlines()[-1] == "| - | True |"
    assert ex.claims_table([("c", "p", "m")]).splitlines()[-1] == "| c | p | m |"


def test_ensemble_rows_report_the_gain():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2)
    rows = ex.ensemble_rows(model, ("Set5",), (2,))
    plain, plus, gain = rows
    assert (plain["method"], plus["method"]) == ("edsr_tiny", "edsr_tiny+")
    assert gain["psnr"] == pytest.approx(plus["psnr"] - plain["psnr"])
    assert plain["psnr"] == pytest.approx(evaluate(model, ("Set5",), (2,))[0]["psnr"])


def test_evaluate_checkpoints_names_the_rows(tmp_path, monkeypatch):
    from edsr_lite import weights

    assert ex.evaluate_checkpoints([], ("Set5",)) == []
    torch.manual_seed(0)
    model = build("edsr_tiny", 2).eval()
    monkeypatch.setattr(weights, "CHECKPOINT_DIR", tmp_path)
    weights.save_checkpoint(tmp_path / "tiny_x2.pt", model)
    (row,) = ex.evaluate_checkpoints(["tiny_x2"], ("Set5",))
    assert row["method"] == "tiny_x2" and (row["set"], row["scale"]) == ("Set5", 2)
    assert row["psnr"] == pytest.approx(evaluate(model, ("Set5",), (2,))[0]["psnr"], abs=1e-6)


def test_mosaic_is_a_large_real_image():
    big = ex.mosaic("B100", 3, 3)
    assert big.shape == (960, 1440, 3) and big.dtype == np.uint8 and big.std() > 20
    with pytest.raises(ValueError, match="only"):
        ex.mosaic("Set5", 3, 3)


def test_tiled_upscale_same_pixels_less_memory():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2).eval()
    image = ex.mosaic("B100", 1, 1)
    whole = ex.measure_upscale_memory(model, image, tile=0)
    tiled = ex.measure_upscale_memory(model, image, tile=None, max_memory_mb=32)
    assert whole.n_tiles == 1 and tiled.n_tiles > 1 and tiled.tile > 0
    assert np.array_equal(whole.output, tiled.output)
    assert whole.output.shape == (640, 960, 3)
    assert tiled.allocated_mb < 0.5 * whole.allocated_mb
    assert tiled.allocated_mb <= tiled.estimate_mb  # the budget's estimate is conservative
    assert whole.peak_rss_mb > 0 and tiled.seconds > 0
    table = ex.upscale_memory_table([whole, tiled])
    assert table.splitlines()[-1].endswith("| 0 |")  # no output value differs


def test_upscale_memory_is_the_child_process_own_not_its_parent_peak():
    """A big notebook kernel must not make a small upscale look big (Linux carries the peak
    RSS across fork and exec)."""
    ballast = torch.ones(256 * 2**20)  # 1 GiB held by this (the parent) process
    image = ex.mosaic("Set5", 1, 1)[:64, :64]
    measured = ex.measure_upscale_memory(build("edsr_tiny", 2).eval(), image, tile=0)
    assert ballast.sum() > 0
    assert 0 < measured.peak_rss_mb < 200


def test_peak_rss_restarts_where_the_os_allows():
    ballast = torch.ones(128 * 2**20)  # 512 MiB
    ballast.add_(1)
    del ballast
    high = ex.peak_rss_mb()
    if not ex.reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs here")
    assert ex.peak_rss_mb() < high - 400


# ------------------------------------------------------------------------------- figures


def _labelled(fig: Figure) -> bool:
    return all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data())


def test_figures_have_labelled_axes(step_memories, patches):
    lr, hr = patches
    profiles = [ex.depth_profile(ex.wide_stack(3, 8, rs), lr, hr) for rs in (1, 0.1)]
    trace = ex.RunTrace("r", 1.0, 1e-3, [3.0, 2.0], [1.0, 0.5], 1.0)
    run = ex.UpscaleMemory("whole image", 0, 1, 1.0, 10.0, 12.0, 20.0, np.zeros((2, 2, 3)))
    figs = [
        figures.plot_memory_timelines(step_memories),
        figures.plot_bn_range(ex.bn_range_demo(ex.lr_crops("Set5", 2, 24)[0])),
        figures.plot_depth_profiles(profiles, title="t"),
        figures.plot_runs([trace]),
        figures.plot_upscale_memory([run]),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and _labelled(fig)


def test_model_to_fn_works_with_protocol_variants():
    torch.manual_seed(0)
    fn = model_to_fn(build("edsr_tiny", 2).eval())
    rows = ex.protocol_variants({"net": fn, "bicubic": bicubic_sr}, "Set5", scale=2)
    assert [r["method"] for r in rows] == ["net", "bicubic"]


def test_zoom_y_leaves_out_the_first_point():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 50, 100], [12.0, 30.0, 34.0])
    figures.zoom_y(fig)
    low, high = ax.get_ylim()
    assert 29 < low < 30 and 34 < high < 35

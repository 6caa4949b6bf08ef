"""edsr_lite.course.runs, tables, figures and settings: what the notebooks share.

Real patches, short training runs, the shipped runs' logs and the tables the cells print; the
fast-mode switch; every figure has labelled axes. Small models keep each test to seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from edsr_lite import checkpoints
from edsr_lite.core.models import build
from edsr_lite.core.published import PAPER_BICUBIC
from edsr_lite.course import benchmark, bn_removal, figures, memory, residual_scaling, tables
from edsr_lite.course import runs as ex
from edsr_lite.course.settings import ENV_VAR, choose, describe_mode, fast_mode
from edsr_lite.evaluation import evaluate
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


# ------------------------------------------------------------- real inputs and short runs


def test_real_batch_is_real_and_reproducible(patches):
    lr, hr = patches
    assert lr.shape == (2, 3, 16, 16) and hr.shape == (2, 3, 32, 32)
    assert lr.min() >= 0 and lr.max() <= 255 and lr.std() > 5  # an image, not a flat patch
    assert torch.equal(ex.real_batch(2, 16, scale=2)[0], lr)


def test_train_briefly_keeps_the_log_and_removes_the_folder():
    config = TrainConfig(preset="edsr_tiny", max_steps=2, batch_size=2, val_every=2, val_images=1)
    result = ex.train_briefly(config)
    assert result.step == 2 and not result.out_dir.exists()
    assert result.log.series("psnr")[0] == [0, 2]
    assert ex.final_psnr(result.log)[0] == 2


# --------------------------------------------------------------------------- shipped logs


def test_shipped_logs_found_when_present(tmp_path):
    assert ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path) == {}
    assert "not in this checkout yet" in ex.shipped_report(bn_removal.BN_PAIR, {})
    run = tmp_path / bn_removal.BN_PAIR["EDSR block (no BN)"]
    run.mkdir()
    (run / "log.csv").write_text(
        "step,scale,loss,lr,seconds,psnr\n0,2,,,0,30.5\n10,2,9.1,1e-4,5,33.25\n"
    )
    logs = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path)
    assert list(logs) == ["EDSR block (no BN)"] and isinstance(logs["EDSR block (no BN)"], TrainLog)
    report = ex.shipped_report(bn_removal.BN_PAIR, logs)
    assert "33.25 dB at step 10" in report and "no log shipped" in report


def test_shipped_logs_compared_at_the_same_budget(tmp_path):
    for name, last in (("edsr_baseline_x2", 20), ("edsr_baseline_bn_x2", 10)):
        (tmp_path / name).mkdir()
        rows = [f"{step},2,1.0,1e-4,{step},{30 + step / 10}" for step in range(0, last + 1, 5)]
        (tmp_path / name / "log.csv").write_text(
            "step,scale,loss,lr,seconds,psnr\n" + "\n".join(rows)
        )
    logs = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path, same_budget=True)
    assert {label: ex.final_psnr(log) for label, log in logs.items()} == {
        "EDSR block (no BN)": (10, 31.0),
        "SRResNet block (BN)": (10, 31.0),
    }
    whole = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path)
    assert ex.final_psnr(whole["EDSR block (no BN)"]) == (20, 32.0)


def test_shipped_claim_compares_the_pair_once_both_have_shipped(tmp_path):
    assert ex.shipped_claim(bn_removal.BN_PAIR, {}) == "- (not shipped yet)"
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
            one = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path)
            assert ex.shipped_claim(bn_removal.BN_PAIR, one) == "- (not shipped yet)"
    same = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path, same_budget=True)
    assert ex.shipped_claim(bn_removal.BN_PAIR, same) == (
        "EDSR block (no BN): 32.25 dB vs SRResNet block (BN): 31.25 dB at step 10"
    )
    whole = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path)
    assert ex.shipped_claim(bn_removal.BN_PAIR, whole) == (
        "EDSR block (no BN): 33.50 dB at step 20 vs SRResNet block (BN): 31.25 dB at step 10"
    )


def test_validation_rows_put_the_pair_side_by_side_at_common_steps(tmp_path):
    # the BN run validates at 0, 10, 20; its partner also at 5 and 15, and goes on to 30
    for name, every, last, offset in (
        ("edsr_baseline_x2", 5, 30, 1.0),
        ("edsr_baseline_bn_x2", 10, 20, 0.0),
    ):
        (tmp_path / name).mkdir()
        rows = [f"{s},2,1.0,1e-4,{s},{30 + offset + s / 10}" for s in range(0, last + 1, every)]
        (tmp_path / name / "log.csv").write_text(
            "step,scale,loss,lr,seconds,psnr\n" + "\n".join(rows)
        )
    logs = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path, same_budget=True)
    rows = ex.validation_rows(logs)
    assert [r["step"] for r in rows] == [10, 20]  # step 0 left out, 5 and 15 not in both
    assert rows[0]["EDSR block (no BN)"] == 32.0 and rows[0]["SRResNet block (BN)"] == 31.0
    assert all(r["gap (dB)"] == pytest.approx(1.0) for r in rows)
    assert [r["step"] for r in ex.validation_rows(logs, skip_first=False)] == [0, 10, 20]
    assert "| 20 | 33.00 | 32.00 | 1.00 |" in tables.rows_table(rows)
    one = {"EDSR block (no BN)": logs["EDSR block (no BN)"]}
    assert ex.validation_rows(one) == [] and tables.rows_table([]) == ""


def test_precision_note_says_which_arithmetic_ran_the_steps_compared(tmp_path):
    machine = {"cpu": "A"}
    runs = {
        # written before runs kept segments: the config's bf16 says which precision ran
        "edsr_baseline_x2": (20, {"step": 20, "train_config": {"bf16": True}}),
        # resumed on another machine with the same precision, then in bfloat16
        "edsr_baseline_bn_x2": (20, {"step": 20, "segments": [
            {"steps": [0, 5], "precision": "float32", "machine": machine},
            {"steps": [5, 10], "precision": "float32", "machine": {"cpu": "B"}},
            {"steps": [10, 20], "precision": "bfloat16 autocast", "machine": machine},
        ]}),
    }  # fmt: skip
    for name, (last, info) in runs.items():
        (tmp_path / name).mkdir()
        rows = [f"{step},2,1.0,1e-4,{step},30" for step in range(0, last + 1, 5)]
        (tmp_path / name / "log.csv").write_text(
            "step,scale,loss,lr,seconds,psnr\n" + "\n".join(rows)
        )
        (tmp_path / name / "run.json").write_text(json.dumps(info))
    logs = ex.shipped_logs(bn_removal.BN_PAIR, root=tmp_path)
    assert ex.precision_note(logs).splitlines() == [
        "EDSR block (no BN): bfloat16 autocast (steps 0-20)",
        "SRResNet block (BN): float32 (steps 0-10), bfloat16 autocast (steps 10-20)",
        "The runs compared were not trained in the same precision: bfloat16 autocast costs "
        f"{ex.BF16_COST}, so a gap of that size is not the effect compared.",
    ]
    cut = {label: TrainLog(log.rows[:3], log.info) for label, log in logs.items()}  # steps 0-10
    assert ex.precision_note(cut).splitlines()[1] == "SRResNet block (BN): float32 (steps 0-10)"
    alike = {"x2": logs["EDSR block (no BN)"], "again": logs["EDSR block (no BN)"]}
    assert len(ex.precision_note(alike).splitlines()) == 2  # same precision: no caveat
    (tmp_path / "edsr_baseline_x2" / "run.json").unlink()
    bare = ex.shipped_logs({"x2": "edsr_baseline_x2"}, root=tmp_path)
    assert ex.precision_note(bare) == "x2: precision not recorded"
    assert ex.precision_note({}) == ""


def test_the_shipped_x2_run_records_its_precision():
    """Notebook 01 compares the x2 run's first 3000 steps with a BN run trained elsewhere."""
    from edsr_lite.train import run_segments

    log = ex.shipped_logs({"x2": "edsr_baseline_x2"}).get("x2")
    if log is None:
        pytest.skip("the x2 run is not in this checkout")
    segments = run_segments(log.info)
    assert segments[0]["steps"][0] == 0 and segments[-1]["steps"][1] == log.info["step"]
    assert {s["precision"] for s in segments} <= {"float32", "bfloat16 autocast"}


# --------------------------------------------------------------------------------- tables


def test_tables():
    rows = evaluate("bicubic", ("Set5",), (2,), protocol="paper_bicubic")
    table = benchmark.paper_comparison(rows, PAPER_BICUBIC)
    assert "bicubic (paper_bicubic) | Set5 | ×2 | 33.66 / 0.9299 | 33.66 / 0.9299 | +0.00" in table
    assert "| - | - | - |" in benchmark.paper_comparison(rows, {})
    assert tables.rows_table([{"a": 1.234, "b": "x"}], digits=1).splitlines()[-1] == "| 1.2 | x |"
    assert tables.rows_table([{"a": None, "b": True}]).splitlines()[-1] == "| - | yes |"


def test_evaluate_checkpoints_names_the_rows(tmp_path, monkeypatch):
    from edsr_lite import weights

    assert ex.evaluate_checkpoints([], ("Set5",)) == []
    torch.manual_seed(0)
    model = build("edsr_tiny", 2).eval()
    monkeypatch.setattr(weights, "CHECKPOINT_DIR", tmp_path)
    checkpoints.save_checkpoint(tmp_path / "tiny_x2.pt", model)
    (row,) = ex.evaluate_checkpoints(["tiny_x2"], ("Set5",))
    assert row["method"] == "tiny_x2" and (row["set"], row["scale"]) == ("Set5", 2)
    assert row["psnr"] == pytest.approx(evaluate(model, ("Set5",), (2,))[0]["psnr"], abs=1e-6)


# -------------------------------------------------------------------------------- figures


def _labelled(fig: Figure) -> bool:
    return all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data())


def test_figures_have_labelled_axes(step_memories, patches):
    lr, hr = patches
    profiles = [
        residual_scaling.depth_profile(residual_scaling.wide_stack(3, 8, rs), lr, hr)
        for rs in (1, 0.1)
    ]
    trace = residual_scaling.RunTrace("r", 1.0, 1e-3, [3.0, 2.0], [1.0, 0.5], 1.0)
    run = memory.UpscaleMemory("whole image", 0, 1, 1.0, 10.0, 12.0, 20.0, np.zeros((2, 2, 3)))
    figs = [
        figures.plot_memory_timelines(step_memories),
        figures.plot_bn_range(bn_removal.bn_range_demo(ex.lr_crops("Set5", 2, 24)[0])),
        figures.plot_depth_profiles(profiles, title="t"),
        figures.plot_runs([trace]),
        figures.plot_upscale_memory([run]),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and _labelled(fig)


def test_zoom_y_leaves_out_the_first_point():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 50, 100], [12.0, 30.0, 34.0])
    figures.zoom_y(fig)
    low, high = ax.get_ylim()
    assert 29 < low < 30 and 34 < high < 35
    assert list(ax.get_lines()[0].get_xdata()) == [50, 100]  # removed, not clipped
    left, right = ax.get_xlim()  # so no segment runs off the panel from step 0
    assert 0 < left < 50 and 100 < right < 105


def _pair_logs(gaps: dict[int, float]) -> dict[str, TrainLog]:
    """Two logs validated at the steps of ``gaps``: A scores 30 + gap, B 30 (and 12 at step 0)."""
    a = [{"step": 0, "psnr": 12.0}] + [{"step": s, "psnr": 30 + g} for s, g in gaps.items()]
    b = [{"step": 0, "psnr": 12.0}] + [{"step": s, "psnr": 30.0} for s in gaps]
    return {"A": TrainLog(a), "B": TrainLog(b)}


def test_race_picks_its_words_from_the_validations():
    assert ex.race(_pair_logs({10: 0.95, 20: 0.21, 30: -0.01})) == (
        "A learned faster: 0.95 dB ahead of B at step 10, 0.21 dB at step 20. "
        "By step 30 B had caught up and moved ahead: 30.00 vs 29.99 dB."
    )
    assert ex.race(_pair_logs({10: -0.5, 20: 0.001})) == (
        "B learned faster: 0.50 dB ahead of A at step 10. By step 20 A had caught up: "
        "30.00 vs 30.00 dB."
    )
    assert ex.race(_pair_logs({10: 0.3, 20: 0.1})) == (
        "A learned faster: 0.30 dB ahead of B at step 10, 0.10 dB at step 20. "
        "B had not caught up in 20 steps: 30.00 vs 30.10 dB."
    )
    assert ex.race(_pair_logs({10: 0.0})).startswith("At step 10, the first validation compared")
    assert ex.race({"A": _pair_logs({10: 1.0})["A"]}) == ""


def test_shared_precision_names_the_one_arithmetic_of_all_the_steps():
    def log(*segments: tuple[int, int, str]) -> TrainLog:
        info = {"segments": [{"steps": [a, b], "precision": p} for a, b, p in segments]}
        return TrainLog([{"step": 0}, {"step": 20}], info)

    bf16, fp32 = "bfloat16 autocast", "float32"
    assert (
        ex.shared_precision({"a": log((0, 20, bf16)), "b": log((0, 10, bf16), (10, 20, bf16))})
        == bf16
    )
    assert (
        ex.shared_precision({"a": log((0, 20, bf16)), "b": log((0, 10, fp32), (10, 20, bf16))})
        is None
    )
    assert ex.shared_precision({"a": log((0, 20, fp32)), "b": TrainLog([{"step": 20}])}) is None


def test_precisions_reads_the_segments_of_the_steps_held():
    def log(last, *segments):
        info = {"segments": [{"steps": list(s), "precision": p} for *s, p in segments]}
        return TrainLog([{"step": s} for s in range(0, last + 1, 10)], info)

    mixed = log(30, (0, 20, "float32"), (20, 40, "bfloat16 autocast"))
    assert ex.precisions({"a": mixed}) == {"float32", "bfloat16 autocast"}
    # steps 20-40 are not in a log that ends at step 20
    assert ex.precisions({"a": log(20, (0, 20, "float32"), (20, 40, "bfloat16"))}) == {"float32"}
    bf16 = log(20, (0, 20, "bfloat16 autocast"))
    assert len(ex.precisions({"a": log(20, (0, 20, "float32")), "b": bf16})) == 2
    assert ex.precisions({"a": TrainLog([{"step": 20}])}) == set()  # not recorded: none

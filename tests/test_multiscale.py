"""What MDSR shares across scales, measured on the model; MDSR against one EDSR per scale."""

import json

import pytest
import torch

from edsr_lite.core.models import build, count_parameters
from edsr_lite.course import multiscale as ms
from edsr_lite.course.live import TrainingBoard
from edsr_lite.train import TrainLog


def test_sharing_table_finds_the_papers_layout_by_running_the_model():
    model = build("mdsr_baseline")
    rows = {r["part"]: r for r in ms.sharing_table(model)}
    assert list(rows) == [
        "head",
        "pre_process.0",
        "pre_process.1",
        "pre_process.2",
        "body",
        "upsample.0",
        "upsample.1",
        "upsample.2",
        "tail",
    ]
    assert {p for p, r in rows.items() if r["shared"]} == {"head", "body", "tail"}
    assert rows["pre_process.1"]["trained at"] == "x3" and rows["upsample.2"]["trained at"] == "x4"
    assert rows["head"]["trained at"] == "x2, x3, x4"
    total = sum(r["parameters"] for r in rows.values())
    assert total == count_parameters(model, trainable_only=True)


def test_parts_used_leaves_the_models_gradients_alone():
    model = build("mdsr_tiny")
    model(torch.rand(1, 3, 8, 8) * 255, 2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    used = ms.parts_used(model, 4)
    assert "upsample.2" in used and "upsample.0" not in used
    for name, p in model.named_parameters():
        if name in grads:
            assert torch.equal(p.grad, grads[name])
        else:
            assert p.grad is None


def test_single_scale_models_use_everything_at_their_scale():
    model = build("edsr_tiny", scale=3)
    rows = ms.sharing_table(model)
    assert all(r["shared"] and r["trained at"] == "x3" for r in rows)


def test_parameter_comparison_uses_the_official_counts():
    rows = ms.parameter_comparison("edsr_baseline", "mdsr_baseline")
    by_scale = {r["scale"]: r for r in rows}
    # The official EDSR-baseline counts (with the mean shift), and MDSR-baseline's total
    assert [by_scale[f"x{s}"]["edsr_baseline"] for s in (2, 3, 4)] == [
        count_parameters(build("edsr_baseline", s)) for s in (2, 3, 4)
    ]
    total = by_scale["all scales"]
    assert total["mdsr_baseline (used at this scale)"] == count_parameters(build("mdsr_baseline"))
    assert total["ratio"] == pytest.approx(3_227_227 / 4_442_001)
    # At one scale MDSR uses the shared parts and that scale's branch: more than one EDSR here
    x3 = by_scale["x3"]
    assert x3["mdsr_baseline (used at this scale)"] > x3["edsr_baseline"]
    assert x3["ratio"] == x3["mdsr_baseline (used at this scale)"] / x3["edsr_baseline"]


def test_one_step_at_x3_moves_only_the_x3_branch_and_the_shared_parts():
    changed = ms.parts_changed_by_step("mdsr_tiny", scale=3)
    moved = {part for part, yes in changed.items() if yes}
    assert moved == {"head", "pre_process.1", "body", "upsample.1", "tail"}


def test_scale_draws_are_uniform_and_repeatable():
    a = ms.scale_draws((2, 3, 4), steps=3000, seed=0)
    assert a == ms.scale_draws((2, 3, 4), steps=3000, seed=0)
    assert a != ms.scale_draws((2, 3, 4), steps=3000, seed=1)
    assert sum(a["counts"].values()) == 3000
    assert all(900 < n < 1100 for n in a["counts"].values())


def test_single_vs_multi_trains_the_same_total_steps_and_scores_every_scale(train_dir):
    recipe = dict(patch_size=12, batch_size=2, n_resblocks=1, n_feats=8)
    board = TrainingBoard("test", total_steps=12)
    live = ms.single_vs_multi(
        12,
        data=str(train_dir),
        scales=(2, 3),
        score_sets=("Set5",),
        validations=2,
        board=board,
        **recipe,
    )
    assert [r["scale"] for r in live.rows()] == ["x2", "x3"]
    assert set(live.psnr) == {"bicubic", "EDSR per scale", "MDSR"}
    assert live.psnr["bicubic"][2] == pytest.approx(33.67, abs=0.01)  # Set5 x2, model protocol
    assert live.n_images == 5 and len(live.images["MDSR"][3]) == 5
    steps = {name: max(r["step"] for r in log.rows) for name, log in live.logs.items()}
    assert steps == {"EDSR x2": 6, "EDSR x3": 6, "MDSR": 12}
    assert {r["scale"] for r in live.logs["MDSR"].rows if r["scale"]} == {2, 3}
    assert live.parameters["MDSR"] == count_parameters(
        build("mdsr_tiny", scale=(2, 3), n_resblocks=1, n_feats=8)
    )
    # The curves: validation at step 0, every few steps and at the end, against the
    # minibatches of that scale; MDSR's counts add up to its steps
    curves = live.curves()
    assert curves["EDSR per scale"][2][0] == [0, 3, 6]
    mdsr_x2, mdsr_x3 = curves["MDSR"][2][0], curves["MDSR"][3][0]
    assert mdsr_x2[0] == 0 and mdsr_x2[-1] + mdsr_x3[-1] == 12
    # The board drew one line per approach and scale, each ending at its last validation
    assert list(board.runs) == ["EDSR x2", "EDSR x3", "MDSR x2", "MDSR x3"]
    assert board.runs["MDSR x3"].psnr_steps[-1] == mdsr_x3[-1]
    assert sum(len(board.runs[f"MDSR x{s}"].losses) for s in (2, 3)) == 12
    assert live.step_time().unit == "ms" and live.step_time().noise > 0


def test_step_seconds_leave_out_the_steps_after_a_validation():
    log = TrainLog(
        [
            {"step": 0, "seconds": 0.0, "psnr": 30.0},
            {"step": 1, "seconds": 5.0},  # includes the step-0 validation
            {"step": 2, "seconds": 6.0, "psnr": 31.0},
            {"step": 3, "seconds": 9.0},  # includes the step-2 validation
            {"step": 4, "seconds": 10.5},
        ],
        {},
    )
    assert ms.step_seconds(log) == [1.0, 1.5]


def test_comparable_is_two_sided_with_the_noise_of_the_paired_differences():
    edsr = [30.0, 31.0, 32.0, 33.0]
    close = ms.comparable([30.05, 31.03, 32.07, 33.05], edsr, tolerance_db=0.15)
    assert close.value == pytest.approx(0.15 - 0.05) and close.verdict == "shown here"
    above = ms.comparable([30.5, 31.5, 32.6, 33.4], edsr, tolerance_db=0.15)
    below = ms.comparable([29.5, 30.5, 31.4, 32.6], edsr, tolerance_db=0.15)
    assert above.verdict == below.verdict == "not shown here"  # far off, either way
    noisy = ms.comparable([30.5, 30.6, 32.4, 32.6], edsr, tolerance_db=0.15)
    assert noisy.value > 0 and noisy.verdict == "within noise"


def _ship(root, name, model, steps, seconds, status="finished", init_from=None):
    """A finished training run folder holding ``model`` as its best.pt."""
    import json

    from edsr_lite.checkpoints import save_checkpoint

    folder = root / name
    save_checkpoint(folder / "best.pt", model, meta={"step": steps})
    (folder / "log.csv").write_text("step,psnr\n")
    run = {"status": status, "stopped_by": "max_steps", "step": steps, "seconds": seconds}
    run["train_config"] = {"init_from": init_from}
    (folder / "run.json").write_text(json.dumps(run))


def test_shipped_scores_compare_each_scale_and_mark_what_has_not_shipped(tmp_path):
    from edsr_lite.evaluation import evaluate

    torch.manual_seed(0)
    x2, x3, multi = build("edsr_tiny", 2), build("edsr_tiny", 3), build("mdsr_tiny")
    _ship(tmp_path, "edsr_tiny_x2", x2, 100, 360.0)
    _ship(tmp_path, "edsr_tiny_x3", x3, 50, 180.0, init_from=str(tmp_path / "edsr_tiny_x2/best.pt"))
    _ship(tmp_path, "edsr_tiny_x4", build("edsr_tiny", 4), 50, 180.0, status="running")
    _ship(tmp_path, "mdsr_tiny", multi, 120, 720.0)

    rows = ms.shipped_scores("Set5", (2, 3, 4), "edsr_tiny", "mdsr_tiny", tmp_path)
    by_scale = {r["scale"]: r for r in rows}
    edsr_x2 = evaluate(x2, ["Set5"], [2])[0]["psnr"]
    mdsr_x2 = evaluate(multi, ["Set5"], [2])[0]["psnr"]
    assert by_scale["x2"]["edsr_tiny dB"] == pytest.approx(edsr_x2, abs=0.01)
    assert by_scale["x2"]["mdsr_tiny dB"] == pytest.approx(mdsr_x2, abs=0.01)
    assert by_scale["x2"]["multi - single (dB)"] == pytest.approx(mdsr_x2 - edsr_x2, abs=0.02)
    assert by_scale["x2"]["noise ± (dB)"] > 0  # five images, five different differences
    # x4's run has not finished, so it does not ship: no score, no effect; bicubic still scores
    assert by_scale["x4"]["edsr_tiny dB"] is None and by_scale["x4"]["noise ± (dB)"] is None
    assert by_scale["x4"]["bicubic dB"] == pytest.approx(28.43, abs=0.01)
    effects = ms.shipped_effects("Set5", (2, 3, 4), "edsr_tiny", "mdsr_tiny", tmp_path, 0.15)
    assert set(effects) == {2, 3}
    gap = by_scale["x2"]["multi - single (dB)"]
    assert effects[2].value == pytest.approx(0.15 - abs(gap))
    assert effects[2].noise == pytest.approx(by_scale["x2"]["noise ± (dB)"])
    assert by_scale["x4"]["bicubic dB"] == pytest.approx(28.43, abs=0.01)

    budgets = {
        r["model"]: r for r in ms.shipped_budgets((2, 3, 4), "edsr_tiny", "mdsr_tiny", tmp_path)
    }
    assert list(budgets) == ["edsr_tiny_x2", "edsr_tiny_x3", "mdsr_tiny"]  # no sum without x4
    assert budgets["mdsr_tiny"]["parameters"] == count_parameters(multi)
    assert (
        budgets["edsr_tiny_x2"]["steps"] == 100 and budgets["edsr_tiny_x2"]["training hours"] == 0.1
    )
    assert budgets["edsr_tiny_x2"]["started from"] == "random"
    assert budgets["edsr_tiny_x3"]["started from"] == "edsr_tiny_x2"
    assert budgets["edsr_tiny_x2"]["steps in bfloat16"] is None  # its run.json does not say
    assert ms.shipped_gaps(rows) == {
        2: by_scale["x2"]["multi - single (dB)"],
        3: pytest.approx(by_scale["x3"]["multi - single (dB)"]),
    }

    two = ms.shipped_budgets((2, 3), "edsr_tiny", "mdsr_tiny", tmp_path)
    assert [r["model"] for r in two] == [
        "edsr_tiny_x2",
        "edsr_tiny_x3",
        "the 2 edsr_tiny models",
        "mdsr_tiny",
    ]
    assert two[2]["parameters"] == count_parameters(x2) + count_parameters(x3)
    assert two[2]["steps"] == 150 and two[2]["training hours"] == pytest.approx(0.15)


def test_recorded_scores_read_the_results_file_per_set_and_scale(tmp_path):
    from tools.make_results import FORMAT, ResultsError

    def row(method, set_name, scale, psnr):
        return {"method": method, "set": set_name, "scale": scale, "psnr": psnr, "ssim": 0.9}

    rows = [
        row("bicubic", "Set14", 2, 30.3),
        row("edsr_tiny_x2", "Set14", 2, 33.0),
        row("edsr_tiny_x2+", "Set14", 2, 33.1),
        row("mdsr_tiny", "Set14", 2, 32.9),
        row("mdsr_tiny", "Set14", 3, 29.8),  # the x3 EDSR is not in the file
    ]
    path = tmp_path / "RESULTS.json"
    path.write_text(json.dumps({"format": FORMAT, "rows": rows}))

    got = ms.recorded_scores(["Set14"], (2, 3), "edsr_tiny", "mdsr_tiny", path)
    assert [(r["set"], r["scale"]) for r in got] == [("Set14", "x2"), ("Set14", "x3")]
    x2, x3 = got
    assert (x2["bicubic dB"], x2["edsr_tiny dB"], x2["edsr_tiny+ dB"]) == (30.3, 33.0, 33.1)
    assert x2["mdsr_tiny dB"] == 32.9 and x2["mdsr_tiny+ dB"] is None
    assert x2["multi - single (dB)"] == pytest.approx(-0.1)
    assert x3["mdsr_tiny dB"] == 29.8 and x3["edsr_tiny dB"] is None
    assert x3["multi - single (dB)"] is None

    with pytest.raises(ResultsError, match="make results"):
        ms.recorded_scores(results_json=tmp_path / "missing.json")


def test_bf16_share_reads_the_segments_of_a_resumed_run():
    resumed = {
        "segments": [
            {"steps": [0, 4000], "precision": "bfloat16 autocast"},
            {"steps": [4000, 6000], "precision": "float32"},
        ]
    }
    assert ms._bf16_share(resumed) == "67%"
    assert ms._bf16_share({"train_config": {"bf16": True}}) == "100%"
    assert ms._bf16_share({"train_config": {"bf16": False}}) == "0%"


def _comparison(bicubic, edsr, mdsr):
    images = {"bicubic": bicubic, "EDSR per scale": edsr, "MDSR": mdsr}
    return ms.ScaleComparison((2, 3), 30, images, {})


def test_a_live_comparison_pairs_the_images_of_each_scale():
    short = _comparison(
        {2: [33.6, 33.8], 3: [30.3, 30.5]},
        {2: [27.6, 27.8], 3: [30.9, 31.1]},
        {2: [25.9, 26.1], 3: [30.8, 31.0]},
    )
    assert short.psnr["MDSR"][2] == pytest.approx(26.0) and short.n_images == 2
    assert short.gaps() == {2: pytest.approx(-1.7), 3: pytest.approx(-0.1)}
    assert short.not_above_bicubic() == ["EDSR per scale at x2", "MDSR at x2"]
    effects = short.effects(tolerance_db=0.15)
    # 1.7 dB apart on every image, but both networks are still below bicubic at x2: the gap
    # compares untrained networks, so the run is too short to tell, whichever way it points
    assert effects[2].verdict == "too short to tell" and effects[2].value < -effects[2].noise
    assert effects[3].verdict == "shown here"  # above bicubic, 0.05 dB inside the bar, no noise
    assert effects[3].value == pytest.approx(0.05) and effects[3].noise == pytest.approx(0.0)
    assert [r["scale"] for r in short.rows()] == ["x2", "x3"]
    assert set(short.rows()[0]) == {"scale", "bicubic (dB)", "EDSR per scale (dB)", "MDSR (dB)"}


def test_gaps_in_words_per_scale():
    said = ms.versus_each_scale({2: 0.4, 3: 0.001, 4: -0.05})
    assert said == (
        "0.40 dB above the single-scale model at x2, level with it at x3 and 0.05 dB below it at x4"
    )
    assert ms.versus_each_scale({2: -0.2}, "EDSR") == "0.20 dB below EDSR at x2"


def test_recorded_summary_gives_the_range_of_the_gaps_and_of_the_ensemble_gains():
    def row(set_name, scale, edsr, edsr_plus, mdsr, mdsr_plus):
        return {
            "set": set_name,
            "scale": scale,
            "e dB": edsr,
            "e+ dB": edsr_plus,
            "m dB": mdsr,
            "m+ dB": mdsr_plus,
            "multi - single (dB)": None if edsr is None or mdsr is None else mdsr - edsr,
        }

    rows = [
        row("Set14", "x2", 33.0, 33.1, 33.1, 33.2),
        row("B100", "x3", 28.0, 28.05, 27.99, 28.1),
        row("B100", "x4", None, None, 27.0, 27.1),  # the x4 model has not shipped
    ]
    got = ms.recorded_summary(rows, "e", "m")
    assert got["lowest"] == (pytest.approx(-0.01), "B100 x3")
    assert got["highest"] == (pytest.approx(0.1), "Set14 x2")
    assert got["gain single"] == (pytest.approx(0.05), pytest.approx(0.1))
    assert got["gain multi"] == (pytest.approx(0.1), pytest.approx(0.11))
    assert got["gap with ensemble"] == (pytest.approx(0.05), pytest.approx(0.1))
    no_plus = [{**r, "e+ dB": None} for r in rows]
    assert "gain single" not in ms.recorded_summary(no_plus, "e", "m")
    assert ms.recorded_summary(rows[2:], "e", "m") is None

"""Pretrained initialization: what an x2 model gives an x3/x4 model, and the live comparison."""

import pytest
import torch

from edsr_lite.core.models import build, count_parameters
from edsr_lite.course import pretrained_init
from edsr_lite.train import TrainLog


def test_init_table_x2_to_x4_leaves_only_the_second_upsampler_stage_random():
    x4, x2 = build("edsr_baseline", 4), build("edsr_baseline", 2)
    rows, report = pretrained_init.init_table(x4, x2)
    random_parts = {r["part"] for r in rows if r["tensors random"]}
    assert random_parts == {"tail.0.2"}
    assert report.left_random == ["tail.0.2.weight", "tail.0.2.bias"]
    assert sum(r["params copied"] + r["params random"] for r in rows) == count_parameters(x4)
    # init_table initialized the model in place: the body now holds the x2 weights
    assert torch.equal(x4.body[0].body[0].weight, x2.body[0].body[0].weight)


def test_init_table_x2_to_x3_copies_no_upsampler_tensor():
    rows, report = pretrained_init.init_table(build("edsr_baseline", 3), build("edsr_baseline", 2))
    by_part = {r["part"]: r for r in rows}
    assert by_part["tail.0.0"]["tensors copied"] == 0 and by_part["tail.0.0"]["tensors random"] == 2
    assert by_part["body"]["tensors random"] == 0 and by_part["tail.1"]["tensors random"] == 0
    assert report.shape_mismatch == ["tail.0.0.weight", "tail.0.0.bias"]


def test_pretrained_vs_scratch_trains_the_same_budget_twice(train_dir):
    recipe = dict(n_resblocks=1, n_feats=8, patch_size=12, batch_size=2, val_images=1)
    live = pretrained_init.pretrained_vs_scratch(4, 6, data=str(train_dir), val_every=3, **recipe)
    for log in (live.scratch, live.pretrained):
        assert log.series("psnr")[0] == [0, 3, 6]
    assert max(r["step"] for r in live.source.rows) == 4
    assert live.init_report.left_random == ["tail.0.2.weight", "tail.0.2.bias"]
    assert "body.0.body.0.weight" in live.init_report.copied
    assert set(live.seconds) == {"x2 source", "scratch", "pretrained"}
    # the live pair carries the shipped pair's labels, in the same order (one colour per run)
    assert list(live.logs()) == list(pretrained_init.SHIPPED_PAIR)
    assert live.logs()[pretrained_init.FROM_X2] is live.pretrained
    # Same seed and patches, different start: the two runs differ from step 0 on
    assert live.scratch.series("psnr")[1][0] != live.pretrained.series("psnr")[1][0]
    # both models are kept halfway and at the end, for the per-image comparison
    assert set(live.models) == {3, 6}
    for models in live.models.values():
        assert set(models) == {pretrained_init.FROM_X2, pretrained_init.FROM_SCRATCH}
        assert not any(m.training for m in models.values())
    assert live.models[3][pretrained_init.FROM_X2] is not live.models[6][pretrained_init.FROM_X2]


def test_per_image_psnr_scores_every_image_with_the_protocol():
    from edsr_lite.evaluation import evaluate

    model = build("edsr_tiny", 4).eval()
    scores = pretrained_init.per_image_psnr(model, ("Set5",), 4)
    assert len(scores) == 5
    assert sum(scores) / 5 == pytest.approx(evaluate(model, ["Set5"], [4])[0]["psnr"], abs=1e-6)


def test_paired_gain_judges_per_image_differences_by_the_one_rule():
    steady = pretrained_init.paired_gain([30.5, 28.4, 26.3], [30.0, 28.0, 26.0], "Set5")
    assert steady.value == pytest.approx(0.4) and steady.verdict == "shown here"
    assert steady.how == "3 images of Set5, paired"
    mixed = pretrained_init.paired_gain([30.5, 27.6, 26.3], [30.0, 28.0, 26.0])
    assert mixed.verdict == "within noise"
    assert pretrained_init.paired_gain([29.0, 27.0], [30.0, 28.1]).verdict == "not shown here"


def test_stays_above_counts_the_validations_from_the_gaps():
    above = pretrained_init.pair_validations(
        _psnr_log(12.0, 29.5, 30.5), _psnr_log(12.5, 28.0, 29.2)
    )
    assert pretrained_init.stays_above(above) == (
        "stayed above the scratch run at every one of the 2 validations"
    )
    crossed = pretrained_init.pair_validations(
        _psnr_log(12.0, 29.5, 30.0, 30.002), _psnr_log(12.5, 28.0, 30.1, 30.0)
    )
    assert (
        pretrained_init.stays_above(crossed)
        == "was above the scratch run at 1 of the 3 validations"
    )


def test_steps_to_reach():
    rows = [{"step": s, "psnr": p} for s, p in ((0, 20.0), (10, 25.0), (20, 27.5))]
    rows.insert(1, {"step": 5, "psnr": None})
    log = TrainLog(rows)
    assert pretrained_init.steps_to_reach(log, 25.0) == 10
    assert pretrained_init.steps_to_reach(log, 27.0) == 20
    assert pretrained_init.steps_to_reach(log, 30.0) is None


def test_head_start_compares_the_pair_at_the_same_budget():
    def log(*psnr):
        return TrainLog([{"step": 10 * i, "psnr": p} for i, p in enumerate(psnr)])

    assert pretrained_init.head_start(log(12.0, 29.5, 30.5), log(12.0, 28.0, 29.2)) == (
        "+1.30 dB on Set5 at step 20; the scratch run's final 29.20 dB reached at step 10 of 20 "
        "steps"
    )
    assert pretrained_init.head_start(log(12.0, 28.0), log(12.0, 28.5)).endswith(
        "the scratch run's final 28.50 dB not reached in 10 steps"
    )
    assert "at steps 20 vs 10" in pretrained_init.head_start(log(12.0, 29.0, 30.5), log(12.0, 28.0))
    assert pretrained_init.head_start(log(12.0, 29.0), None) == "- (not shipped yet)"
    assert pretrained_init.head_start(log(12.0), TrainLog([{"step": 0, "psnr": None}])) == (
        "- (not shipped yet)"
    )


def _psnr_log(*psnr, every=10):
    return TrainLog([{"step": every * i, "psnr": p} for i, p in enumerate(psnr)])


def test_pair_validations_words_come_from_the_data():
    pair = pretrained_init.pair_validations(
        _psnr_log(12.0, 29.5, 30.5, 30.9), _psnr_log(12.5, 28.0, 29.2, 30.0)
    )
    assert pair.steps == [10, 20, 30] and pair.last == 30
    assert (pair.ours_at_0, pair.theirs_at_0) == (12.0, 12.5)
    assert [round(g, 2) for g in pair.gaps] == [1.5, 1.3, 0.9]
    assert pair.ahead and pair.reached == 20
    assert pair.caught_up() == "caught up with the scratch run's final 30.00 dB at step 20 of 30"
    assert round(pair.rise("theirs"), 2) == 0.8 and round(pair.rise("ours"), 2) == 0.4
    behind = pretrained_init.pair_validations(_psnr_log(12.0, 27.0), _psnr_log(12.0, 28.0))
    assert not behind.ahead and behind.reached is None
    assert (
        behind.caught_up() == "had not caught up with the scratch run's final 28.00 dB in 10 steps"
    )
    level = pretrained_init.pair_validations(_psnr_log(12.0, 28.002), _psnr_log(12.0, 28.0))
    assert not level.ahead  # 28.00 vs 28.00 as printed: not "ahead"
    assert pretrained_init.pair_validations(_psnr_log(12.0), _psnr_log(12.0, 28.0)) is None


def test_recorded_psnr_reads_results_json_or_says_none():
    assert pretrained_init.recorded_psnr("no_such_model", "Set5", 4) is None

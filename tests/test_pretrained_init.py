"""Pretrained initialization: what an x2 model gives an x3/x4 model, and the live comparison."""

import torch

from edsr_lite.course import pretrained_init
from edsr_lite.models import build, count_parameters
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
    # Same seed and patches, different start: the two runs differ from step 0 on
    assert live.scratch.series("psnr")[1][0] != live.pretrained.series("psnr")[1][0]


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
        "+1.30 dB on Set5 at step 20; the scratch run's final 29.20 dB reached at step 10 of 20"
    )
    assert pretrained_init.head_start(log(12.0, 28.0), log(12.0, 28.5)).endswith(
        "reached at step - (not within the budget) of 10"
    )
    assert "at steps 20 vs 10" in pretrained_init.head_start(log(12.0, 29.0, 30.5), log(12.0, 28.0))
    assert pretrained_init.head_start(log(12.0, 29.0), None) == "- (not shipped yet)"
    assert pretrained_init.head_start(log(12.0), TrainLog([{"step": 0, "psnr": None}])) == (
        "- (not shipped yet)"
    )

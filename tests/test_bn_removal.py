"""edsr_lite.course.bn_removal (notebook 01): what autograd keeps, a step's memory, what BN does.

The claims the notebook makes are asserted at a small size: an EDSR block keeps 2 feature maps,
a BN block 4; removing BN saves 35-50% of the saved activations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edsr_lite.core.models import ResBlock, build
from edsr_lite.course import bn_removal, claims, memory
from edsr_lite.course import runs as ex


@pytest.mark.parametrize(
    ("block", "maps"), [("EDSR (no BN)", 2), ("SRResNet, BN-ReLU", 4), ("SRResNet, BN-PReLU", 5)]
)
def test_feature_maps_saved_per_block(block, maps):
    x = torch.rand(2, 8, 12, 12) * 50
    assert bn_removal.count_saved_maps(bn_removal.block_variants(8)[block], x) == maps


def test_saved_tensors_skip_parameters_and_see_shared_memory():
    block = ResBlock(8).train()
    saved = bn_removal.saved_tensors(block, torch.rand(1, 8, 6, 6))
    assert all(s.shape == (1, 8, 6, 6) for s in saved)  # no weight is listed
    # conv2 reads the in-place ReLU's output: the same memory, saved a second time
    assert [(s.layer, s.new) for s in saved] == [
        ("body.0", True),
        ("body.1", True),
        ("body.2", False),
    ]


def test_saved_maps_table_rows():
    rows = bn_removal.saved_maps_table(n_feats=16, batch_size=2, patch_size=16)
    assert [r[bn_removal.MAPS_KEPT] for r in rows] == [2, 4, 5]
    assert rows[0]["saved (MiB)"] < rows[1]["saved (MiB)"] < rows[2]["saved (MiB)"]
    layers = [r["layers that keep a map"] for r in rows]
    assert "ReLU" in layers[0] and "PReLU" in layers[2]
    assert all("_" not in key for key in rows[0]), "columns are words, not code identifiers"


def test_removing_bn_saves_activation_memory(patches):
    lr, hr = patches
    plain = bn_removal.saved_activation_bytes(build("edsr_tiny", 2), lr, hr)
    with_bn = bn_removal.saved_activation_bytes(build("edsr_tiny", 2, bn=True), lr, hr)
    # 2 maps per block instead of 4; the head, tail and loss do not shrink
    assert 0.35 < 1 - plain / with_bn < 0.5


def test_step_memory_timeline(step_memories):
    with_bn, plain = step_memories
    for m in step_memories:
        assert m.bytes_by_category.shape == (len(m.times_ms), len(memory.MEMORY_CATEGORIES))
        assert np.all(np.diff(m.times_ms) >= 0) and m.times_ms[0] == 0
        at_peak = m.at_peak()
        assert sum(at_peak.values()) == m.peak_bytes
        assert at_peak["parameter"] > 0 and at_peak["optimizer state"] > 0  # Adam: 2 per weight
        assert at_peak["activation"] >= 0.8 * m.saved_bytes
    assert plain.peak_bytes < with_bn.peak_bytes
    assert plain.at_peak()["activation"] < 0.6 * with_bn.at_peak()["activation"]
    table = bn_removal.memory_summary(step_memories)
    assert "no BN vs BN" in table and "% less" in table


def test_time_train_steps_interleaves_and_reports_each_model():
    models = {"a": build("edsr_tiny", 2), "b": build("edsr_tiny", 2, bn=True)}
    seconds = bn_removal.time_train_steps(models, batch_size=2, patch_size=16, steps=1, warmup=1)
    assert set(seconds) == {"a", "b"} and all(s > 0 for s in seconds.values())


def test_bn_makes_outputs_depend_on_the_batch_and_mode():
    crops = ex.lr_crops("Set5", scale=2, size=24)
    assert len(crops) == 5 and crops[0].shape == (24, 24, 3) and crops[0].dtype == np.uint8
    torch.manual_seed(0)
    with_bn = build("edsr_tiny", 2, bn=True).eval()
    before = [b.clone() for b in with_bn.buffers()]
    d = bn_removal.bn_batch_dependence(with_bn, crops)
    train_batch, eval_batch, train_eval = (d[key] for key in bn_removal.BATCH_DEPENDENCE)
    assert train_batch > 0.01 and train_eval > 0.01
    assert eval_batch < 1e-3
    assert all("_" not in key for key in d), "columns are words, not code identifiers"
    assert all(torch.equal(a, b) for a, b in zip(before, with_bn.buffers(), strict=True))
    plain = bn_removal.bn_batch_dependence(build("edsr_tiny", 2).eval(), crops)
    assert max(plain.values()) < 1e-3


def test_bn_normalizes_the_range_away():
    rows = bn_removal.bn_range_demo(ex.lr_crops("Set5", 2, 48)[0], contrasts=(0.25, 1.0, 2.0))
    conv = [r["conv_std"] for r in rows]
    assert conv[2] / conv[0] == pytest.approx(8, rel=1e-3)  # features follow the contrast
    assert all(r["conv_bn_std"] == pytest.approx(1, abs=0.01) for r in rows)  # BN: always 1


def test_repeated_step_memory_gives_one_peak_per_profiled_step():
    models = {"BN": build("edsr_tiny", 2, bn=True), "no BN": build("edsr_tiny", 2)}
    with_bn, plain = bn_removal.measure_step_memories(models, 2, 16, repeats=2)
    assert [m.label for m in (with_bn, plain)] == ["BN", "no BN"]
    for m in (with_bn, plain):
        assert len(m.peaks_mb) == 2 and max(m.peaks) == pytest.approx(m.peak_bytes, rel=0.05)
    # the claim's effect: MiB of peak saved without BN, from the repeated steps
    effect = claims.samples(with_bn.peaks_mb, plain.peaks_mb, unit="MiB")
    assert effect.verdict == claims.SHOWN


def test_train_step_times_keeps_every_timed_step():
    models = {"a": build("edsr_tiny", 2), "b": build("edsr_tiny", 2, bn=True)}
    times = bn_removal.train_step_times(models, batch_size=2, patch_size=16, steps=2, warmup=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 2, "b": 2}


def test_validation_crops_pair_lr_and_hr_and_scores_pair_image_by_image():
    crops = bn_removal.validation_crops(("Set5",), scale=2, size=24)
    assert [name for name, _, _ in crops][:2] == ["Set5/baby", "Set5/bird"] and len(crops) == 5
    name, lr, hr = crops[0]
    assert lr.shape == (24, 24, 3) and hr.shape == (48, 48, 3) and lr.dtype == np.uint8
    # the LR crop is the benchmark's LR of the HR crop, up to the border's neighbours
    torch.manual_seed(0)
    model = build("edsr_tiny", 2)
    scores = bn_removal.crop_psnrs({"a": model, "same": model}, crops)
    assert len(scores["a"]) == 5 and scores["a"] == scores["same"]
    assert claims.paired(scores["a"], scores["same"]).verdict == claims.WITHIN_NOISE

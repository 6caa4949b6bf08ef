"""The training engine: learning, resume, MDSR branch isolation, init-from, guards, DDP.

Every run here is tiny (1-2 residual blocks of 8-16 features, 12-16 px LR patches, a few
real T91 images copied to a temporary folder) so that the whole file takes well under a
minute and a half on 2 busy cores.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edsr_lite.checkpoints import is_compressed, read_checkpoint, save_checkpoint
from edsr_lite.core.models import build
from edsr_lite.course.figures import plot_curves
from edsr_lite.datasets import find_dataset
from edsr_lite.train import (
    Bf16UnavailableWarning,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    load_log,
    precision,
    train,
)
from edsr_lite.training_data import SkippedImagesWarning
from edsr_lite.weights import load_model

T91 = find_dataset("T91")


def tiny(train_dir, out, **overrides) -> TrainConfig:
    """A config that trains in a fraction of a second per step."""
    values = dict(
        preset="edsr_tiny",
        n_resblocks=1,
        n_feats=8,
        scale=2,
        data=str(train_dir),
        patch_size=12,
        batch_size=4,
        val_data="Set5",
        val_images=1,
        val_every=5,
        max_steps=6,
        lr=5e-4,
        seed=0,
        out=str(out),
    )
    values.update(overrides)
    return TrainConfig(**values)


def losses(log):
    return log.series("loss")[1]


# ---------------------------------------------------------------------------- learning


def test_loss_decreases_on_a_tiny_set(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", n_resblocks=2, n_feats=16, patch_size=16)
    config.batch_size, config.max_steps, config.val_data = 8, 40, None
    result = train(config, quiet=True)
    loss = losses(result.log)
    assert len(loss) == 40 and result.step == 40
    # Measured: the last 10 steps average about 0.3 x the first 5 (three seeds); 0.6 is margin.
    assert np.mean(loss[-10:]) < 0.6 * np.mean(loss[:5])


# ---------------------------------------------------------------------------- resume


KILL_SCRIPT = """
import json, os, signal, sys
from edsr_lite.train import TrainConfig, train

def die(step, row, model):
    if step == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind, like a power cut

train(TrainConfig(**json.loads(sys.argv[1])), quiet=True, callback=die)
"""


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_resume_reproduces_the_uninterrupted_run(train_dir, tmp_path, how):
    settings = dict(max_steps=10, save_every=4, val_every=4, decay_steps=4)  # lr decays too
    whole = train(tiny(train_dir, tmp_path / "whole", **settings), quiet=True)

    part = tiny(train_dir, tmp_path / "part", **settings)
    if how == "killed":  # SIGKILL at step 7: steps 5-7 are lost and must be redone the same way
        script = tmp_path / "kill.py"
        script.write_text(KILL_SCRIPT)
        done = subprocess.run([sys.executable, str(script), json.dumps(part.to_dict())])
        assert done.returncode == -9
        assert read_checkpoint(tmp_path / "part" / "latest.pt")["step"] == 4
        assert len(load_log(tmp_path / "part").rows) >= 7  # steps past the checkpoint, on disk
    else:  # stopped at step 5 by the budget, then continued with a larger one
        part.max_steps = 5
        train(part, quiet=True)
    part.max_steps, part.resume = 10, True
    resumed = train(part, quiet=True)

    assert resumed.step == 10 and resumed.steps_this_run == (6 if how == "killed" else 5)
    np.testing.assert_allclose(losses(resumed.log), losses(whole.log), rtol=1e-6)
    resumed_state = resumed.model.state_dict()
    for name, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed_state[name], value, rtol=1e-6, atol=1e-6, msg=name)
    on_disk = load_log(tmp_path / "part")
    assert [r["step"] for r in on_disk.rows] == list(range(11))  # no step twice, none lost
    # Same PSNR at the same steps (the stopped run also validated at its last step, 5).
    psnr_part = dict(zip(*on_disk.series("psnr"), strict=True))
    psnr_whole = dict(zip(*load_log(tmp_path / "whole").series("psnr"), strict=True))
    assert psnr_whole.items() <= psnr_part.items()


TERM_SCRIPT = """
import json, os, signal, sys
from edsr_lite.train import TrainConfig, train

TIMES = int(sys.argv[2])

def term(step, row, model):
    if step == 7:
        for _ in range(TIMES):
            os.kill(os.getpid(), signal.SIGTERM)  # what kill, or the end of a session, sends

try:
    train(TrainConfig(**json.loads(sys.argv[1])), quiet=True, callback=term)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize("times", [1, 2])
def test_sigterm_saves_the_finished_step_and_the_run_resumes_unchanged(train_dir, tmp_path, times):
    settings = dict(max_steps=10, save_every=4, val_every=4, decay_steps=4)
    config = tiny(train_dir, tmp_path / "run", **settings)
    script = tmp_path / "term.py"
    script.write_text(TERM_SCRIPT)
    done = subprocess.run([sys.executable, str(script), json.dumps(config.to_dict()), str(times)])
    assert done.returncode == 130
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "interrupted" and info["step"] == 7
    assert info["seconds"] > 0 or times == 2  # the time of the steps it saved
    # One SIGTERM: step 7 is finished and saved. A second one stops at once: the save of step 4.
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == (7 if times == 1 else 4)
    config.resume = True
    resumed = train(config, quiet=True)
    whole = train(tiny(train_dir, tmp_path / "whole", **settings), quiet=True)
    assert resumed.step == 10
    np.testing.assert_allclose(losses(resumed.log), losses(whole.log), rtol=1e-6)


def test_ctrl_c_in_a_notebook_stops_after_the_step_with_it_saved(train_dir, tmp_path):
    before = signal.getsignal(signal.SIGINT)

    def interrupt(step, row, model):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Jupyter's "interrupt kernel" sends

    config = tiny(train_dir, tmp_path / "run", max_steps=10, save_every=5, val_every=5)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 3"):
        train(config, quiet=True, callback=interrupt)
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works as usual again
    config.resume = True
    assert train(config, quiet=True).step == 10


def test_an_existing_run_is_not_overwritten_and_resume_checks_the_settings(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", max_steps=2, val_data=None)
    train(config, quiet=True)
    with pytest.raises(ValueError, match="already holds a run"):
        train(config, quiet=True)
    config.resume, config.lr = True, 1e-3
    with pytest.raises(ValueError, match="lr: 0.0005 -> 0.001"):
        train(config, quiet=True)


# ---------------------------------------------------------------------------- MDSR


def _branches(model):
    """{scale: flat copy of its pre_process + upsample weights}; 'shared': head/body/tail."""
    out = {}
    for i, s in enumerate(model.scales):
        params = [*model.pre_process[i].parameters(), *model.upsample[i].parameters()]
        out[s] = torch.cat([p.detach().flatten() for p in params]).clone()
    shared = [*model.head.parameters(), *model.body.parameters(), *model.tail.parameters()]
    out["shared"] = torch.cat([p.detach().flatten() for p in shared]).clone()
    return out


def _x2_then_x3(trainer):
    """Branch weights before and after an x3 step that follows an x2 step."""
    trainer.step(scale=2)  # gives the x2 branch Adam momentum
    before = _branches(trainer.model)
    trainer.step(scale=3)
    return before, _branches(trainer.model)


def test_an_mdsr_step_changes_only_its_own_branch_and_the_shared_layers(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", preset="mdsr_tiny", scale=None, val_data=None)
    before, after = _x2_then_x3(Trainer(config, quiet=True))
    assert torch.equal(after[2], before[2]) and torch.equal(after[4], before[4])
    assert not torch.equal(after[3], before[3])
    assert not torch.equal(after["shared"], before["shared"])

    # The test can fail: with zeroed instead of deleted gradients, Adam's momentum moves x2.
    config.out = str(tmp_path / "zeroed")
    trainer = Trainer(config, quiet=True)
    zero_grad = trainer.optimizer.zero_grad
    trainer.optimizer.zero_grad = lambda set_to_none=True: zero_grad(set_to_none=False)
    before, after = _x2_then_x3(trainer)
    assert not torch.equal(after[2], before[2]) and torch.equal(after[4], before[4])


def test_mdsr_runs_draw_one_scale_per_step_and_validate_every_scale(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", preset="mdsr_tiny", scale=None, max_steps=12)
    result = train(config, quiet=True)
    log = load_log(result.out_dir)
    assert {r["scale"] for r in log.rows if r["loss"] is not None} == {2, 3, 4}
    last = log.rows[-1]
    assert last["psnr"] == pytest.approx(np.mean([last[f"psnr_x{s}"] for s in (2, 3, 4)]))


# ---------------------------------------------------------------------------- init-from


def test_init_from_copies_what_fits_and_reports_it(train_dir, tmp_path, capsys):
    torch.manual_seed(1)
    x2 = build("edsr_tiny", 2, n_resblocks=1, n_feats=8)
    save_checkpoint(tmp_path / "x2.pt", x2)
    config = tiny(train_dir, tmp_path / "run", scale=4, max_steps=1, init_from=tmp_path / "x2.pt")
    trainer = Trainer(config, quiet=False)
    torch.testing.assert_close(trainer.model.head[0].weight, x2.head[0].weight)  # copied
    trainer.run()
    assert "init_from: copied" in capsys.readouterr().err
    report = json.loads((tmp_path / "run" / "run.json").read_text())["init_from"]
    assert report["source"] == str(tmp_path / "x2.pt")
    assert "head.0.weight" in report["copied"] and "body.0.body.0.weight" in report["copied"]
    assert "tail.0.2.weight" in report["missing_in_source"]  # x4's second x2 stage: random
    assert report["counts"] == {"copied": 16, "tensors": 18}
    assert report["another_architecture"] is False  # the paper's x2 -> x4: no warning
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["meta"]["init_from"] == report


# ---------------------------------------------------------------------------- guards


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", lr=1e20, save_every=1, val_data=None)
    with pytest.raises(TrainingDiverged, match=r"diverged at step 2.*latest.pt \(step 1\)"):
        train(config, quiet=True)
    assert issubclass(TrainingDiverged, ValueError)  # the CLI prints it without a traceback
    kept = read_checkpoint(tmp_path / "run" / "latest.pt")
    assert kept["step"] == 1
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "diverged"


def test_a_bad_image_is_skipped_and_reported_not_fatal(train_dir, tmp_path):
    good = (train_dir / "t2.png").read_bytes()
    (train_dir / "t4_truncated.png").write_bytes(good[: len(good) // 2])
    with pytest.warns(SkippedImagesWarning, match="t4_truncated.png"):
        result = train(tiny(train_dir, tmp_path / "run", max_steps=2), quiet=True)
    assert result.step == 2
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert [s["file"] for s in data["skipped"]] == ["t4_truncated.png"]
    assert data["images"] == 4  # read; the truncated file is counted apart
    assert (data["files"], data["unreadable"], data["used"]) == (5, 1, {"x2": 4})


def test_a_folder_without_usable_images_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable training image"):
        train(tiny(tmp_path / "empty", tmp_path / "run"), quiet=True)


def test_training_on_a_benchmark_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Set14 benchmark"):
        train(tiny("Set14", tmp_path / "run"), quiet=True)


# ---------------------------------------------------------------------------- outputs


def test_checkpoints_logs_and_metadata(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", max_steps=6, val_every=3, half_best=True)
    result = train(config, quiet=True)
    assert result.stopped_by == "max_steps" and result.final_psnr is not None
    assert result.best_psnr == max(load_log(result.out_dir).series("psnr")[1])
    latest = read_checkpoint(result.latest)
    meta = latest["meta"]
    assert meta["preset"] == "edsr_tiny" and meta["scales"] == [2] and meta["step"] == 6
    assert meta["train_config"]["lr"] == 5e-4 and meta["data"]["images"] == 4
    assert "git" in meta and meta["metrics"]["Set5[:1]"]["x2"] == result.final_psnr
    assert meta["machine"]["cpu_cores"] >= 1 and meta["machine"]["gpu"] is None
    steps = [r for r in load_log(result.out_dir).rows if r["loss"] is not None]
    assert len(steps) == 6 and all(r["grad_norm"] > 0 for r in steps)
    assert {"optimizer", "scheduler", "rng", "log"} <= set(latest)
    best = read_checkpoint(result.best)
    assert {v.dtype for v in best["state_dict"].values()} == {torch.float16}
    assert best["meta"]["step"] == result.best_step
    assert load_model(result.best).config["n_feats"] == 8
    assert not is_compressed(result.best)
    assert [p.name for p in sorted(result.out_dir.iterdir())] == [
        "best.pt",
        "latest.pt",
        "log.csv",
        "run.json",
    ]


def test_xz_best_stores_a_compressed_best_that_loads_like_any_checkpoint(train_dir, tmp_path):
    config = tiny(
        train_dir, tmp_path / "run", max_steps=2, val_every=2, half_best=True, xz_best=True
    )
    result = train(config, quiet=True)
    assert is_compressed(result.best) and not is_compressed(result.latest)
    model = load_model(result.best)
    assert model.meta["step"] == result.best_step and model.config["n_feats"] == 8


def test_max_minutes_stops_the_run_and_measures_the_final_weights(train_dir, tmp_path):
    config = tiny(train_dir, tmp_path / "run", max_steps=100_000, max_minutes=0.02)
    result = train(config, quiet=True)
    assert result.stopped_by == "max_minutes" and 0 < result.step < 100_000
    assert load_log(result.out_dir).rows[-1]["psnr"] == result.final_psnr


def test_bf16_and_nchw_modes_train(train_dir, tmp_path, monkeypatch):
    # bf16 is used where the hardware has it; here it is forced, so that the bf16 path runs
    # (slowly, on CPUs without bfloat16 instructions) wherever the tests do.
    monkeypatch.setattr(precision, "bf16_available", lambda device: True)
    for name, extra in (("bf16", {"bf16": True}), ("nchw", {"channels_last": False})):
        result = train(tiny(train_dir, tmp_path / name, max_steps=2, **extra), quiet=True)
        assert np.isfinite(losses(result.log)).all()
    assert _segments(tmp_path / "bf16")[0]["precision"] == "bfloat16 autocast"


def _segments(run: Path) -> list[dict]:
    return json.loads((run / "run.json").read_text())["segments"]


def test_bf16_without_hardware_support_trains_in_float32_and_says_so(
    train_dir, tmp_path, monkeypatch
):
    """Autocast without bfloat16 instructions is ~10x slower than float32 (measured on an AVX2
    CPU): such a run warns and trains exactly as a float32 run does."""
    monkeypatch.setattr(precision, "bf16_available", lambda device: False)
    with pytest.warns(Bf16UnavailableWarning, match="trains in float32"):
        asked = train(tiny(train_dir, tmp_path / "asked", max_steps=3, bf16=True), quiet=True)
    plain = train(tiny(train_dir, tmp_path / "plain", max_steps=3), quiet=True)
    assert losses(asked.log) == losses(plain.log)
    assert [s["precision"] for s in _segments(tmp_path / "asked")] == ["float32"]


def test_a_run_resumed_elsewhere_records_each_segment(train_dir, tmp_path, monkeypatch):
    """Which steps ran on which machine in which precision, across resumes; a checkpoint from
    before segments were recorded gets one for its steps so far, from its own record."""
    run = tmp_path / "run"
    monkeypatch.setattr(precision, "bf16_available", lambda device: True)
    train(tiny(train_dir, run, max_steps=4, bf16=True), quiet=True)
    ckpt = read_checkpoint(run / "latest.pt")
    del ckpt["meta"]["segments"]  # as written before this record existed
    torch.save(ckpt, run / "latest.pt")
    monkeypatch.setattr(precision, "bf16_available", lambda device: False)
    with pytest.warns(Bf16UnavailableWarning):
        train(tiny(train_dir, run, max_steps=8, bf16=True, resume=True), quiet=True)
    segments = _segments(run)
    assert [(s["steps"], s["precision"]) for s in segments] == [
        ([0, 4], "bfloat16 autocast"),
        ([4, 8], "float32"),
    ]
    assert all(s["machine"]["cpu_cores"] == os.cpu_count() for s in segments)
    # Resumed again on the same machine, in the same precision: the last segment grows.
    with pytest.warns(Bf16UnavailableWarning):
        train(tiny(train_dir, run, max_steps=10, bf16=True, resume=True), quiet=True)
    assert [s["steps"] for s in _segments(run)] == [[0, 4], [4, 10]]


def test_plot_curves_draws_one_curve_per_run(train_dir, tmp_path):
    a = train(tiny(train_dir, tmp_path / "a", max_steps=6, val_every=2), quiet=True)
    train(tiny(train_dir, tmp_path / "b", max_steps=6, val_every=3, seed=1), quiet=True)
    fig = plot_curves({"a": a, "b": tmp_path / "b"}, metric="psnr")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert [len(line.get_xdata()) for line in ax.lines] == [4, 3]  # steps 0,2,4,6 / 0,3,6
    fig = plot_curves({"a": load_log(a)}, metric="loss", smooth=3, x="minutes")
    assert len(fig.axes[0].lines) == 2  # raw (faint) and running mean
    fig = plot_curves({"a": a}, metric="grad_norm", smooth=1, logy=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel().startswith("gradient norm")
    assert list(ax.lines[0].get_ydata()) == load_log(a).series("grad_norm")[1]
    with pytest.raises(ValueError, match="metric must be"):
        plot_curves({"a": a}, metric="lr")


# ---------------------------------------------------------------------------- DDP

DDP_SCRIPT = """
import os, sys
import torch
from edsr_lite.train import TrainConfig, train

out, data = sys.argv[1], sys.argv[2]
snapshots = []

def record(step, row, model):
    branches = {
        s: torch.cat([p.detach().flatten().clone()
                      for m in (model.pre_process[i], model.upsample[i]) for p in m.parameters()])
        for i, s in enumerate(model.scales)
    }
    snapshots.append({"step": step, "scale": row["scale"], "loss": row["loss"], "b": branches})

config = TrainConfig(preset="mdsr_tiny", n_resblocks=1, n_feats=8, data=data, patch_size=12,
                     batch_size=4, val_data=None, max_steps=6, seed=0, lr=1e-3, out=out)
result = train(config, quiet=True, callback=record)
torch.save({"state": result.model.state_dict(), "snapshots": snapshots,
            "world_size": int(os.environ["WORLD_SIZE"])}, f"{out}/rank{os.environ['RANK']}.pt")
"""


def test_ddp_two_processes_end_with_identical_weights(train_dir, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*cmd, str(script), str(out), str(train_dir)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = [torch.load(out / f"rank{r}.pt") for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # The two replicas end identical, and trained (not the initial weights).
    for key, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][key]), key
    torch.manual_seed(0)
    initial = build("mdsr_tiny", n_resblocks=1, n_feats=8).state_dict()
    assert not torch.equal(ranks[0]["state"]["head.0.weight"], initial["head.0.weight"])
    # Every step used one scale on both processes; other branches stayed unchanged under DDP.
    snaps = [r["snapshots"] for r in ranks]
    assert [s["scale"] for s in snaps[0]] == [s["scale"] for s in snaps[1]]
    assert [s["loss"] for s in snaps[0]] == [s["loss"] for s in snaps[1]]  # the global mean
    trained_before, momentum_cases = set(), 0
    for prev, cur in itertools.pairwise(snaps[0]):
        trained_before.add(prev["scale"])
        momentum_cases += bool(trained_before - {cur["scale"]})  # a branch with Adam momentum
        for s, weights in cur["b"].items():
            assert torch.equal(weights, prev["b"][s]) == (s != cur["scale"]), (cur["step"], s)
    assert momentum_cases > 0  # (the seed gives x4 x4 x4 x3 x3 x4)
    # Rank 0 wrote the checkpoint of the same weights; rank 1 wrote nothing of its own.
    saved = read_checkpoint(out / "latest.pt")
    assert saved["meta"]["world_size"] == 2
    for key, value in saved["state_dict"].items():
        assert torch.equal(value, ranks[0]["state"][key])
    assert sorted(p.name for p in out.iterdir()) == [
        "latest.pt",
        "log.csv",
        "rank0.pt",
        "rank1.pt",
        "run.json",
    ]

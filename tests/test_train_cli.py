"""``edsr-lite train`` (edsr_lite.cli.train) and the shipped YAML configs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.cli import main
from edsr_lite.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny_cli(train_dir, out) -> list[str]:
    """``edsr-lite train`` arguments for a 2-step run of a 1-block, 8-feature model."""
    args = ["train", "--preset", "edsr_tiny", "--n-resblocks", "1", "--n-feats", "8"]
    args += ["--data", str(train_dir), "--patch-size", "12", "--batch-size", "4"]
    args += ["--val-data", "Set5"]  # the fixture's 4 images hold none of the default hold-out
    return [*args, "--val-images", "1", "--max-steps", "2", "--out", str(out)]


def test_cli_trains_resumes_and_reads_yaml(train_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*tiny_cli(train_dir, out), "--quiet"]) == 0
    # Resume needs only the folder: the stored run supplies the other settings.
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "3", "--quiet"]) == 0
    assert read_checkpoint(out / "latest.pt")["step"] == 3
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(f"preset: edsr_tiny\nn_resblocks: 1\nn_feats: 8\ndata: {train_dir}\n")
    more = ["--patch-size", "12", "--val-data", "none", "--max-steps", "1", "--quiet"]
    assert main(["train", "--config", str(yaml_file), "--out", str(tmp_path / "y"), *more]) == 0
    stored = read_checkpoint(tmp_path / "y" / "latest.pt")["meta"]["train_config"]
    assert stored["n_feats"] == 8 and stored["val_data"] is None and stored["max_steps"] == 1


def test_cli_user_mistakes_are_one_line_errors(train_dir, tmp_path, capsys):
    assert main(["train", "--data", "Set5", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "Set5 benchmark" in capsys.readouterr().err
    both = ["train", "--data", str(train_dir), "Set14", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(both) == 2
    assert "Set14 benchmark" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: edsr_tiny\nlearning_rate: 1\n")
    assert main(["train", "--config", str(bad), "--quiet"]) == 2
    assert "unknown training option(s) learning_rate" in capsys.readouterr().err


def test_a_finished_run_is_left_alone_and_never_started_over(train_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = [*tiny_cli(train_dir, out), "--resume"]
    assert main(args) == 0
    best = (out / "best.pt").read_bytes()
    # Again (as `make checkpoints` does): nothing to do, nothing rewritten
    capsys.readouterr()
    assert main(args) == 0
    assert "finished at step 2" in capsys.readouterr().out
    assert (out / "best.pt").read_bytes() == best
    # A shipped run keeps best.pt and its log, not latest.pt: resuming must not start over
    (out / "latest.pt").unlink()
    assert main([*args[:-1], "--max-steps", "4", "--resume", "--quiet"]) == 2
    assert "no latest.pt to resume from" in capsys.readouterr().err
    assert (out / "best.pt").read_bytes() == best


def test_train_help_explains_the_flags():
    result = subprocess.run(
        [sys.executable, "-m", "edsr_lite", "train", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for flag in ("--preset", "--init-from", "--max-minutes", "--resume", "--bf16", "LR pixels"):
        assert flag in result.stdout


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    config = TrainConfig.from_yaml(path)
    config.validate()
    data = config.data if isinstance(config.data, list) else [config.data]
    assert not set(data) & {"Set5", "Set14", "B100"}


@pytest.mark.parametrize(
    "a, b, differ",
    [
        ("edsr_baseline_x4", "edsr_baseline_x4_scratch", {"init_from", "max_steps"}),
        ("edsr_wide_rs1_x2", "edsr_wide_rs0.1_x2", {"res_scale"}),
        ("edsr_baseline_x2", "edsr_baseline_bn_x2", {"bn", "max_steps"}),
    ],
)
def test_ablation_pairs_differ_only_in_what_they_compare(a, b, differ):
    """The notebooks put these runs' curves side by side: same seed, data and recipe; a control
    that stops earlier is compared over its own steps (`shipped_logs(same_budget=True)`)."""
    ca, cb = (TrainConfig.from_yaml(ROOT / "configs" / f"{n}.yaml") for n in (a, b))
    fields = set(TrainConfig.__dataclass_fields__) - {"out"}
    assert {f for f in fields if getattr(ca, f) != getattr(cb, f)} == differ
    assert cb.max_steps <= ca.max_steps  # the control is the shorter run: its steps are compared


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_runs_were_trained_by_their_configs(path):
    """A run's log is only the result of its config if the config did not change after it."""
    config = TrainConfig.from_yaml(path)
    run_json = ROOT / config.out / "run.json"
    if not run_json.is_file():
        pytest.skip(f"{config.out} has no run in this checkout")
    stored = TrainConfig.from_dict(json.loads(run_json.read_text())["train_config"])
    run_local = {"out", "resume", "save_every", "device"}  # how it ran, not what it trained
    fields = set(TrainConfig.__dataclass_fields__) - run_local
    assert {f: getattr(stored, f) for f in fields} == {f: getattr(config, f) for f in fields}

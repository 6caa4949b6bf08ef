"""Run records are for people and for other machines: a readable checkpoint summary, and no
machine's absolute paths in any shipped file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edsr_lite.checkpoints import read_checkpoint, save_checkpoint
from edsr_lite.core.models import build
from edsr_lite.locations import CHECKPOINT_DIR, DATA_DIR, REPO_ROOT
from edsr_lite.summary import describe_checkpoint
from edsr_lite.train.runlog import portable_data_report, portable_path
from edsr_lite.weights import available_pretrained

#: A machine's absolute path: a POSIX root folder, a home folder or a Windows drive; or the
#: shared data folder of the machine the runs trained on (``.../shared/data/BSD200``).
MACHINE_PATH = re.compile(
    r"""["'\s](/(work|root|home|Users|tmp|mnt|data)/|[A-Z]:\\\\)|shared/data|"host":"""
)
#: What a shipped file under data/ may be besides text: images (pixels only) and checkpoints
#: (their metadata is checked by test_shipped_checkpoint_metadata_names_no_machine).
BINARY_SUFFIXES = {".png", ".bmp", ".jpg", ".pt"}
SHIPPED_TEXT = [p for p in sorted(DATA_DIR.rglob("*")) if p.is_file()]
SHIPPED_TEXT = [p for p in SHIPPED_TEXT if p.suffix.lower() not in BINARY_SUFFIXES]
SHIPPED_CHECKPOINTS = sorted([*DATA_DIR.rglob("best.pt"), *DATA_DIR.rglob("latest.pt")])


def test_portable_path_is_repository_relative_or_a_name(tmp_path):
    assert portable_path(REPO_ROOT / "data" / "T91") == "data/T91"
    assert portable_path(tmp_path / "shared" / "data" / "BSD200") == "BSD200"
    assert portable_path("data/T91") == "data/T91"
    report = {"folders": [str(REPO_ROOT / "data" / "T91"), "/elsewhere/DIV2K"], "images": 3}
    assert portable_data_report(report) == {"folders": ["data/T91", "DIV2K"], "images": 3}
    assert portable_data_report(None) is None


def test_every_shipped_file_under_data_is_scanned():
    """No file escapes the scans below: every file under data/ is text or a known binary."""
    assert SHIPPED_TEXT and SHIPPED_CHECKPOINTS
    names = {p.name for p in SHIPPED_TEXT}
    assert {"RESULTS.json", "RESULTS.md", "SHA256SUMS", "run.json", "log.csv"} <= names


@pytest.mark.parametrize("path", SHIPPED_TEXT, ids=lambda p: str(p.relative_to(DATA_DIR)))
def test_shipped_text_files_hold_no_machine_paths(path):
    text = path.read_text(errors="replace")
    found = [m.group(0).strip() for m in MACHINE_PATH.finditer(text)]
    assert not found, f"{path.relative_to(REPO_ROOT)} holds absolute paths: {found[:3]}"


@pytest.mark.parametrize("path", SHIPPED_CHECKPOINTS, ids=lambda p: str(p.relative_to(DATA_DIR)))
def test_shipped_checkpoint_metadata_names_no_machine(path):
    """A shipped checkpoint's ``meta`` names its data sets, not this machine's folders, and
    its ``machine`` records no host name (tools/clean_run_records.py rewrites one that does)."""
    from tools.clean_run_records import machine_details

    meta = read_checkpoint(path)["meta"]
    assert not list(machine_details(meta)), f"{path}: {list(machine_details(meta))[:3]}"
    text = json.dumps(meta, default=str)
    for fragment in ("/work", "/home", "/tmp", "/root", "shared/data", '"host"'):
        assert fragment not in text, f"{path.relative_to(REPO_ROOT)} meta holds {fragment}"
    assert all(not Path(f).is_absolute() for f in meta.get("data", {}).get("folders", []))


def test_tool_finds_nothing_left_to_clean(capsys):
    from tools.clean_run_records import main

    assert main(["--check"]) == 0
    assert "holds a machine's details" not in capsys.readouterr().out


@pytest.mark.parametrize("name", available_pretrained())
def test_summary_of_a_shipped_checkpoint_is_short_and_human(name):
    text = describe_checkpoint(name)
    assert len(text.splitlines()) <= 10
    for needed in ("model:", "parameters:", "trained on:", "steps:", "selected:", "score:"):
        assert needed in text
    assert "T91 + BSD200" in text and " dB" in text and "CPU" in text
    assert "/" + "work" not in text and "git" not in text and "{" not in text
    assert str(REPO_ROOT) not in text and str(CHECKPOINT_DIR) not in text


def test_full_record_is_one_call_away():
    path = CHECKPOINT_DIR / "edsr_baseline_x2" / "best.pt"
    full = describe_checkpoint("edsr_baseline_x2", full=True)
    record = json.loads(full.split("full record:\n", 1)[1])
    assert record == json.loads(json.dumps(read_checkpoint(path)["meta"], default=str))


def test_summary_of_a_checkpoint_without_a_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = save_checkpoint(tmp_path / "mine.pt", build("edsr_tiny", 3))
    text = describe_checkpoint(path)
    assert "edsr_tiny: EDSR, 8 residual blocks x 32 features" in text and "x3" in text
    assert "file:        mine.pt" in text and str(tmp_path) not in text
    assert "no training record" in text


def test_shipped_run_json_names_its_data_sets():
    for run_json in sorted(CHECKPOINT_DIR.glob("*/run.json")):
        folders = json.loads(run_json.read_text())["data"]["folders"]
        assert all(not Path(f).is_absolute() for f in folders), run_json


def test_a_new_run_records_its_data_by_name(train_dir, tmp_path):
    from edsr_lite.train import TrainConfig, train

    config = TrainConfig(
        preset="edsr_tiny", n_resblocks=1, n_feats=8, scale=2, data=str(train_dir),
        patch_size=12, batch_size=4, val_data="Set5", val_images=1, val_every=2, max_steps=2,
        out=str(tmp_path / "run"),
    )  # fmt: skip
    result = train(config, quiet=True)
    info = json.loads((result.out_dir / "run.json").read_text())
    assert info["data"]["folders"] == ["train"]  # the folder's name, not /tmp/.../train
    assert read_checkpoint(result.best)["meta"]["data"]["folders"] == ["train"]
    assert str(tmp_path) not in describe_checkpoint(result.best)


def test_tool_rewrites_a_checkpoint_keeping_its_weights_and_pins_the_new_sha256(tmp_path):
    """tools/clean_run_records.py on a run recorded the old way: absolute folders and a host
    name in ``best.pt``'s meta and in run.json. The weights stay byte for byte, RESULTS.json
    pins the new file, and --check then finds nothing."""
    from edsr_lite.files import sha256_file
    from tools.clean_run_records import _raw_checkpoint, main, same_weights

    run = tmp_path / "data" / "checkpoints" / "tiny"
    machine = {"host": "box7", "os": "Linux-6.1-x86_64-with-glibc2.36", "cpu_cores": 2}
    meta = {"data": {"folders": ["/home/me/shared/data/BSD200"]}, "machine": machine}
    best = save_checkpoint(run / "best.pt", build("edsr_tiny", 2), meta=meta, half=True)
    (run / "run.json").write_text(json.dumps({"status": "finished", **meta}))
    results = tmp_path / "data" / "RESULTS.json"
    info = {"file": "data/checkpoints/tiny/best.pt", "sha256": sha256_file(best)}
    info["machine"] = machine
    results.write_text(json.dumps({"checkpoints": {"tiny": info}}))
    before = _raw_checkpoint(best)
    argv = ["--dir", str(tmp_path / "data" / "checkpoints"), "--results", str(results)]

    assert main([*argv, "--check"]) == 1
    assert main(argv) == 0
    assert main([*argv, "--check"]) == 0
    after = _raw_checkpoint(best)
    assert same_weights(before["state_dict"], after["state_dict"])
    assert after["config"] == before["config"]
    assert after["meta"]["data"]["folders"] == ["BSD200"]
    assert after["meta"]["machine"] == {"os": "Linux", "cpu_cores": 2}
    assert json.loads((run / "run.json").read_text())["machine"] == after["meta"]["machine"]
    pinned = json.loads(results.read_text())["checkpoints"]["tiny"]
    assert pinned["sha256"] == sha256_file(best) != info["sha256"]
    assert pinned["machine"] == after["meta"]["machine"]

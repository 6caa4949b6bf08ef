"""One training run per folder (edsr_lite.train.resume.RunFolderLock): a second ``train`` on a
folder in use is refused at once, before it reads or writes a file there, and the lock dies with
its process.

Before the lock, two ``edsr-lite train`` into one ``--out`` both exited 0 with a log.csv that
read 1,1,2,2,3,3... and one run's weights silently gone.
"""

import json
import os
import subprocess
import sys

import pytest
from test_train import tiny
from test_train_cli import tiny_cli

from edsr_lite.cli import main
from edsr_lite.train import train
from edsr_lite.train.engine import Trainer
from edsr_lite.train.resume import RUN_LOCK, RunFolderError, RunFolderInUse, RunFolderLock


def snapshot(folder) -> dict:
    """Every file of ``folder`` with its bytes: what a refused run must leave as it was."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != RUN_LOCK}


def test_a_second_trainer_on_a_folder_in_use_is_refused_until_the_first_ends(train_dir, tmp_path):
    out = tmp_path / "run"
    first = Trainer(tiny(train_dir, out, max_steps=2, val_every=2), quiet=True)
    before = snapshot(out)
    for resume in (False, True):
        with pytest.raises(RunFolderInUse) as refused:
            Trainer(tiny(train_dir, out, max_steps=4, resume=resume), quiet=True)
        message = str(refused.value)
        assert message == (
            f"{out} is in use by another training run (pid {os.getpid()}): "
            "wait for it to end, or choose another --out folder."
        )
    assert snapshot(out) == before  # nothing read into or written by the refused runs
    first.run()
    first.folder_lock.release()
    assert not (out / RUN_LOCK).exists()  # the folder holds the run's files only
    resumed = train(tiny(train_dir, out, max_steps=4, val_every=2, resume=True), quiet=True)
    assert resumed.step == 4 and resumed.steps_this_run == 2
    steps = [line.split(",")[0] for line in _log_lines(out)]
    assert steps == ["0", "1", "2", "3", "4"]  # one run's log, not 0, 0, 1, 1, 2, 2, ...


def _log_lines(out) -> list[str]:
    return (out / "log.csv").read_text().splitlines()[1:]


HOLD = """
import json, sys
from edsr_lite.train import TrainConfig
from edsr_lite.train.engine import Trainer

trainer = Trainer(TrainConfig(**json.loads(sys.argv[1])), quiet=True)
print("holding", flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_the_cli_is_refused_while_another_process_trains_and_the_lock_dies_with_it(
    train_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    script = tmp_path / "hold.py"
    script.write_text(HOLD)
    config = tiny(train_dir, out, max_steps=2)
    child = subprocess.Popen(
        [sys.executable, str(script), json.dumps(config.to_dict())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "holding\n"
        before = snapshot(out)
        for extra in ([], ["--resume"]):
            assert main([*tiny_cli(train_dir, out), "--quiet", *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "Traceback" not in err
            assert f"{out} is in use by another training run (pid {child.pid})" in err
            assert "choose another --out" in err
        assert snapshot(out) == before
    finally:
        child.kill()  # SIGKILL: no clean-up of any kind
        child.wait()
    assert (out / RUN_LOCK).exists()  # left behind by the killed process, but not held
    assert main([*tiny_cli(train_dir, out), "--quiet", "--resume"]) == 0
    assert [line.split(",")[0] for line in _log_lines(out)] == ["0", "1", "2"]


def test_a_folder_holding_only_a_stale_lock_file_is_an_empty_folder(train_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_LOCK).write_text("12345\n")  # as a killed run leaves it
    assert main([*tiny_cli(train_dir, out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "latest.pt", "log.csv", "run.json"]
    stale = tmp_path / "again"
    stale.mkdir()
    (stale / RUN_LOCK).write_text("")
    assert main([*tiny_cli(train_dir, stale), "--resume"]) == 0
    assert "no latest.pt to resume from; starting the run" in capsys.readouterr().err


def test_a_folder_that_cannot_be_a_run_folder_is_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(RunFolderError, match="is a file, not a folder: choose another --out"):
        RunFolderLock(notes).acquire()
    with pytest.raises(RunFolderError, match="cannot write into .*choose another --out"):
        RunFolderLock(notes / "run").acquire()  # a file where a parent folder should be
    assert notes.read_text() == "mine"


def test_the_lock_is_reentrant_for_its_holder_and_off_for_other_ranks(tmp_path):
    lock = RunFolderLock(tmp_path / "run")
    lock.acquire()
    lock.acquire()  # run() after __init__: still one holder
    assert lock.held and RunFolderLock(tmp_path / "run", enabled=False).held is False
    RunFolderLock(tmp_path / "run", enabled=False).acquire()  # rank > 0: takes nothing
    lock.release()
    assert not lock.held and not (tmp_path / "run" / RUN_LOCK).exists()
    again = RunFolderLock(tmp_path / "run")
    again.acquire()  # free again
    again.release()

"""edsr_lite.runs: the run record (run.json) written, read back, and refused when broken."""

from __future__ import annotations

import json

import pytest

from edsr_lite.runs import (
    RUN_JSON,
    RunRecordError,
    finished_run_info,
    read_run,
    run_path,
    run_status,
    write_run,
)
from edsr_lite.train.runlog import load_log

RECORD = {
    "status": "finished",
    "stopped_by": "max_steps",
    "preset": "edsr_tiny",
    "scales": [2],
    "step": 6,
    "metrics": {"Set5[:2]": {"x2": 31.25}, "step": 6},
    "segments": [{"steps": [0, 6], "precision": "float32", "machine": {"cpu_cores": 2}}],
    "seconds": 1.5,
}


def test_a_record_round_trips(tmp_path):
    path = write_run(tmp_path / "run", RECORD)  # the folder is made if needed
    assert path == run_path(tmp_path / "run") == tmp_path / "run" / RUN_JSON
    assert read_run(tmp_path / "run") == RECORD
    assert path.read_text() == json.dumps(RECORD, indent=2) + "\n"  # as the trainer wrote it
    assert [p.name for p in path.parent.iterdir()] == [RUN_JSON]  # no temporary file left
    assert run_status(path.parent) == "finished" and finished_run_info(path.parent) == RECORD


def test_the_status_decides_whether_a_run_finished(tmp_path):
    write_run(tmp_path, {**RECORD, "stopped_by": "max_minutes"})  # stopped early by time
    assert run_status(tmp_path) == "finished" and finished_run_info(tmp_path) is None
    write_run(tmp_path, {"status": "running"})
    assert run_status(tmp_path) == "running" and finished_run_info(tmp_path) is None
    write_run(tmp_path, {"status": "finished"})  # an older record: no stopped_by
    assert finished_run_info(tmp_path) == {"status": "finished"}


def test_a_folder_without_a_record(tmp_path):
    assert read_run(tmp_path) is None and read_run(tmp_path / "no_such_run") is None
    assert run_status(tmp_path) is None and finished_run_info(tmp_path) is None
    (tmp_path / "log.csv").write_text("step,scale,loss\n1,2,9.5\n")
    assert load_log(tmp_path).info == {}


@pytest.mark.parametrize(
    "content, reason",
    [
        (b'{"status": "runn', "the JSON is broken"),  # a record cut short
        (b"", "the JSON is broken"),
        (b"\xff\xfe not text", "the JSON is broken"),
        (b'["finished"]', "a JSON list, not an object"),
        (b"42", "a JSON int, not an object"),
    ],
    ids=["cut short", "empty", "not UTF-8", "a list", "a number"],
)
def test_a_broken_record_is_one_plain_error(tmp_path, content, reason):
    run_path(tmp_path).write_bytes(content)
    with pytest.raises(RunRecordError) as info:
        read_run(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / RUN_JSON}: not a run record") and reason in message
    assert "\n" not in message and isinstance(info.value, ValueError)  # the CLI's one line
    # The lenient readers (is it finished? does it ship?) take it as no record.
    assert run_status(tmp_path) is None and finished_run_info(tmp_path) is None
    (tmp_path / "log.csv").write_text("step,scale,loss\n1,2,9.5\n")
    with pytest.raises(RunRecordError):
        load_log(tmp_path)

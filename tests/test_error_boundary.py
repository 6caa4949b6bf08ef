"""The command line's one error boundary (``edsr_lite.cli.main``): every fault of the machine,
of a file or of the command becomes one line ``edsr-lite COMMAND: error: ...`` and an exit
status (1: the machine, the network or a file's bytes; 2: the command), never a traceback;
``--debug`` or ``EDSR_LITE_DEBUG=1`` shows the traceback; Ctrl-C exits 130 with one line.

Each fault is raised where ``edsr-lite info`` does its work (a monkeypatched
``describe_checkpoint``), so each case runs in milliseconds and does not depend on being
able to fill a disk or take a permission away (the tests may run as root).
"""

from __future__ import annotations

import errno
import lzma
import os
import warnings

import pytest
import torch
from PIL import Image

import edsr_lite.summary as summary
from edsr_lite.checkpoints import CheckpointError
from edsr_lite.cli import UserError, main
from edsr_lite.download import DownloadError
from edsr_lite.errors import EdsrLiteError
from edsr_lite.images import ImageReadError
from edsr_lite.runs import RunRecordError
from edsr_lite.train.engine import TrainingDiverged


def _os_error(code: int, filename: str | None = None) -> OSError:
    """An OSError as the system raises it (the right subclass for ``code``)."""
    return OSError(code, os.strerror(code), *([filename] if filename else []))


FAULTS = {  # id: (exception raised inside the command, exit status, words the line must hold)
    "read-only folder": (
        _os_error(errno.EROFS, "/cache/official/x.pt"),
        1,
        ["/cache/official/x.pt: ", "read-only file system: choose another place"],
    ),
    "no permission": (
        _os_error(errno.EACCES, "/out/run"),
        1,
        ["/out/run: Permission denied", "choose another place"],
    ),
    "a folder in the way": (
        _os_error(errno.EISDIR, "dir.onnx"),
        1,
        ["dir.onnx: Is a directory", "it is a folder: name a file"],
    ),
    "full disk": (_os_error(errno.ENOSPC), 1, ["No space left on device", "free some space"]),
    "a missing file": (_os_error(errno.ENOENT, "nope.png"), 2, ["nope.png: ", "check the path"]),
    "MemoryError": (
        MemoryError("Unable to allocate 894. GiB for an array with shape (1, 3)"),
        1,
        ["out of memory (Unable to allocate 894. GiB", "--tile or --batch-size"],
    ),
    "torch allocation": (
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: not enough memory: "
            "you tried to allocate 86000000000 bytes."
        ),
        1,
        ["out of memory (not enough memory: you tried to allocate 86000000000 bytes.)"],
    ),
    "undecodable bytes": (
        UnicodeDecodeError("utf-8", b"\xc4", 0, 1, "invalid continuation byte"),
        1,
        ["could not be decoded", "invalid continuation byte"],
    ),
    "corrupt xz": (lzma.LZMAError("Corrupt input data"), 1, ["Corrupt input data"]),
    "no such device": (
        RuntimeError("PyTorch is not linked with support for mps devices"),
        2,
        ["PyTorch sees no mps device here: use --device cpu"],
    ),
    "a download": (DownloadError("cannot connect to 127.0.0.1:9"), 1, ["cannot connect"]),
    "a bad checkpoint": (CheckpointError("x.pt is not a checkpoint"), 2, ["x.pt is not a"]),
    "a bad run record": (RunRecordError("run.json: not a run record"), 2, ["not a run record"]),
    "a bad argument": (ValueError("tile must be 0 or at least 16, got -5"), 2, ["tile must be"]),
    "a mistake": (UserError("name the files to fetch"), 2, ["name the files to fetch"]),
}


@pytest.fixture
def info_raises(monkeypatch):
    """``edsr-lite info`` raises the given exception (or warns, then answers)."""

    def install(exc: BaseException) -> None:
        def describe(*args, **kwargs):
            raise exc

        monkeypatch.setattr(summary, "describe_checkpoint", describe)

    monkeypatch.delenv("EDSR_LITE_DEBUG", raising=False)
    return install


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_each_fault_is_one_line_and_an_exit_status(info_raises, capsys, fault):
    exc, status, words = fault
    info_raises(exc)
    assert main(["info", "x.pt"]) == status
    err = capsys.readouterr().err
    assert err.startswith("edsr-lite info: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "[Errno" not in err
    for word in words:
        assert word in err


def test_a_huge_message_is_cut_short(info_raises, capsys):
    info_raises(MemoryError("'lol' " * 1_000_000))  # what an exploded YAML alias repr()s
    assert main(["info", "x.pt"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 2200 and err.rstrip().endswith("[...]")


def test_a_bug_keeps_its_traceback(info_raises):
    info_raises(
        ZeroDivisionError("division by zero")
    )  # not a user's fault: the report is the trace
    with pytest.raises(ZeroDivisionError):
        main(["info", "x.pt"])


def test_debug_flag_and_variable_show_the_traceback(info_raises, monkeypatch, capsys):
    info_raises(_os_error(errno.EACCES, "/out/run"))
    with pytest.raises(PermissionError):
        main(["--debug", "info", "x.pt"])
    monkeypatch.setenv("EDSR_LITE_DEBUG", "1")
    with pytest.raises(PermissionError):
        main(["info", "x.pt"])
    monkeypatch.setenv("EDSR_LITE_DEBUG", "0")  # 0 is off
    assert main(["info", "x.pt"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_ctrl_c_exits_130_with_one_line(info_raises, capsys):
    info_raises(KeyboardInterrupt())
    assert main(["info", "x.pt"]) == 130
    assert capsys.readouterr().err == "edsr-lite info: interrupted\n"


def test_warnings_of_dependencies_are_one_plain_line(monkeypatch, capsys):
    def describe(*args, **kwargs):
        warnings.warn(
            "Image size (95000000 pixels) exceeds limit of 89478485 pixels, could be "
            "decompression bomb DOS attack.",
            Image.DecompressionBombWarning,
            stacklevel=1,
        )
        warnings.warn("a library's\nmulti-line warning", UserWarning, stacklevel=1)
        return "model: ok"

    monkeypatch.setattr(summary, "describe_checkpoint", describe)
    assert main(["info", "x.pt"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "edsr-lite info: warning: a very large image (95,000,000 pixels, over PIL's limit of "
        "89,478,485): reading and upscaling it takes much memory and time",
        "edsr-lite info: warning: a library's multi-line warning",
    ]


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has an mps device")
def test_train_on_a_device_pytorch_does_not_see(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (120, 120), (90, 40, 200)).save(data / "a.png")
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "edsr_tiny"]
    assert main([*argv, "--max-steps", "1", "--quiet", "--device", "mps"]) == 2
    err = capsys.readouterr().err
    line = "edsr-lite train: error: device: PyTorch sees no mps device here: use --device cpu"
    assert err.startswith(line) and err.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.parametrize(
    "error, base",
    [
        (CheckpointError, ValueError),
        (ImageReadError, ValueError),
        (RunRecordError, ValueError),
        (TrainingDiverged, ValueError),
        (DownloadError, OSError),
        (UserError, Exception),
    ],
)
def test_the_package_errors_share_one_base_and_keep_their_own(error, base):
    assert issubclass(error, EdsrLiteError) and issubclass(error, base)

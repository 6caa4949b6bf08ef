"""The download's faults, handled by design (issue #31): one fetch per file at a time, a bounded
size, a stall timeout, a verified cache, and one plain line for every fault.

Each test runs against a local server on 127.0.0.1 (``local_server.py``) and takes a second or
two at most; the ``weights fetch`` cases check what a user sees: one line, exit status 1.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from local_server import LocalServer, hashed_name, no_proxy

from edsr_lite import download as dl
from edsr_lite import official
from edsr_lite.cli import main
from edsr_lite.download import DownloadError, download, lock_path, partial_path

PAYLOAD = bytes(range(256)) * 40  # 10 KB
NAME = hashed_name("model", PAYLOAD)
PREFIX = NAME.removesuffix(".pt").rsplit("-", 1)[1]
OFFICIAL = "official/edsr_baseline_x2"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server(monkeypatch):
    no_proxy(monkeypatch)
    with LocalServer({NAME: PAYLOAD}) as s:
        yield s


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache; the registry's x2 baseline renamed after the served file."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EDSR_LITE_CACHE", str(folder))
    entry = dataclasses.replace(official.OFFICIAL_WEIGHTS[OFFICIAL], file=NAME)
    monkeypatch.setitem(official.OFFICIAL_WEIGHTS, OFFICIAL, entry)
    return folder


def _fetch_command(capsys) -> tuple[int, str]:
    """``edsr-lite weights fetch`` of the test's official file: its status and its stderr."""
    status = main(["weights", "fetch", OFFICIAL, "-q"])
    return status, capsys.readouterr().err


def _one_plain_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- one fetch per file


def test_two_fetches_at_once_download_once_and_both_succeed(server, tmp_path):
    server.pause, server.piece = 0.02, 1024  # the first fetch takes ~0.2 s: the second waits
    target = tmp_path / NAME
    results, errors = [], []

    def fetch():
        try:
            results.append(download(server.url + NAME, target, PREFIX, progress=False))
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [] and results == [target, target]
    assert server.ranges == [None]  # one download; the second used the verified file
    assert target.read_bytes() == PAYLOAD and not partial_path(target).exists()


def test_a_process_fetching_makes_another_wait_then_reuse_its_file(server, tmp_path):
    target = tmp_path / NAME
    server.pause, server.piece = 0.1, 1024  # the other process's fetch takes ~1 s
    code = textwrap.dedent(f"""
        from edsr_lite.download import download
        download({server.url + NAME!r}, {str(target)!r}, {PREFIX!r}, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    other = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not server.ranges and other.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the other process holds the lock and has asked for the file
    assert download(server.url + NAME, target, PREFIX, progress=False) == target
    assert other.wait(timeout=20) == 0, other.stderr.read()
    assert server.ranges == [None]  # one download, by the other process
    assert target.read_bytes() == PAYLOAD and not partial_path(target).exists()


def test_the_lock_dies_with_its_process(server, tmp_path):
    target = tmp_path / NAME
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; FileLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(lock_path(target)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=10)
    assert download(server.url + NAME, target, PREFIX, progress=False) == target


# --------------------------------------------------------------------------- bounded


def test_a_trickling_server_hits_the_stall_timeout(server, tmp_path):
    server.pause, server.piece = 0.05, 1  # 20 bytes/s: a byte keeps coming, progress does not
    target = tmp_path / NAME
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"stalled: fewer than 64 KiB in 1 s") as err:
        download(server.url + NAME, target, PREFIX, progress=False, stall=1)
    assert time.monotonic() - started < 5
    assert "Run the same call again to resume" in str(err.value)
    assert not target.exists()


def test_a_silent_server_hits_the_stall_timeout(server, tmp_path):
    server.pause = 30.0  # headers, then nothing
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"no data for 1 s"):
        download(server.url + NAME, tmp_path / NAME, PREFIX, progress=False, stall=1)
    assert time.monotonic() - started < 5


def test_an_endless_body_stops_at_the_expected_size(server, tmp_path):
    server.endless = True  # no Content-Length, zeros without end
    target = tmp_path / NAME
    with pytest.raises(DownloadError, match=r"more than the 10,240 bytes expected") as err:
        download(server.url + NAME, target, PREFIX, max_bytes=len(PAYLOAD), progress=False)
    assert "The partial file was removed." in str(err.value)
    assert not partial_path(target).exists() and not target.exists()


def test_an_announced_size_over_the_bound_is_refused_before_the_body(server, tmp_path):
    target = tmp_path / NAME
    with pytest.raises(DownloadError, match=r"announces 10,240 bytes, more than the 100"):
        download(server.url + NAME, target, PREFIX, max_bytes=100, progress=False)
    assert not partial_path(target).exists()


def test_the_official_files_are_bounded_by_their_parameter_count():
    for w in official.OFFICIAL_WEIGHTS.values():
        data = official.parameter_bytes(w.preset, w.scales)
        assert data < w.max_bytes < 1.2 * data + 2**20
    assert official.OFFICIAL_WEIGHTS["official/edsr_x4"].max_bytes < 200e6  # 172 MB file


# --------------------------------------------------------------------------- verified before use


def test_a_damaged_cached_file_is_fetched_again(server, cache, monkeypatch, capsys):
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", server.url)
    path = official.official_weights(OFFICIAL).path
    path.parent.mkdir(parents=True)
    path.write_bytes(PAYLOAD[:-1] + b"!")  # same size, one byte wrong
    assert main(["weights", "fetch", OFFICIAL, "-q"]) == 0
    assert "downloaded, sha256 checked" in capsys.readouterr().out
    assert path.read_bytes() == PAYLOAD and server.ranges == [None]
    assert main(["weights", "fetch", OFFICIAL, "-q"]) == 0  # now whole: used as it is
    assert "already cached, checked" in capsys.readouterr().out
    assert server.ranges == [None]


# --------------------------------------------------------------------------- one plain line


def test_a_cache_that_cannot_be_a_folder_gives_one_plain_line(
    server, tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, where the cache folder should be")
    monkeypatch.setenv("EDSR_LITE_CACHE", str(blocker / "cache"))
    entry = dataclasses.replace(official.OFFICIAL_WEIGHTS[OFFICIAL], file=NAME)
    monkeypatch.setitem(official.OFFICIAL_WEIGHTS, OFFICIAL, entry)
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", server.url)
    status, err = _fetch_command(capsys)
    line = _one_plain_line(err)
    assert status == 1
    assert f"cannot write into {blocker / 'cache' / 'official'}" in line
    assert f"{blocker} is a file" in line and "$EDSR_LITE_CACHE" in line
    assert server.ranges == []  # refused before any request


def test_a_read_only_cache_gives_one_plain_line(server, cache, monkeypatch, capsys):
    (cache / "official").mkdir(parents=True)
    os.chmod(cache / "official", 0o555)
    if os.access(cache / "official", os.W_OK):  # root writes anywhere: a read-only disk then

        def read_only(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        monkeypatch.setattr(dl, "FileLock", read_only)
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", server.url)
    try:
        status, err = _fetch_command(capsys)
    finally:
        os.chmod(cache / "official", 0o755)
    line = _one_plain_line(err)
    assert status == 1 and f"cannot write into {cache / 'official'}" in line
    assert "$EDSR_LITE_CACHE" in line and server.ranges == []


def test_a_bad_weights_url_names_the_variable(cache, monkeypatch, capsys):
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", "not a url")
    status, err = _fetch_command(capsys)
    line = _one_plain_line(err)
    assert status == 1
    assert "$EDSR_LITE_WEIGHTS_URL is 'not a url', not an http:// or https:// address" in line
    assert not cache.exists()


def test_a_bad_url_is_refused_by_the_download_too(tmp_path):
    with pytest.raises(DownloadError, match="'ftp://x/y.pt' is not an http:// or https://"):
        download("ftp://x/y.pt", tmp_path / "y.pt", progress=False)


class _FullDisk:
    """A file whose writes fill the disk after ``room`` bytes (as a full disk does)."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, block: bytes) -> int:
        if len(block) > self.room:
            self.f.write(block[: self.room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(block)
        return self.f.write(block)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_a_full_disk_removes_the_part_and_says_how_much_space(server, cache, monkeypatch, capsys):
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", server.url)
    real_open = open
    monkeypatch.setattr(dl, "open", lambda *a, **k: _FullDisk(real_open(*a, **k), 4000), False)
    status, err = _fetch_command(capsys)
    line = _one_plain_line(err)
    path = official.official_weights(OFFICIAL).path
    assert status == 1 and not partial_path(path).exists() and not path.exists()
    assert f"{path.parent}: not enough space on the disk for {NAME}" in line
    assert "the partial download was removed" in line
    assert f"It needs {len(PAYLOAD) / 2**20:,.1f} MiB free" in line and "$EDSR_LITE_CACHE" in line


def test_a_disk_too_small_is_refused_before_the_download(server, tmp_path, monkeypatch):
    usage = dl.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda _: usage._replace(free=100))
    with pytest.raises(DownloadError, match=r"not enough space.*only 0.0 MiB free"):
        download(server.url + NAME, tmp_path / NAME, PREFIX, progress=False)
    assert not partial_path(tmp_path / NAME).exists()

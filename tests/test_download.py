"""edsr_lite.download: the one resumable, sha256-checked download, against a local server."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from local_server import LocalServer, hashed_name, no_proxy

from edsr_lite import download as dl
from edsr_lite.download import (
    DownloadError,
    download,
    lock_path,
    partial_path,
    user_cache_dir,
)

PAYLOAD = bytes(range(256)) * 40  # 10 KB


@pytest.fixture
def server(monkeypatch):
    no_proxy(monkeypatch)
    with LocalServer({hashed_name("model", PAYLOAD): PAYLOAD}) as s:
        yield s


def _name() -> str:
    return hashed_name("model", PAYLOAD)


def _prefix() -> str:
    return _name().removesuffix(".pt").rsplit("-", 1)[1]


def test_download_checks_the_hash_prefix_and_renames(server, tmp_path):
    target = tmp_path / "cache" / _name()
    assert download(server.url + _name(), target, _prefix(), progress=False) == target
    assert target.read_bytes() == PAYLOAD
    assert not partial_path(target).exists()
    assert server.ranges == [None]
    # there already: checked, not fetched again
    assert download(server.url + _name(), target, _prefix(), progress=False) == target
    assert server.ranges == [None]


def test_download_resumes_after_a_cut_connection(server, tmp_path):
    target = tmp_path / _name()
    server.cut_after = 3000
    with pytest.raises(DownloadError, match="interrupted after 3,000 bytes.*again to resume"):
        download(server.url + _name(), target, _prefix(), progress=False)
    assert partial_path(target).stat().st_size == 3000 and not target.exists()

    server.cut_after = None
    download(server.url + _name(), target, _prefix(), progress=True)  # with the bar
    assert server.ranges == [None, "bytes=3000-"]
    assert target.read_bytes() == PAYLOAD and not partial_path(target).exists()


def test_a_wrong_hash_is_refused_and_not_kept(server, tmp_path):
    target = tmp_path / _name()
    with pytest.raises(DownloadError, match="sha256 differs from the expected 00000000"):
        download(server.url + _name(), target, "00000000", progress=False)
    assert list(tmp_path.iterdir()) == [lock_path(target)]  # neither the file nor its .part

    target.write_bytes(b"not the file")  # a wrong file put there by hand: fetched again
    assert download(server.url + _name(), target, _prefix(), progress=False) == target
    assert target.read_bytes() == PAYLOAD


def test_the_full_sha256_works_too(server, tmp_path):
    full = hashlib.sha256(PAYLOAD).hexdigest()
    assert download(server.url + _name(), tmp_path / "f.pt", full.upper(), progress=False)


def test_http_errors_and_an_unreachable_server_say_what_to_do(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url + "missing.pt", tmp_path / "missing.pt", progress=False)
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = tmp_path / "offline" / _name()
    with pytest.raises(DownloadError, match="cannot connect") as err:
        download(f"http://127.0.0.1:{port}/{_name()}", target, progress=False, timeout=5)
    assert f"put it at {target}" in str(err.value)


def test_div2k_uses_this_module():
    from edsr_lite import datasets

    assert datasets.DownloadError is DownloadError
    assert not hasattr(datasets, "_download")  # the one download is edsr_lite.download's


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {}, Path.home() / ".cache" / "edsr-lite"),
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, Path("/xdg/edsr-lite")),
        ("darwin", {}, Path.home() / "Library" / "Caches" / "edsr-lite"),
        ("win32", {"LOCALAPPDATA": "/local"}, Path("/local/edsr-lite/Cache")),
        ("linux", {"EDSR_LITE_CACHE": "/mine", "XDG_CACHE_HOME": "/xdg"}, Path("/mine")),
    ],
)
def test_user_cache_dir_follows_the_platform(monkeypatch, platform, env, expected):
    for var in ("EDSR_LITE_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(dl.sys, "platform", platform)
    assert user_cache_dir() == expected

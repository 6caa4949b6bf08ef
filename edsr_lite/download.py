"""Downloading a big file on request: one fetch at a time, bounded, checked, then renamed.

The one download of the package (the DIV2K zips, the authors' weights); nothing is ever
fetched at import or without a call that asks for it. :func:`download` ``(url, path,
sha256)``:

1. a file already at ``path`` is checked against ``sha256`` and used; a damaged one (a hash
   that differs) is deleted and fetched again;
2. otherwise one process at a time fetches it: an inter-process lock ``<path>.lock``
   (:mod:`filelock`; held by an open file, so it dies with its process) makes a second
   process wait, then use the file the first one fetched;
3. the bytes go to ``<path>.part``; a call after an interruption continues where it stopped
   (HTTP ``Range: bytes=<size of the .part>-``), with a progress bar
   (:func:`edsr_lite.progress.progress_bar`);
4. the download is bounded: never more bytes than expected (``max_bytes``, or the server's
   Content-Length), never stuck (a *stall*: fewer than :data:`STALL_BYTES` in ``stall``
   seconds), never started without the disk space it needs;
5. the finished ``.part`` is checked against ``sha256`` (the full 64 hex digits, or a prefix
   such as the 8 that torch.hub puts in a file name, ``edsr_x4-4f62e9ef.pt``): a wrong file
   is deleted, never kept; a right one is flushed to disk and renamed to ``path`` in one step,
   so ``path`` only ever holds a whole, checked file.

Every fault is one :class:`DownloadError` whose message names the file or folder and says
what to do: an unreachable server (where to put a copy fetched by other means), a cut
connection or a stall (run again to resume), an oversize body, a folder that cannot be
written (and ``$EDSR_LITE_CACHE`` when it is the cache), a full disk (the ``.part`` is
removed; how much space is needed). :func:`user_cache_dir` is where downloads go by default.
"""

from __future__ import annotations

import errno
import http.client
import math
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import sha256_file
from edsr_lite.progress import progress_bar

__all__ = [
    "DownloadError",
    "download",
    "is_web_address",
    "lock_path",
    "partial_path",
    "sha256_matches",
    "user_cache_dir",
]

#: Bytes written at a time; the progress bar counts these blocks (MiB).
CHUNK = 1 << 20
#: A download that brings fewer bytes than this in ``stall`` seconds has stalled (with the
#: default minute: slower than about 1 KiB/s). A slow line passes; a trickle does not.
STALL_BYTES = 1 << 16


class DownloadError(EdsrLiteError, OSError):
    """A download failed or gave a wrong file; the message says what to do (often: run again)."""


class _Oversize(Exception):
    """The server sent more bytes than the file can have (turned into a DownloadError)."""


def user_cache_dir() -> Path:
    """Where downloads are kept: ``$EDSR_LITE_CACHE`` if set, else the platform's cache folder.

    ``~/.cache/edsr-lite`` on Linux (``$XDG_CACHE_HOME/edsr-lite`` when that is set),
    ``~/Library/Caches/edsr-lite`` on macOS, ``%LOCALAPPDATA%\\edsr-lite\\Cache`` on Windows
    (the folders pip and torch use there too). Nothing is created here.
    """
    if os.environ.get("EDSR_LITE_CACHE"):
        return Path(os.environ["EDSR_LITE_CACHE"]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "edsr-lite" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "edsr-lite"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "edsr-lite"


def partial_path(path: str | os.PathLike) -> Path:
    """``<path>.part``: where the bytes of ``path`` gather until the download is whole."""
    path = Path(path)
    return path.with_name(path.name + ".part")


def lock_path(path: str | os.PathLike) -> Path:
    """``<path>.lock``: the lock file that lets one process at a time fetch ``path``. It stays
    after the fetch (:mod:`filelock` keeps it, so that every waiter locks the same file)."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def sha256_matches(path: str | os.PathLike, expected: str) -> bool:
    """Whether the sha256 of the file ``path`` starts with ``expected`` (64 hex digits, or a
    prefix such as torch.hub's 8); always true for ``""`` (no check asked for)."""
    return not expected or sha256_file(path).startswith(expected.lower())


def download(
    url: str,
    path: str | os.PathLike,
    sha256: str = "",
    *,
    max_bytes: int | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    stall: float = 60.0,
) -> Path:
    """Download ``url`` to ``path`` (unless a checked file is there), check it, return ``path``.

    Args:
        url: an ``http(s)://`` address (a local server in the tests).
        path: the file to create; its folder is created if needed.
        sha256: the expected sha256, or a prefix of it; ``""`` skips the check.
        max_bytes: the most bytes the file can have (its size, or a bound on it); a server
            that announces or sends more is stopped. ``None``: the server's Content-Length.
        progress: show a progress bar (MiB blocks), and say so when waiting for another
            process that fetches the same file.
        timeout: seconds to wait for the server to answer.
        stall: seconds after which a download that brought fewer than :data:`STALL_BYTES`
            (or nothing) is given up; the ``.part`` is kept, so running again resumes.

    Raises:
        DownloadError: every fault, with one line that names the file or folder and says what
            to do (see the module's docstring).
    """
    path = Path(path).expanduser()
    if _is_checked(path, sha256):
        return path
    _check_url(url)
    with _local_faults(path, max_bytes), _one_fetch_at_a_time(path, progress):
        if _is_checked(path, sha256):  # another process fetched it while this one waited
            return path
        path.unlink(missing_ok=True)  # damaged, or not the right file: fetched again
        part = partial_path(path)
        _fetch(url, part, path, max_bytes, _Waits(timeout, stall), progress)
        if not sha256_matches(part, sha256):
            part.unlink()
            raise DownloadError(
                f"{url}: the downloaded file's sha256 differs from the expected {sha256}: it "
                "was corrupted (or the server sent another file) and has been deleted. Run "
                "again to download it afresh."
            )
        _move_into_place(part, path)
    return path


def _is_checked(path: Path, sha256: str) -> bool:
    """A whole file at ``path`` with the right hash (the renames make a half file impossible)."""
    return path.is_file() and sha256_matches(path, sha256)


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an ``http://`` or ``https://`` address with a host."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_url(url: str) -> None:
    if not is_web_address(url):
        raise DownloadError(f"{url!r} is not an http:// or https:// address.")


@contextmanager
def _one_fetch_at_a_time(path: Path, progress: bool) -> Iterator[None]:
    """Hold ``<path>.lock`` (created with its folder); a second caller waits here, saying so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if progress:
            print(f"{path.name}: waiting for another download of it to finish", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _local_faults(path: Path, need: int | None) -> Iterator[None]:
    """Turn a failed write into ``path``'s folder (the folder, the lock, the ``.part``) into
    one plain :class:`DownloadError`: a full disk (the ``.part`` is removed), or a folder
    that cannot be written."""
    try:
        yield
    except DownloadError:
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _full_disk(path, need) from None
        raise DownloadError(_unwritable(path.parent, err)) from None


@dataclass(frozen=True)
class _Waits:
    """How long a download may wait: for the server's answer (``timeout``), and for progress
    (``stall``: :data:`STALL_BYTES` must arrive in that time). A read waits for the shorter."""

    timeout: float
    stall: float

    @property
    def read(self) -> float:
        return min(self.timeout, self.stall)


def _fetch(
    url: str, part: Path, path: Path, max_bytes: int | None, waits: _Waits, progress: bool
) -> None:
    """Download ``url`` into ``part``, continuing after the bytes it already holds."""
    have = part.stat().st_size if part.exists() else 0
    if max_bytes is not None and have > max_bytes:  # not a beginning of the file: start over
        part.unlink()
        have = 0
    response = _request(url, path, have, waits.read)
    if response is None:  # "range not satisfiable": the .part is already whole
        return
    with response:
        have = _resume_point(response, url, part, have)
        total = _announced_size(response, url, have, max_bytes)
        _check_free_space(path, None if total is None else total - have)
        limit = total or max_bytes
        blocks = None if total is None else math.ceil((total - have) / CHUNK)
        body = _blocks(response, url, part, math.inf if limit is None else limit - have, waits)
        bar = progress_bar(body, f"{path.name} (MiB)", blocks, enabled=progress)
        try:
            with open(part, "ab" if have else "wb") as f:
                for block in bar:
                    f.write(block)
        except _Oversize as err:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {err} The partial file was removed.") from None
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):  # the size is known here
                raise _full_disk(path, limit) from None
            raise
    if total is not None and part.stat().st_size < total:
        raise DownloadError(_interrupted(url, part, "the connection closed early"))


def _request(url: str, path: Path, have: int, timeout: float) -> http.client.HTTPResponse | None:
    """The server's answer to a GET of ``url`` from byte ``have`` on; ``None`` when the file
    is already whole (HTTP 416); a plain error when there is no usable answer."""
    headers = {"User-Agent": "edsr-lite", **({"Range": f"bytes={have}-"} if have else {})}
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            return None
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
        reason = getattr(err, "reason", err)  # ValueError: a host name http.client refuses
        raise DownloadError(
            f"{url}: cannot connect ({reason}). Check the network and run again; or fetch that "
            f"file by other means (a browser, curl, another machine) and put it at {path}."
        ) from None


def _resume_point(response: http.client.HTTPResponse, url: str, part: Path, have: int) -> int:
    """Where the body starts in the file: ``have`` when the server honoured the Range, else 0."""
    if have and response.status != 206:  # the server ignored the Range: start again
        return 0
    if have and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
        raise DownloadError(
            f"{url}: the server sent another part of the file than asked for. "
            f"Delete {part} and run again."
        )
    return have


def _announced_size(
    response: http.client.HTTPResponse, url: str, have: int, max_bytes: int | None
) -> int | None:
    """The whole file's size by the server's Content-Length (``None`` if it sends none),
    refused when over ``max_bytes``, before a byte of the body is read."""
    length = response.headers.get("Content-Length", "")
    if not length.isdigit():
        return None
    total = have + int(length)
    if max_bytes is not None and total > max_bytes:
        raise DownloadError(
            f"{url}: the server announces {total:,} bytes, more than the {max_bytes:,} this "
            "file can have: not the expected file (check the address). Nothing was downloaded."
        )
    return total


def _check_free_space(path: Path, need: int | None) -> None:
    """Refuse a download the disk cannot hold before it starts (``need``: bytes still to come)."""
    free = shutil.disk_usage(path.parent).free
    if need is not None and free < need:
        raise DownloadError(_no_space(path, need, f"only {free / 2**20:,.1f} MiB free"))


def _blocks(
    response: http.client.HTTPResponse, url: str, part: Path, limit: float, waits: _Waits
) -> Iterator[bytes]:
    """The body in blocks of :data:`CHUNK` bytes (the last one shorter), read as it arrives.

    Raises :class:`_Oversize` past ``limit`` bytes, and a :class:`DownloadError` when the
    connection breaks or stalls (fewer than :data:`STALL_BYTES` in ``waits.stall`` seconds,
    or nothing in ``waits.read``)."""
    block, got = bytearray(), 0
    window_start, window_bytes = time.monotonic(), 0  # the bytes of the current stall window
    while True:
        try:
            piece = response.read1(CHUNK - len(block))  # what has arrived, without waiting more
        except TimeoutError:
            raise DownloadError(_interrupted(url, part, f"no data for {waits.read:g} s")) from None
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(_interrupted(url, part, err)) from None
        got += len(piece)
        if got > limit:
            raise _Oversize(f"the server sent more than the {int(limit):,} bytes expected.")
        block += piece
        window_bytes += len(piece)
        if window_bytes >= STALL_BYTES:
            window_start, window_bytes = time.monotonic(), 0
        elif time.monotonic() - window_start > waits.stall:
            why = f"stalled: fewer than {STALL_BYTES // 1024} KiB in {waits.stall:g} s"
            raise DownloadError(_interrupted(url, part, why))
        if block and (len(block) == CHUNK or not piece):
            yield bytes(block)
            block.clear()
        if not piece:
            return


def _interrupted(url: str, part: Path, why: object) -> str:
    size = part.stat().st_size if part.exists() else 0
    return (
        f"{url}: download interrupted after {size:,} bytes ({why}). "
        f"Run the same call again to resume from {part}."
    )


def _full_disk(path: Path, need: int | None) -> DownloadError:
    """The disk filled up during the download: the ``.part`` is removed (it would keep the
    disk full), and the error says how much space the file needs."""
    partial_path(path).unlink(missing_ok=True)
    return DownloadError(_no_space(path, need, "the partial download was removed"))


def _no_space(path: Path, need: int | None, what: str) -> str:
    amount = f"{need / 2**20:,.1f} MiB" if need else "the size of the file"
    elsewhere = " (or set $EDSR_LITE_CACHE to a folder on another disk)" if _in_cache(path) else ""
    return (
        f"{path.parent}: not enough space on the disk for {path.name} ({what}). It needs "
        f"{amount} free: free that much{elsewhere} and run again."
    )


def _unwritable(folder: Path, err: OSError) -> str:
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    why = f"{blocker} is a file" if blocker and not blocker.is_dir() else err.strerror or err
    if _in_cache(folder):
        where = "set $EDSR_LITE_CACHE to a folder you can write"
    else:
        where = "download into another folder"
    return f"cannot write into {folder} ({why}): make it writable, or {where}."


def _in_cache(path: Path) -> bool:
    """Whether ``path`` is in :func:`user_cache_dir` (so ``$EDSR_LITE_CACHE`` can move it)."""
    return path.absolute().is_relative_to(user_cache_dir().absolute())


def _move_into_place(part: Path, path: Path) -> None:
    """Flush the checked ``.part`` to disk and rename it to ``path`` in one step (``os.replace``,
    as :func:`edsr_lite.files.atomic_write` ends): a reader never sees half a file there."""
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, path)

"""Downloading a big file on request: resumable, checked against its sha256, then renamed.

The one download of the package (the DIV2K zips, the authors' weights); nothing is ever
fetched at import or without a call that asks for it. :func:`download` ``(url, path,
sha256)``:

1. a file already at ``path`` is checked and kept (downloaded before, or put there by hand);
2. otherwise the bytes go to ``<path>.part``; a call after an interruption continues where
   it stopped (HTTP ``Range: bytes=<size of the .part>-``), with a progress bar
   (:func:`edsr_lite.progress.progress_bar`);
3. the finished ``.part`` is checked against ``sha256`` (the full 64 hex digits, or a prefix
   such as the 8 that torch.hub puts in a file name, ``edsr_x4-4f62e9ef.pt``): a wrong file
   is deleted, never kept; a right one is flushed to disk and renamed to ``path`` in one step,
   so ``path`` only ever holds a whole, checked file.

A server that cannot be reached gives a :class:`DownloadError` that says where to put a copy
fetched by other means. :func:`user_cache_dir` is where downloads go by default.
"""

from __future__ import annotations

import http.client
import math
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from edsr_lite.files import sha256_file
from edsr_lite.progress import progress_bar

__all__ = ["DownloadError", "download", "partial_path", "sha256_matches", "user_cache_dir"]

#: Bytes read and written at a time; the progress bar counts these blocks (MiB).
CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed or gave a wrong file; the message says whether re-running resumes it."""


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


def sha256_matches(path: str | os.PathLike, expected: str) -> bool:
    """Whether the sha256 of the file ``path`` starts with ``expected`` (64 hex digits, or a
    prefix such as torch.hub's 8); always true for ``""`` (no check asked for)."""
    return not expected or sha256_file(path).startswith(expected.lower())


def download(
    url: str,
    path: str | os.PathLike,
    sha256: str = "",
    *,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``path`` (if not there yet), check it, and return ``path``.

    Args:
        url: an ``http(s)://`` address (a local server in the tests).
        path: the file to create; its folder is created if needed.
        sha256: the expected sha256, or a prefix of it; ``""`` skips the check.
        progress: show a progress bar (MiB blocks).
        timeout: seconds to wait for the server before giving up.

    Raises:
        DownloadError: the server cannot be reached (the message says where to put a copy
            fetched by other means), answered an error, the connection broke (run again to
            resume), or the file's sha256 is wrong (the file is deleted).
    """
    path = Path(path).expanduser()
    if path.is_file():
        if not sha256_matches(path, sha256):
            raise DownloadError(
                f"{path}: sha256 differs from the expected {sha256}: the file is damaged or "
                "not the right one. Delete it and run again to download it."
            )
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(path)
    _fetch(url, part, path, progress, timeout)
    if not sha256_matches(part, sha256):
        part.unlink()
        raise DownloadError(
            f"{url}: the downloaded file's sha256 differs from the expected {sha256}: it was "
            "corrupted (or the server sent another file) and has been deleted. Run again to "
            "download it afresh."
        )
    _move_into_place(part, path)
    return path


def _fetch(url: str, part: Path, path: Path, progress: bool, timeout: float) -> None:
    """Download ``url`` into ``part``, continuing after the bytes it already holds."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "edsr-lite", **({"Range": f"bytes={have}-"} if have else {})}
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # "range not satisfiable": the .part is already whole
            return
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"{url}: cannot connect ({reason}). Check the network and run again; or fetch that "
            f"file by other means (a browser, curl, another machine) and put it at {path}."
        ) from None
    with response:
        if have and response.status != 206:  # the server ignored the Range: start again
            have = 0
        elif have and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise DownloadError(
                f"{url}: the server sent another part of the file than asked for. "
                f"Delete {part} and run again."
            )
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        blocks = None if length is None else math.ceil(int(length) / CHUNK)
        bar = progress_bar(_blocks(response), f"{path.name} (MiB)", blocks, enabled=progress)
        try:
            with open(part, "ab" if have else "wb") as f:
                for block in bar:
                    f.write(block)
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(_interrupted(url, part, err)) from None
    if total is not None and part.stat().st_size < total:
        raise DownloadError(_interrupted(url, part, "the connection closed early"))


def _blocks(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while block := response.read(CHUNK):
        yield block


def _interrupted(url: str, part: Path, why: object) -> str:
    size = part.stat().st_size if part.exists() else 0
    return (
        f"{url}: download interrupted after {size:,} bytes ({why}). "
        f"Run the same call again to resume from {part}."
    )


def _move_into_place(part: Path, path: Path) -> None:
    """Flush the checked ``.part`` to disk and rename it to ``path`` in one step (``os.replace``,
    as :func:`edsr_lite.files.atomic_write` ends): a reader never sees half a file there."""
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, path)

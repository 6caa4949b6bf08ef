"""Writing files safely: every file the package writes goes through :func:`atomic_write`.

A write goes to a temporary file beside the target (``.<name>.<random>.tmp``), is flushed to
disk, and is then renamed over the target in one step (``os.replace``). A reader sees the old
file or the new one, never half of one, and a crash or Ctrl-C in the middle leaves the old file
as it was (the temporary file is removed). The new file gets the usual permissions of a new
file (``0o666`` less the umask), or keeps those of the file it replaces.

``replace=False`` creates the file only if it does not exist yet, without a window in which
another process could create it in between: the complete temporary file is *linked* to the
final name (``os.link`` fails if the name exists), so of two processes writing one name the
second gets :class:`FileExistsError` and nothing is replaced.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_write_text", "sha256_file"]


def _new_file_mode(path: Path) -> int:
    """The permission bits the written file should get."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(
    path: str | os.PathLike, write: Callable[[BinaryIO], object], replace: bool = True
) -> Path:
    """Create or replace ``path`` with what ``write(f)`` writes to a binary file object.

    The parent folder is created if needed. Returns the path written. With ``replace=False``
    an existing ``path`` is never replaced, even one that appears while ``write`` runs:
    :class:`FileExistsError` (naming ``path``) is raised and the temporary file removed.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace and path.exists():
        raise _exists(path)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes files private (0600)
        if replace:
            os.replace(tmp, path)
        else:
            _create_from(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _create_from(tmp: str, path: Path) -> None:
    """Give the complete file ``tmp`` the name ``path`` unless that name exists (then raise)."""
    try:
        os.link(tmp, path)  # atomic, and fails if path exists
    except FileExistsError:
        raise _exists(path) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # No hard links on this file system (FAT, some network mounts): claim the name with
        # an exclusive create, then move the complete file onto our own claim.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise _exists(path) from None
        try:
            os.replace(tmp, path)
        except BaseException:
            path.unlink(missing_ok=True)  # our own empty claim
            raise
        return
    os.unlink(tmp)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "exists already, not replaced", str(path))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8 with ``\\n`` line ends."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def nearest_existing(path: str | os.PathLike) -> Path:
    """``path`` itself when it exists, else its nearest existing parent: the place whose kind
    (a folder or a file in the way) and permissions decide whether ``path`` can be created."""
    existing = Path(path).expanduser()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes as 64 lower-case hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()

"""``edsr-lite weights``: list and fetch the authors' weights.

``edsr-lite weights list`` shows what ships with the package, which of the authors' eight files
are in the cache and which could be fetched (with sizes); ``edsr-lite weights fetch NAME ...``
(or ``--all``) downloads them (:func:`edsr_lite.official.fetch_official`). Nothing is ever
downloaded without one of these commands (or ``load_pretrained(..., download=True)``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edsr_lite.cli import UserError
from edsr_lite.download import DownloadError
from edsr_lite.official import (
    OFFICIAL_WEIGHTS,
    fetch_official,
    official_dir,
    official_weights,
    parameter_bytes,
)
from edsr_lite.weights import (
    available_pretrained,
    resolve_checkpoint,
)

# --------------------------------------------------------------------------- the command


def add_weights_arguments(p: argparse.ArgumentParser) -> None:
    """The subcommands of ``edsr-lite weights``: ``list`` and ``fetch``."""
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="shipped checkpoints, and the authors' files: cached or not")
    fetch = sub.add_parser(
        "fetch",
        help="download the authors' files into the cache (resumable, sha256-checked)",
        description="Download the authors' released weights into the user cache "
        "($EDSR_LITE_CACHE, else the platform's cache folder). An interrupted download "
        "resumes when run again; each file is checked against the sha256 prefix in its name.",
    )
    fetch.add_argument(
        "names", nargs="*", metavar="NAME", help="e.g. official/edsr_x4 (see 'weights list')"
    )
    fetch.add_argument("--all", action="store_true", help="all eight files (about 0.55 GB)")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run_weights_command(args: argparse.Namespace) -> int:
    if args.weights_command == "list":
        print(weights_listing())
        return 0
    return _fetch(args)


def _fetch(args: argparse.Namespace) -> int:
    if args.all == bool(args.names):
        raise UserError("name the files to fetch (see 'edsr-lite weights list'), or pass --all")
    names = list(OFFICIAL_WEIGHTS) if args.all else args.names
    entries = [official_weights(name) for name in names]  # every name checked before fetching
    for w in entries:
        before = _file_identity(w.path)
        try:
            path = fetch_official(w.name, progress=not args.quiet)
        except DownloadError as exc:  # the network, the server, the disk: not a usage mistake
            print(f"edsr-lite weights fetch: error: {exc}", file=sys.stderr)
            return 1
        kept = _file_identity(path) == before  # a damaged cached file is replaced
        how = "already cached, checked" if kept else "downloaded, sha256 checked"
        print(f"{w.name}: {path} ({_megabytes(path.stat().st_size)}, {how})")
    return 0


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(inode, modification time) of ``path``, ``None`` if absent: a new file changes it."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def weights_listing() -> str:
    """The text of ``edsr-lite weights list``."""
    lines = ["Shipped with edsr-lite (load by name, e.g. --model edsr_baseline_x2):"]
    shipped = available_pretrained()
    for name in shipped:
        lines.append(f"  {name:<28} {_megabytes(resolve_checkpoint(name).stat().st_size)}")
    if not shipped:
        lines.append("  (none)")
    lines += [
        "",
        f"The authors' weights (cache: {official_dir()}; $EDSR_LITE_CACHE moves it):",
        f"  {'name':<28} {'model':<14} {'scales':<10} {'status':<10} size",
    ]
    for w in OFFICIAL_WEIGHTS.values():
        cached = w.path.is_file()
        size = (
            _megabytes(w.path.stat().st_size)
            if cached
            else f"~{_megabytes(parameter_bytes(w.preset, w.scales))}"
        )
        scales = "/".join(f"x{s}" for s in w.scales)
        status = "cached" if cached else "available"
        lines.append(f"  {w.name:<28} {w.preset:<14} {scales:<10} {status:<10} {size}")
    lines += [
        "",
        "Fetch with `edsr-lite weights fetch NAME ...` or `edsr-lite weights fetch --all` (from "
        f"{next(iter(OFFICIAL_WEIGHTS.values())).url.rsplit('/', 1)[0]}/); nothing is "
        "downloaded otherwise. Then: edsr-lite eval --model official/edsr_x4.",
    ]
    return "\n".join(lines)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"

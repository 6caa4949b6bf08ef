"""Rewrite the shipped runs' run.json so that they name data sets, never a machine's folders.

Training recorded the absolute folders it read (``/work/main/data/T91``); the trainer now
records them as repository-relative paths or data set names
(:func:`edsr_lite.train.runlog.portable_path`). This script applies the same rule to the
committed ``data/checkpoints/*/run.json`` files. It never rewrites ``best.pt`` (its sha256 is
published in data/RESULTS.json): it lists the checkpoints whose metadata still holds an absolute
path, so that a maintainer can decide.

    python tools/clean_run_records.py            # rewrite run.json files, list best.pt ones
    python tools/clean_run_records.py --check    # exit 1 if a run.json holds an absolute path
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.files import atomic_write_text
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.train.runlog import portable_path


def absolute_paths(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (key path, text) of a JSON-like record whose text is an absolute path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from absolute_paths(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from absolute_paths(item, f"{where}[{i}]")
    elif isinstance(value, str) and Path(value).is_absolute():
        yield where, value


def portable(value: object) -> object:
    """``value`` with every absolute path replaced by :func:`portable_path`."""
    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item) for item in value]
    if isinstance(value, str) and Path(value).is_absolute():
        return portable_path(value)
    return value


def clean_run_json(path: Path, check: bool = False) -> bool:
    """Make ``path`` portable (unless ``check``); True if it held an absolute path."""
    info = json.loads(path.read_text())
    if not any(absolute_paths(info)):
        return False
    if not check:
        atomic_write_text(path, json.dumps(portable(info), indent=2) + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("--dir", type=Path, default=CHECKPOINT_DIR, help="the runs' folder")
    args = parser.parse_args(argv)
    dirty = [p for p in sorted(args.dir.glob("*/run.json")) if clean_run_json(p, args.check)]
    for path in dirty:
        print(f"{'holds absolute paths' if args.check else 'rewritten'}: {path}")
    for path in sorted(args.dir.glob("*/best.pt")):
        found = list(absolute_paths(read_checkpoint(path).get("meta") or {}))
        if found:
            keys = ", ".join(sorted({key for key, _ in found}))
            print(f"left as is (weights are never rewritten here): {path} meta {keys}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())

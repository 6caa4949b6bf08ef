"""Rewrite the shipped runs' records so that they name data sets, never a machine.

Training recorded the absolute folders it read (``/work/main/data/T91``) and the machine's
host name and kernel build; the trainer now records folders as repository-relative paths or
data set names (:func:`edsr_lite.train.runlog.portable_path`). This script applies the same rule
to every committed record of ``data/checkpoints/*/``:

* ``run.json``: absolute paths made portable, the ``host`` of every ``machine`` dropped and its
  ``os`` cut to the system's name (``Linux``): what a step's speed depends on (CPU, cores,
  vector instructions, threads) stays;
* ``best.pt`` and ``latest.pt``: the same for their ``meta``, the file written again with
  :func:`edsr_lite.checkpoints.atomic_torch_save`; the weights are the same tensors, byte for
  byte (:func:`same_weights` checks it before the file is replaced);
* ``data/RESULTS.json``: a rewritten checkpoint's ``sha256``, ``bytes`` and ``machine``, so that
  the results table still pins the file that ships (``make results RESULTS_ARGS=--render``
  then renders the new sha256 prefixes).

The git description of the code a run trained with (``444a09c-dirty``) is kept: it names a
commit of this repository, not a machine.

    python tools/clean_run_records.py            # rewrite what holds a machine's details
    python tools/clean_run_records.py --check    # exit 1 if any shipped record still holds one
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from edsr_lite.checkpoints import atomic_torch_save, is_compressed
from edsr_lite.files import atomic_write_text, sha256_file
from edsr_lite.locations import CHECKPOINT_DIR, DATA_DIR
from edsr_lite.runs import RUN_JSON, read_run, write_run
from edsr_lite.train.runlog import portable_path

RESULTS_JSON = DATA_DIR / "RESULTS.json"
#: ``machine`` keys that name one machine rather than describe its speed.
MACHINE_NAMES = ("host",)
#: An ``os`` string as :func:`platform.platform` writes it: ``Linux-6.18.44-fc-v669-x86_64-...``
#: (the kernel build names the host's image); the system's name before the first ``-`` stays.
OS_DETAIL = re.compile(r"^([A-Za-z]+)-.+$")


def machine_details(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (key path, text) of a JSON-like record that names a machine: an absolute path,
    a ``machine``'s host name, or an ``os`` string with the kernel's build."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "machine" and isinstance(item, dict):
                for name in MACHINE_NAMES:
                    if name in item:
                        yield f"{where}.machine.{name}", str(item[name])
                if OS_DETAIL.match(str(item.get("os", ""))):
                    yield f"{where}.machine.os", str(item["os"])
            yield from machine_details(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from machine_details(item, f"{where}[{i}]")
    elif isinstance(value, str) and Path(value).is_absolute():
        yield where, value


def portable_machine(machine: dict) -> dict:
    """A ``machine`` record without its host name, its ``os`` cut to the system's name."""
    kept = {k: v for k, v in machine.items() if k not in MACHINE_NAMES}
    if isinstance(kept.get("os"), str):
        kept["os"] = OS_DETAIL.sub(r"\1", kept["os"])
    return kept


def portable(value: object) -> object:
    """``value`` with every absolute path replaced by :func:`portable_path` and every
    ``machine`` record by :func:`portable_machine`."""
    if isinstance(value, dict):
        return {
            key: portable_machine(portable(item))
            if key == "machine" and isinstance(item, dict)
            else portable(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [portable(item) for item in value]
    if isinstance(value, str) and Path(value).is_absolute():
        return portable_path(value)
    return value


def clean_run_json(path: Path, check: bool = False) -> bool:
    """Make the run record ``path`` (a run folder's ``run.json``) portable (unless ``check``);
    True if it named a machine."""
    info = read_run(path.parent) or {}
    if not any(machine_details(info)):
        return False
    if not check:
        write_run(path.parent, portable(info))
    return True


def _raw_checkpoint(path: Path) -> dict:
    """The dict a checkpoint file holds, as saved (no normalizing: written back as it was),
    from a plain or an xz-compressed file."""
    source = io.BytesIO(lzma.decompress(path.read_bytes())) if is_compressed(path) else path
    return torch.load(source, map_location="cpu", weights_only=True)


def same_weights(a: dict, b: dict) -> bool:
    """True if two state dicts hold the same names, dtypes, shapes and bytes."""
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype
        and a[k].shape == b[k].shape
        and a[k].reshape(-1).view(torch.uint8).equal(b[k].reshape(-1).view(torch.uint8))
        for k in a
    )


def clean_checkpoint(path: Path, check: bool = False) -> bool:
    """Make the ``meta`` of checkpoint ``path`` portable (unless ``check``): the file is
    written again, atomically, with the same weights (xz-compressed if it was). True if its
    meta named a machine."""
    ckpt = _raw_checkpoint(path)
    if not any(machine_details(ckpt.get("meta") or {})):
        return False
    if not check:
        cleaned = {**ckpt, "meta": portable(ckpt["meta"])}
        atomic_torch_save(cleaned, path, compress=is_compressed(path))  # stored as it was
        if not same_weights(ckpt["state_dict"], _raw_checkpoint(path)["state_dict"]):
            raise RuntimeError(f"{path}: the weights changed on rewriting")  # never expected
    return True


def update_results_json(rewritten: list[Path], results_json: Path = RESULTS_JSON) -> bool:
    """Pin the rewritten checkpoints' new sha256 (and size, machine) in RESULTS.json, and drop
    the host of the machine that scored them. True if the file changed."""
    if not results_json.is_file():
        return False
    text = results_json.read_text(encoding="utf-8")
    data = json.loads(text)
    by_file = {p.resolve(): p for p in rewritten}
    for info in data.get("checkpoints", {}).values():
        path = by_file.get((results_json.parent.parent / info.get("file", "")).resolve())
        if path is not None:
            meta = _raw_checkpoint(path).get("meta") or {}
            info.update(sha256=sha256_file(path), bytes=path.stat().st_size)
            info["machine"] = meta.get("machine")
    data = portable(data)
    new = json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # as tools/results_tables.py
    if new == text:
        return False
    atomic_write_text(results_json, new)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("--dir", type=Path, default=CHECKPOINT_DIR, help="the runs' folder")
    parser.add_argument("--results", type=Path, default=RESULTS_JSON, help="RESULTS.json")
    args = parser.parse_args(argv)
    verb = "holds a machine's details" if args.check else "rewritten"
    dirty = [p for p in sorted(args.dir.glob(f"*/{RUN_JSON}")) if clean_run_json(p, args.check)]
    checkpoints = sorted([*args.dir.glob("*/best.pt"), *args.dir.glob("*/latest.pt")])
    rewritten = [p for p in checkpoints if clean_checkpoint(p, args.check)]
    for path in [*dirty, *rewritten]:
        print(f"{verb}: {path}")
    if args.check:
        results = args.results.is_file() and any(
            machine_details(json.loads(args.results.read_text()))
        )
        if results:
            print(f"{verb}: {args.results}")
        return 1 if dirty or rewritten or results else 0
    if update_results_json(rewritten, args.results):
        print(f"updated: {args.results} (then: make results RESULTS_ARGS=--render)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run time of every notebook, top to bottom, in fast mode (and in full mode with --full).

Each notebook runs in a fresh kernel from the ``notebooks/`` folder, as ``make notebooks`` and
the test suite run it; the wall time includes the kernel's start. The targets of the notebook
series: under 3 minutes per notebook in fast mode, under 10 in full mode, on 2 CPU cores.

    python benchmarks/bench_notebooks.py                 # fast mode, every notebook
    python benchmarks/bench_notebooks.py --full          # fast and full mode
    python benchmarks/bench_notebooks.py --full-only     # full mode only
    python benchmarks/bench_notebooks.py --only 02 05    # notebooks whose name contains these
    python benchmarks/bench_notebooks.py --json times.json
    python benchmarks/bench_notebooks.py --cells          # also each notebook's slowest cells
    python benchmarks/bench_notebooks.py --out build/nb   # keep the executed notebooks (outputs)

A busy machine slows notebooks down a lot: OpenMP's threads spin while waiting for one another,
and a core taken by another process makes them wait long. ``OMP_WAIT_POLICY=PASSIVE`` (set
here unless the environment says otherwise, as in the tests) avoids most of that.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FAST_LIMIT_S, FULL_LIMIT_S = 180, 600


def run_notebook(
    path: Path, fast: bool, timeout: int = 1800, out: Path | None = None
) -> tuple[float, list[tuple]]:
    """Execute the notebook at ``path`` (fast or full mode): its wall time in seconds, and
    ``(seconds, cell index, first line)`` for each code cell, slowest first. ``out``: a folder
    to write the executed notebook to (``<name>.<mode>.ipynb``).

    Raises nbclient's ``CellExecutionError`` if a cell fails.
    """
    os.environ["EDSR_LITE_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.monotonic()
    client.execute()
    seconds = time.monotonic() - start
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / f"{path.stem}.{'fast' if fast else 'full'}.ipynb")
    return seconds, cell_times(nb)


def cell_times(nb: nbformat.NotebookNode) -> list[tuple[float, int, str]]:
    """Per code cell: seconds between nbclient's execute_input and its last reply, the
    cell's index and its first line, slowest first."""
    rows = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        started, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and started and ended:
            seconds = (_timestamp(ended) - _timestamp(started)).total_seconds()
            rows.append((seconds, index, cell.source.strip().splitlines()[0][:60]))
    return sorted(rows, reverse=True)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run each notebook in full mode")
    parser.add_argument("--full-only", action="store_true", help="run full mode only")
    parser.add_argument("--only", nargs="+", default=[], help="notebooks whose name contains these")
    parser.add_argument("--json", type=Path, help="also write the times to this JSON file")
    parser.add_argument("--cells", action="store_true", help="print each run's 5 slowest cells")
    parser.add_argument("--out", type=Path, help="write the executed notebooks to this folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    paths = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(s in p.name for s in args.only)]
    modes = ("full",) if args.full_only else ("fast", "full") if args.full else ("fast",)
    print(f"cores: {os.cpu_count()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"{'notebook':<32}" + "".join(f"{m + ' (s)':>12}" for m in modes))
    times: dict[str, dict[str, float | None]] = {}
    over, failed, slowest = [], [], []
    for path in paths:
        times[path.name] = {}
        for mode in modes:
            try:
                seconds, cell_rows = run_notebook(path, fast=mode == "fast", out=args.out)
            except Exception as err:  # a failing cell or a dead kernel: report, go on
                failed.append(f"{path.name} ({mode}): {type(err).__name__}: {err}"[:300])
                times[path.name][mode] = None
                continue
            times[path.name][mode] = round(seconds, 1)
            if args.cells:
                slowest.append(
                    f"{path.name} ({mode}): "
                    + "; ".join(f"cell {i} {s:.0f} s [{line}]" for s, i, line in cell_rows[:5])
                )
            if seconds > (FAST_LIMIT_S if mode == "fast" else FULL_LIMIT_S):
                over.append(f"{path.name} ({mode}: {seconds:.0f} s)")
        cells = [times[path.name][m] for m in modes]
        print(
            f"{path.name:<32}" + "".join(f"{c:>12.1f}" if c else f"{'failed':>12}" for c in cells),
            flush=True,  # one line per notebook as it finishes, also into a file
        )
    for line in slowest:
        print(line)
    if over:
        print(f"over the target ({FAST_LIMIT_S} s fast, {FULL_LIMIT_S} s full): {', '.join(over)}")
    for line in failed:
        print("FAILED", line)
    if args.json:
        args.json.write_text(json.dumps(times, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

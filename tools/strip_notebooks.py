"""Strip outputs from notebooks, so that the committed ``.ipynb`` files hold only their source.

    python tools/strip_notebooks.py                  # strip notebooks/*.ipynb in place
    python tools/strip_notebooks.py --check          # exit 1 and list those that need it
    python tools/strip_notebooks.py path/to/a.ipynb  # specific files

Stripping removes every code cell's outputs and execution count, the per-cell execution
timings and the saved widget state, and nothing else (the cells' ids, tags and the notebook's
kernel are kept). Executed copies for reading go to ``build/notebooks/`` (``make notebooks``),
never back into ``notebooks/``. ``tests/test_notebooks.py`` runs the check.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

#: Cell metadata written by Jupyter or nbclient when a cell runs.
RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs, execution counts, run metadata or widget state."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in RUN_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def needs_stripping(path: Path) -> bool:
    """Whether the notebook file at ``path`` holds anything :func:`strip` would remove."""
    nb = nbformat.read(path, as_version=4)
    return strip(nb) != nb


def strip_file(path: Path) -> bool:
    """Strip the notebook at ``path`` in place; returns whether it changed."""
    nb = nbformat.read(path, as_version=4)
    stripped = strip(nb)
    if stripped == nb:
        return False
    nbformat.write(stripped, path)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="only report, exit 1 if needed")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if args.check:
        dirty = [p for p in paths if needs_stripping(p)]
        for p in dirty:
            print(f"{p}: has outputs; run python tools/strip_notebooks.py {p}")
        return 1 if dirty else 0
    for p in paths:
        if strip_file(p):
            print(f"stripped {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

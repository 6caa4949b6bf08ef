"""Write the student versions of the notebooks: every solution replaced by a stub.

    python tools/make_student.py                      # notebooks/*.ipynb -> build/student/
    python tools/make_student.py --out DIR a.ipynb    # specific notebooks, another folder

Teachers keep one source: the notebooks in ``notebooks/`` hold the exercises *with* their
solutions, each between nbgrader's markers, on lines of their own::

    def psnr_y(sr, hr, scale):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

In a code cell the marked region, markers included, becomes two lines at the indentation of
the BEGIN marker (the lines before and after it stay)::

        # YOUR CODE HERE
        raise NotImplementedError("Exercise: ...")

so the student's notebook fails exactly at its exercises until they are answered (the check
cell after an exercise lets that NotImplementedError through). In a markdown cell the region
becomes "YOUR ANSWER HERE". Outputs are stripped; ``notebooks/README.md`` is copied along.
A notebook whose markers do not pair up (a BEGIN without its END, an END without a BEGIN, a
BEGIN inside a region, a marker sharing its line with code) is refused with its cell and line,
and then nothing is written. ``make student`` runs this; see ``notebooks/TEACHING.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "student"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_STUB = (
    "# YOUR CODE HERE",
    'raise NotImplementedError("Exercise: replace this line with your code")',
)
MARKDOWN_STUB = ("YOUR ANSWER HERE",)

_spec = importlib.util.spec_from_file_location("strip_notebooks", ROOT / "tools/strip_notebooks.py")
strip_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strip_notebooks)


class MarkerError(ValueError):
    """The solution markers of a notebook do not pair up."""


def _marker(line: str) -> str | None:
    """BEGIN or END if the line is a marker, None if it mentions none; MarkerError if it
    mentions one but is not a marker on a line of its own."""
    text = line.strip()
    if text in (BEGIN, END):
        return text
    if "BEGIN SOLUTION" in text or "END SOLUTION" in text:
        raise MarkerError(f"write the marker alone on its line, as {BEGIN!r} or {END!r}: {text!r}")
    return None


def solution_regions(source: str) -> list[tuple[int, int]]:
    """(begin, end) line indices of each marked region of a cell's source, markers included."""
    regions, begin = [], None
    for i, line in enumerate(source.splitlines()):
        try:
            kind = _marker(line)
        except MarkerError as error:
            raise MarkerError(f"line {i + 1}: {error}") from None
        if kind == BEGIN:
            if begin is not None:
                raise MarkerError(
                    f"line {i + 1}: {BEGIN} inside the region opened at line {begin + 1} "
                    f"(close it with {END} first)"
                )
            begin = i
        elif kind == END:
            if begin is None:
                raise MarkerError(f"line {i + 1}: {END} without a {BEGIN} before it")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise MarkerError(f"line {begin + 1}: {BEGIN} without an {END} after it")
    return regions


def strip_solutions(source: str, cell_type: str = "code") -> str:
    """The cell's source with each marked region replaced by the stub (see the module doc)."""
    lines = source.splitlines()
    stub = CODE_STUB if cell_type == "code" else MARKDOWN_STUB
    for begin, end in reversed(solution_regions(source)):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        lines[begin : end + 1] = [indent + s for s in stub]
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A stripped copy of ``nb`` without its solutions; MarkerError names the bad cell."""
    nb = strip_notebooks.strip(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        try:
            cell.source = strip_solutions(cell.source, cell.cell_type)
        except MarkerError as error:
            where = f"{name}, cell {index}" + (f" (id {cell.id})" if cell.get("id") else "")
            raise MarkerError(f"{where}: {error}") from None
    return nb


def count_exercises(nb: nbformat.NotebookNode) -> int:
    """How many cells of ``nb`` hold at least one marked region."""
    return sum(1 for cell in nb.cells if solution_regions(cell.source))


def make_student(paths: Sequence[Path], out: Path, readme: Path | None = None) -> list[Path]:
    """Write the student version of each notebook into ``out``; all are checked first."""
    students = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        students.append((path, student_notebook(nb, path.name), count_exercises(nb)))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb, exercises in students:
        target = out / path.name
        nbformat.write(nb, target)
        print(f"{target}: {exercises} exercise cell{'s' * (exercises != 1)} without solutions")
        written.append(target)
    if readme is not None and readme.is_file():
        shutil.copy(readme, out / readme.name)
        written.append(out / readme.name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if not paths:
        print(f"error: no notebooks found in {NOTEBOOK_DIR}", file=sys.stderr)
        return 1
    try:
        make_student(paths, args.out, NOTEBOOK_DIR / "README.md")
    except MarkerError as error:
        print(f"error: {error}; nothing written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

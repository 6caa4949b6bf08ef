"""Write the student versions of the notebooks: every solution replaced by a stub.

    python tools/make_student.py                      # the student bundle -> build/student/
    python tools/make_student.py --out DIR a.ipynb    # only these notebooks, into DIR

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
and then nothing is written. Hidden-test regions (nbgrader's ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``) are removed.

Without notebooks named, it writes the bundle a lecturer hands out (``make student``): the
repository's layout without the answers, so that the notebooks' links work and the package
installs from it::

    build/student/
        README.md        how to install (venv, pip, Windows too) and start
        pyproject.toml   LICENSE
        edsr_lite/       the package, as in the repository (the checks compare with it)
        data/            the images and shipped checkpoints the notebooks use
        docs/            the glossary and pages the notebooks link to
        notebooks/       the student notebooks and their README

No TEACHING.md, no tests (``tests/exercise_answers``), no tools, no nbgrader source. See
``notebooks/TEACHING.md``.
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
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
#: What the bundle copies from the repository, as it is there.
BUNDLE_FILES = ("pyproject.toml", "LICENSE")
BUNDLE_DIRS = ("edsr_lite", "data", "docs")
BUNDLE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")
STUDENT_README = """\
# edsr-lite: the course

Six notebooks that measure the ideas of EDSR ("Enhanced Deep Residual Networks for Single Image
Super-Resolution", Lim et al., CVPR Workshops 2017) live on a laptop CPU, with a small package,
`edsr_lite`, that does the work. They are in `notebooks/`: start with `00_tour.ipynb` and go in
order. Each notebook ends with exercises: write your code in place of `# YOUR CODE HERE`, then
run the cell after it, which checks your code and tells you what is wrong, if anything.

## Install (once)

You need Python 3.10 or newer (python.org, or your system's). In this folder, create a virtual
environment and install the course into it (about 1.5 GB, mostly PyTorch):

Linux and macOS:

```sh
python3 -m venv .venv
.venv/bin/python -m pip install -e ".[course]"
```

Windows (PowerShell or cmd):

```bat
py -m venv .venv
.venv\\Scripts\\python -m pip install -e ".[course]"
```

## Start

Linux and macOS: `.venv/bin/jupyter lab`; Windows: `.venv\\Scripts\\jupyter lab`. JupyterLab
opens in your browser (or prints the address to open); open `notebooks/00_tour.ipynb`.

The notebooks' heavy cells train small networks for a minute or two; `EDSR_LITE_FAST=1` in the
environment before starting JupyterLab selects smaller budgets.
"""

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


def strip_hidden_tests(source: str) -> str:
    """The cell's source without nbgrader's hidden-test regions (markers included)."""
    kept, hidden = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            hidden = True
        elif line.strip() == END_HIDDEN:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept) + ("\n" if source.endswith("\n") and kept else "")


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A stripped copy of ``nb`` without its solutions and hidden tests; MarkerError names the
    bad cell."""
    nb = strip_notebooks.strip(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        try:
            source = strip_solutions(cell.source, cell.cell_type)
            if BEGIN_HIDDEN in source:
                source = strip_hidden_tests(source)
            cell.source = source
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


def notebooks_readme(teachers: str) -> str:
    """The student bundle's notebooks/README.md: the list of notebooks from the teachers' one,
    without what it says to teachers."""
    listing = [p for p in teachers.split("\n\n") if p.startswith("- `")]
    return (
        "# Notebooks\n\n"
        "The notebook series walks through the EDSR paper's ideas, each measured live on a CPU.\n\n"
        + "".join(p.strip() + "\n\n" for p in listing)
        + "Every notebook ends with **exercises**: write your code in place of\n"
        "`# YOUR CODE HERE`, then run the cell after it, which checks your code against the\n"
        "package's and tells you what is wrong, if anything.\n"
    )


def make_bundle(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the student bundle into ``out`` (see the module doc); all notebooks are checked
    before anything is written, and ``out`` is replaced."""
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    students = [(p, student_notebook(nbformat.read(p, as_version=4), p.name)) for p in notebooks]
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    for name in BUNDLE_FILES:
        shutil.copy(root / name, out / name)
    for name in BUNDLE_DIRS:
        shutil.copytree(root / name, out / name, ignore=BUNDLE_IGNORE)
    for path, nb in students:
        nbformat.write(nb, out / "notebooks" / path.name)
    readme = (root / "notebooks" / "README.md").read_text(encoding="utf-8")
    (out / "notebooks" / "README.md").write_text(notebooks_readme(readme), encoding="utf-8")
    (out / "README.md").write_text(STUDENT_README, encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"{out}: {len(students)} student notebooks, the package and its data, {size / 1e6:.0f} MB"
    )
    return sorted(p for p in out.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: the whole student bundle)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into")
    args = parser.parse_args(argv)
    try:
        if args.paths:
            make_student(args.paths, args.out)
        else:
            make_bundle(args.out)
    except MarkerError as error:
        print(f"error: {error}; nothing written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""nbgrader for the course: the notebooks' grading metadata, and a course folder to grade with.

    python tools/make_nbgrader.py --mark                # notebooks/*.ipynb get nbgrader's metadata
    python tools/make_nbgrader.py --out build/nbgrader  # an nbgrader course folder (`make grading`)

Each exercise of a lesson notebook is a code cell holding a solution region (nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION``), followed by its check cell
(``exercises.check_modcrop(modcrop)``). ``--mark`` makes the first an *autograded answer*
(grade_id ``05-modcrop``) and the second an *autograder test* worth 1 point, locked (grade_id
``05-modcrop-check``): one graded item per exercise, so a submission earns partial marks. It
rewrites only those cells' ``metadata.nbgrader`` (and drops that key from cells that are no
longer exercises), and running it twice changes nothing.

``--out`` writes an nbgrader course: ``nbgrader_config.py`` (the course id, a 20 s limit per
cell, so an endless loop costs one exercise) and, per lesson, ``source/<lesson>/<lesson>.ipynb``:
an exercises-only notebook (a title, a recap from the lesson's Summary, the lesson's name, the
Exercises section's imports, then each exercise's task, answer cell and check cell) that
autogrades in seconds. Each check cell ends with a hidden test (``### BEGIN HIDDEN TESTS``):
``fresh_check`` re-runs the check from a fresh import of the package, so a student who replaced
the check or its reference in the notebook does not get the point. nbgrader removes the
solutions and the hidden tests from the students' copies (``nbgrader generate_assignment``) and
puts the hidden tests back when it autogrades. ``notebooks/TEACHING.md`` walks through it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "nbgrader"
COURSE_ID = "edsr-lite"
#: Seconds a cell may run when nbgrader autogrades: the checks take well under a second and
#: the imports a few; an endless loop is interrupted after this, and only its exercise fails.
CELL_TIMEOUT_S = 20

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
CHECK_CALL = re.compile(r"^exercises\.(check_\w+)\((\w+)\)", re.MULTILINE)
LESSON_IMPORT = re.compile(r"^from edsr_lite\.course\.exercises import (\w+) as exercises$", re.M)
RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:)[^)]*\)")

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools/make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)


class Exercise(NamedTuple):
    """One exercise of a notebook: the indices of its cells and what its check calls."""

    task: int  # the markdown cell before the answer
    answer: int  # the code cell holding the solution region
    check: int  # the cell calling the check
    check_name: str  # e.g. "check_modcrop"
    answer_name: str  # the name the check is given, e.g. "modcrop"


def exercises_of(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of ``nb``, in order: each solution cell and the check cell after it."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not make_student.solution_regions(cell.source):
            continue
        call = CHECK_CALL.search(nb.cells[i + 1].source) if i + 1 < len(nb.cells) else None
        if call is None:
            raise ValueError(f"cell {i}: a solution cell must be followed by its check cell")
        found.append(Exercise(i - 1, i, i + 1, call.group(1), call.group(2)))
    return found


def grade_id(notebook: str, exercise: Exercise) -> str:
    """A stable id: the notebook's number and the check's name, ``05-modcrop``."""
    return f"{notebook[:2]}-{exercise.check_name.removeprefix('check_')}"


def answer_metadata(gid: str) -> dict:
    """nbgrader's metadata of an autograded answer (schema 3)."""
    return {
        "grade": False,
        "grade_id": gid,
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }


def autograder_test_metadata(gid: str, points: int = 1) -> dict:
    """nbgrader's metadata of an autograder test cell (schema 3), locked."""
    return {
        "grade": True,
        "grade_id": f"{gid}-check",
        "locked": True,
        "points": points,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }


def graded_metadata(nb: nbformat.NotebookNode, name: str) -> dict[int, dict]:
    """{cell index: its nbgrader metadata} for the answer and check cells of ``nb``."""
    marks = {}
    for exercise in exercises_of(nb):
        gid = grade_id(name, exercise)
        marks[exercise.answer] = answer_metadata(gid)
        marks[exercise.check] = autograder_test_metadata(gid)
    return marks


def mark_file(path: Path) -> bool:
    """Write nbgrader's metadata into the notebook at ``path``, in place; True if it changed.

    The file is edited as JSON, so that its layout and every other byte stay as they are."""
    raw = path.read_text(encoding="utf-8")
    data = json.loads(raw)
    marks = graded_metadata(nbformat.reads(raw, as_version=4), path.stem)
    for index, cell in enumerate(data["cells"]):
        metadata = cell.setdefault("metadata", {})
        if index in marks:
            metadata["nbgrader"] = marks[index]
        else:
            metadata.pop("nbgrader", None)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if text == raw:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# ============================================================================================
# The exercises-only assignment of a lesson
# ============================================================================================


def _bullets(markdown: str) -> list[str]:
    """The top-level bullets ("* ...", with their continuation lines) of a markdown text."""
    bullets: list[list[str]] = []
    for line in markdown.splitlines():
        if line.startswith(("* ", "- ")):
            bullets.append([line[2:].strip()])
        elif bullets and line.startswith("  ") and line.strip():
            bullets[-1].append(line.strip())
        elif bullets and not line.strip():
            break
    return [RELATIVE_LINK.sub(r"\1", " ".join(b)) for b in bullets]


def recap(nb: nbformat.NotebookNode, count: int = 2) -> list[str]:
    """The first ``count`` bullets of the lesson's Summary (or, when its summary is computed
    by code, of its "What you will learn"), relative links turned into plain text."""
    for heading in ("## Summary", "**What you will learn**"):
        for cell in nb.cells:
            if cell.cell_type == "markdown" and heading in cell.source:
                found = _bullets(cell.source.split(heading, 1)[1])
                if found:
                    return found[:count]
    return []


def _lesson_module(nb: nbformat.NotebookNode) -> str:
    imports = [m for c in nb.cells for m in LESSON_IMPORT.findall(c.source)]
    if len(imports) != 1:
        raise ValueError("the Exercises section must import its lesson's checks once")
    return imports[0]


def hidden_test(lesson: str, exercise: Exercise) -> str:
    """The hidden test appended to a check cell (the lecturer's copy only)."""
    return "\n".join(
        [
            BEGIN_HIDDEN,
            "import importlib",
            "from edsr_lite.course.exercises import guard",
            "guard = importlib.reload(guard)  # undoes a notebook's replacement of fresh_check",
            f'guard.fresh_check("{lesson}", "{exercise.check_name}", {exercise.answer_name})',
            END_HIDDEN,
        ]
    )


def _markdown(source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    return cell


def _code(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a code cell without outputs."""
    copy = nbformat.v4.new_code_cell(cell.source, metadata=dict(cell.metadata))
    copy.id = cell.id
    return copy


def assignment(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The exercises-only notebook of the lesson ``nb`` (file stem ``name``), with solutions,
    nbgrader's metadata and hidden tests: the source of an nbgrader assignment."""
    exercises = exercises_of(nb)
    if not exercises:
        raise ValueError(f"{name}: no exercises")
    lesson = _lesson_module(nb)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    n = len(exercises)
    intro = (
        f"# Exercises of {title}\n\n"
        "**The lesson in brief.**\n\n" + "".join(f"* {b}\n" for b in recap(nb)) + "\n"
        f"These exercises come from the lesson notebook `{name}.ipynb`: read it first; they need "
        "only what it explains, not its measurements.\n\n"
        f"Write each answer in the cell below its task, in place of `# YOUR CODE HERE` and the "
        "`raise NotImplementedError(...)` line, then run the cell after it: it checks your code "
        "against the package's on random inputs and prints ✓ or says what is wrong. "
        f"Each of the {n} exercises is worth one point, given when its check passes (the grader "
        "runs the checks again, from a fresh start). Run the cells from the top, in order."
    )
    cells = [_markdown(intro, "nbgrader-intro")]
    imports = next(c for c in nb.cells if LESSON_IMPORT.search(c.source))
    cells.append(_code(imports))
    for exercise in exercises:
        gid = grade_id(name, exercise)
        cells.append(_markdown(nb.cells[exercise.task].source, nb.cells[exercise.task].id))
        answer = _code(nb.cells[exercise.answer])
        answer.metadata["nbgrader"] = answer_metadata(gid)
        check = _code(nb.cells[exercise.check])
        check.source = check.source.rstrip("\n") + "\n" + hidden_test(lesson, exercise)
        check.metadata["nbgrader"] = autograder_test_metadata(gid)
        cells += [answer, check]
    out = nbformat.v4.new_notebook(metadata=dict(nb.metadata), cells=cells)
    out.nbformat_minor = max(nb.nbformat_minor, 5)
    return out


CONFIG = '''\
"""nbgrader's configuration for the edsr-lite exercises (generated by tools/make_nbgrader.py)."""

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "{course}"
# One cell may run {timeout} s when autograding: an endless loop then costs its exercise only.
c.Execute.timeout = {timeout}
# The assignments (one per lesson, in source/): {assignments}
'''


def write_course(paths: Sequence[Path], out: Path) -> list[Path]:
    """Write an nbgrader course folder for the lessons at ``paths`` (those with exercises)."""
    lessons = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if make_student.count_exercises(nb):
            lessons.append((path.stem, assignment(nb, path.stem)))
    if (out / "source").exists():
        shutil.rmtree(out / "source")
    written = []
    for name, nb in lessons:
        target = out / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    listed = ", ".join(name for name, _ in lessons)
    config = out / "nbgrader_config.py"
    config.write_text(CONFIG.format(course=COURSE_ID, timeout=CELL_TIMEOUT_S, assignments=listed))
    return [config, *written]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--mark", action="store_true", help="write the metadata into the notebooks")
    what.add_argument("--out", type=Path, help="write an nbgrader course folder here")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    try:
        if args.mark:
            for path in paths:
                print(f"{path.name}: {'marked' if mark_file(path) else 'unchanged'}")
        else:
            for path in write_course(paths, args.out):
                print(path)
    except (ValueError, make_student.MarkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The classroom exercises in the notebooks: their exercise cells, the student versions.

* Each notebook with exercises imports the exercise module of its own lesson
  (``edsr_lite.course.exercises.<lesson>``) and calls its checks, in order, one after each
  solution; the checks themselves are tested in ``test_exercises_lessons.py`` (what they all
  share: ``test_exercises_checking.py``).
* The notebooks' exercise sections run on their own and pass; their student versions
  (``tools/make_student.py``) fail exactly at the exercises, with NotImplementedError.
* ``make_student`` refuses unbalanced markers; ``make student`` writes ``build/student/``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import subprocess
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from test_exercises_checking import checks_of

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
EXERCISE_DIR = ROOT / "edsr_lite/course/exercises"

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools/make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)


# ============================================================================================
# The notebooks' exercise cells, teacher and student versions
# ============================================================================================


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _with_exercises() -> list[Path]:
    return [p for p in _notebooks() if make_student.count_exercises(nbformat.read(p, 4))]


def _exercise_section(nb) -> list:
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    return nb.cells[start:]


def _check_calls(cells) -> list[str]:
    return [m for c in cells for m in re.findall(r"exercises\.(check_\w+)\(", c.source)]


def _lesson(path: Path) -> str:
    """The lesson of a notebook: ``01_bn_removal.ipynb`` -> ``bn_removal``."""
    return path.stem.split("_", 1)[1]


def _exercise_module(path: Path) -> ModuleType:
    return importlib.import_module(f"edsr_lite.course.exercises.{_lesson(path)}")


def test_notebooks_01_02_05_have_their_exercises():
    names = {p.name[:2] for p in _with_exercises()}
    assert {"01", "02", "05"} <= names


def test_one_exercise_module_per_notebook_with_exercises():
    modules = {p.stem for p in EXERCISE_DIR.glob("*.py")} - {"__init__", "checking", "guard"}
    assert modules == {_lesson(p) for p in _with_exercises()}


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_exercise_section_imports_the_exercises_of_its_own_lesson(path):
    imports = re.findall(
        r"^from edsr_lite\.course\.exercises import (\w+) as exercises$",
        "\n".join(c.source for c in _exercise_section(nbformat.read(path, as_version=4))),
        re.MULTILINE,
    )
    assert imports == [_lesson(path)]


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_exercise_section_calls_the_notebooks_checks_after_each_solution(path):
    nb = nbformat.read(path, as_version=4)
    cells = _exercise_section(nb)
    assert all(not make_student.solution_regions(c.source) for c in nb.cells[: -len(cells)]), (
        "solutions only in the final Exercises section"
    )
    assert _check_calls(cells) == checks_of(_exercise_module(path))
    for i, cell in enumerate(cells):
        if make_student.solution_regions(cell.source):
            assert cell.cell_type == "code"
            assert "exercises.check_" in cells[i + 1].source, "a check cell follows each exercise"
            assert cells[i - 1].cell_type == "markdown", "a task precedes each exercise"


def _run_cells(cells, label: str) -> dict[int, BaseException]:
    """Execute code cells in order in one fresh namespace; the exception of each failed cell."""
    namespace: dict = {"__name__": "__exercises__"}
    errors = {}
    for i, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"<{label} cell {i}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 (recorded, then asserted on)
            errors[i] = error
    return errors


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_teacher_exercise_section_runs_on_its_own_and_passes(path):
    cells = _exercise_section(nbformat.read(path, as_version=4))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        errors = _run_cells(cells, path.name)
    assert not errors, errors
    assert out.getvalue().count("✓") == len(_check_calls(cells))


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_student_exercise_section_fails_exactly_at_the_exercises(path):
    student = make_student.student_notebook(nbformat.read(path, as_version=4))
    cells = _exercise_section(student)
    with contextlib.redirect_stdout(io.StringIO()):
        errors = _run_cells(cells, path.name)
    checks = {i for i, c in enumerate(cells) if "exercises.check_" in c.source}
    assert set(errors) == checks
    assert all(isinstance(e, NotImplementedError) for e in errors.values()), errors
    assert not any(make_student.solution_regions(c.source) for c in student.cells)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_student_notebook_differs_from_the_teachers_only_in_the_solutions(path):
    teacher = nbformat.read(path, as_version=4)
    student = make_student.student_notebook(teacher)
    assert len(student.cells) == len(teacher.cells)
    for mine, theirs in zip(teacher.cells, student.cells, strict=True):
        assert mine.id == theirs.id and mine.cell_type == theirs.cell_type
        if make_student.solution_regions(mine.source):
            assert "raise NotImplementedError" in theirs.source
        else:
            assert mine.source == theirs.source


@pytest.mark.slow
@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_student_notebook_runs_and_fails_only_at_the_exercises(path, run_notebook):
    """The student notebook's Exercises section in fast mode, errors allowed: the only errors
    are the NotImplementedErrors of the exercises (every check cell raises one), everything else
    runs. (The lesson above it is the teacher's, cell for cell, as the test above checks, and
    tests/test_notebooks.py runs that.)"""
    teacher = _exercise_section(nbformat.read(path, as_version=4))
    student = nbformat.v4.new_notebook()
    student.cells = _exercise_section(make_student.student_notebook(nbformat.read(path, 4)))
    run_notebook(student, allow_errors=True)
    errors = {
        i: o.ename
        for i, c in enumerate(student.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    }
    solutions = {i for i, c in enumerate(teacher) if make_student.solution_regions(c.source)}
    checks = {i for i, c in enumerate(teacher) if "exercises.check_" in c.source}
    assert set(errors) <= solutions | checks, {i: student.cells[i].source for i in errors}
    assert checks <= set(errors), "every check cell fails while its exercise is unanswered"
    assert set(errors.values()) == {"NotImplementedError"}, errors


# ============================================================================================
# make_student
# ============================================================================================


def _notebook(*sources: str, markdown: str = "# title") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_strip_solutions_keeps_the_lines_around_and_the_indentation():
    source = (
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        ### BEGIN SOLUTION\n"
        "        self.conv = nn.Conv2d(3, 3, 3)\n"
        "        ### END SOLUTION\n"
        "\n"
        "    def forward(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        "        return self.conv(x)\n"
        "        ### END SOLUTION"
    )
    assert make_student.strip_solutions(source) == (
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        # YOUR CODE HERE\n"
        '        raise NotImplementedError("Exercise: replace this line with your code")\n'
        "\n"
        "    def forward(self, x):\n"
        "        # YOUR CODE HERE\n"
        '        raise NotImplementedError("Exercise: replace this line with your code")'
    )
    assert make_student.strip_solutions("x = 1\n") == "x = 1\n"
    md = "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\n"
    assert make_student.strip_solutions(md, "markdown") == "Why?\nYOUR ANSWER HERE\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "without an ### END SOLUTION"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without a ### BEGIN SOLUTION"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
            "line 2: ### BEGIN SOLUTION inside the region opened at line 1",
        ),
        ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION\n", "alone on its line"),
    ],
)
def test_unbalanced_markers_are_refused(source, message, tmp_path, capsys):
    with pytest.raises(make_student.MarkerError, match=message):
        make_student.strip_solutions(source)
    good = tmp_path / "good.ipynb"
    bad = tmp_path / "bad.ipynb"
    nbformat.write(_notebook("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), good)
    nbformat.write(_notebook("y = 2", source), bad)
    out = tmp_path / "out"
    assert make_student.main(["--out", str(out), str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.ipynb, cell 2" in err and message in err and "nothing written" in err
    assert not out.exists(), "a refused run writes nothing, not even the good notebooks"


def test_make_student_writes_stripped_notebooks_and_the_readme(tmp_path):
    nb = _notebook("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", "f()")
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "42"})]
    nb.cells[1].execution_count = 1
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "a.ipynb")
    (tmp_path / "nb" / "README.md").write_text("# notebooks\n")
    written = make_student.make_student(
        [tmp_path / "nb" / "a.ipynb"], tmp_path / "out", tmp_path / "nb" / "README.md"
    )
    assert [p.name for p in written] == ["a.ipynb", "README.md"]
    student = nbformat.read(tmp_path / "out" / "a.ipynb", as_version=4)
    assert student.cells[1].outputs == [] and student.cells[1].execution_count is None
    assert "return 42" not in student.cells[1].source
    assert student.cells[1].source.endswith(
        '    raise NotImplementedError("Exercise: replace this line with your code")'
    )
    assert [c.id for c in student.cells] == [c.id for c in nb.cells]


def test_make_student_target_writes_build_student(tmp_path):
    out = tmp_path / "student"
    result = subprocess.run(
        ["make", "student", f"STUDENT_DIR={out}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    nbs = sorted(p.name for p in (out / "notebooks").glob("*.ipynb"))
    assert nbs == sorted(p.name for p in _notebooks())
    assert (out / "README.md").is_file() and (out / "pyproject.toml").is_file()
    for path in _with_exercises():
        student = (out / "notebooks" / path.name).read_text()
        assert "### BEGIN SOLUTION" not in student and "NotImplementedError" in student
    dry = subprocess.run(["make", "-n", "student"], cwd=ROOT, capture_output=True, text=True)
    assert "tools/make_student.py --out build/student" in dry.stdout


# ============================================================================================
# The exercise modules hold only their checks
# ============================================================================================

EXERCISE_MODULES = ["tour", "bn_removal", "residual_scaling", "multiscale", "pretrained_init",
                    "benchmark"]  # fmt: skip


def _from_the_package(value: object) -> bool:
    if isinstance(value, ModuleType):
        return value.__name__.split(".")[0] == "edsr_lite"
    return str(getattr(value, "__module__", "") or "").split(".")[0] == "edsr_lite"


@pytest.mark.parametrize("lesson", EXERCISE_MODULES)
def test_an_exercise_module_exposes_only_its_checks(lesson):
    """``exercises.<name>`` offers no reference answer: every public name that comes from
    edsr_lite is one of the module's checks (the others are torch, numpy, typing: no answers)."""
    module = importlib.import_module(f"edsr_lite.course.exercises.{lesson}")
    public = {n: v for n, v in vars(module).items() if not n.startswith("_")}
    package = sorted(n for n, v in public.items() if _from_the_package(v))
    assert package == sorted(module.__all__), f"not checks: {set(package) - set(module.__all__)}"
    assert all(n.startswith("check_") and callable(public[n]) for n in module.__all__)

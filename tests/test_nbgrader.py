"""The exercises grade with real nbgrader, as notebooks/TEACHING.md tells a lecturer to.

* ``tools/make_nbgrader.py --mark`` gives each exercise's answer and check cells nbgrader's
  metadata (one graded item per exercise), in place, idempotently, changing nothing else; the
  notebooks in ``notebooks/`` carry it.
* ``--out`` writes a course folder whose exercises-only assignments nbgrader generates,
  autogrades, exports and gives feedback on: a right submission gets full marks, a typical
  mistake partial marks with the check's message in the feedback, an endless loop loses its
  exercise only, and calling the package's reference or replacing a check or a reference in the
  notebook does not earn the point (the hidden tests re-check from a fresh import).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
LESSON = "05_benchmark"

_spec = importlib.util.spec_from_file_location("make_nbgrader", ROOT / "tools/make_nbgrader.py")
make_nbgrader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_nbgrader)


def _lessons() -> list[Path]:
    return [
        p
        for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
        if make_nbgrader.exercises_of(nbformat.read(p, as_version=4))
    ]


# ============================================================================================
# The metadata
# ============================================================================================


def test_mark_is_idempotent_and_changes_only_the_graded_cells(tmp_path):
    for path in _lessons():
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        before = json.loads(path.read_text(encoding="utf-8"))
        make_nbgrader.mark_file(copy)
        text = copy.read_text(encoding="utf-8")
        assert make_nbgrader.mark_file(copy) is False, "a second --mark changes nothing"
        assert copy.read_text(encoding="utf-8") == text
        after = json.loads(text)
        assert len(after["cells"]) == len(before["cells"])
        graded = 0
        for old, new in zip(before["cells"], after["cells"], strict=True):
            old_meta = {k: v for k, v in old["metadata"].items() if k != "nbgrader"}
            new_meta = {k: v for k, v in new["metadata"].items() if k != "nbgrader"}
            assert {**old, "metadata": old_meta} == {**new, "metadata": new_meta}
            graded += "nbgrader" in new["metadata"]
        assert graded == 2 * len(make_nbgrader.exercises_of(nbformat.read(copy, 4)))


def _without_marks(text: str) -> str:
    data = json.loads(text)
    for cell in data["cells"]:
        cell["metadata"].pop("nbgrader", None)
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.stem)
def test_marked_notebook_keeps_its_layout(path, tmp_path):
    """Only the metadata changes, byte for byte: the file is edited as JSON, in its own key
    order, not re-serialized by nbformat."""
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    make_nbgrader.mark_file(copy)
    assert _without_marks(copy.read_text(encoding="utf-8")) == _without_marks(
        path.read_text(encoding="utf-8")
    )
    if "nbgrader" not in path.read_text(encoding="utf-8"):
        assert _without_marks(copy.read_text(encoding="utf-8")) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.stem)
def test_notebooks_carry_nbgrader_metadata(path):
    """Each exercise: its answer cell an autograded answer, its check cell a 1-point locked
    test, with stable ids (``05-modcrop``, ``05-modcrop-check``). Fails until
    ``python tools/make_nbgrader.py --mark`` has been run on notebooks/."""
    nb = nbformat.read(path, as_version=4)
    expected = make_nbgrader.graded_metadata(nb, path.stem)
    found = {i: c.metadata["nbgrader"] for i, c in enumerate(nb.cells) if "nbgrader" in c.metadata}
    assert found == expected, "run: python tools/make_nbgrader.py --mark"
    ids = [m["grade_id"] for m in found.values()]
    assert len(ids) == len(set(ids))


def test_grade_ids_are_the_notebook_number_and_the_check():
    nb = nbformat.read(NOTEBOOK_DIR / f"{LESSON}.ipynb", as_version=4)
    marks = make_nbgrader.graded_metadata(nb, LESSON)
    assert [m["grade_id"] for m in marks.values()] == [
        "05-modcrop",
        "05-modcrop-check",
        "05-psnr_y_shave",
        "05-psnr_y_shave-check",
        "05-self_ensemble",
        "05-self_ensemble-check",
    ]
    tests = [m for m in marks.values() if m["grade"]]
    assert all(m["locked"] and m["points"] == 1 and not m["solution"] for m in tests)


# ============================================================================================
# The course folder
# ============================================================================================


def test_course_folder_holds_exercises_only_assignments(tmp_path):
    written = make_nbgrader.write_course(_lessons(), tmp_path)
    config = (tmp_path / "nbgrader_config.py").read_text()
    assert 'course_id = "edsr-lite"' in config and "c.Execute.timeout = 20" in config
    assert sorted(p.parent.name for p in written[1:]) == [p.stem for p in _lessons()]
    for lesson in _lessons():
        source = nbformat.read(lesson, as_version=4)
        nb = nbformat.read(tmp_path / "source" / lesson.stem / lesson.name, as_version=4)
        exercises = make_nbgrader.exercises_of(source)
        # title + imports + (task, answer, check) per exercise; nothing of the lesson's body
        assert len(nb.cells) == 2 + 3 * len(exercises)
        intro = nb.cells[0].source
        assert intro.startswith("# Exercises of ") and f"`{lesson.name}`" in intro
        assert "holds a solution" not in intro and intro.count("\n* ") == 2
        hidden = [c.source for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
        assert len(hidden) == len(exercises)
        for exercise, cell in zip(exercises, hidden, strict=True):
            lesson_name = lesson.stem.split("_", 1)[1]
            assert f'guard.fresh_check("{lesson_name}", "{exercise.check_name}"' in cell
            assert cell.rstrip().endswith("### END HIDDEN TESTS")


# ============================================================================================
# Real nbgrader
# ============================================================================================

_ANSWERS = {
    "05-modcrop": (
        "def modcrop(image, scale):\n"
        "    h, w = image.shape[:2]\n"
        "    return image[: h - h % scale, : w - w % scale]\n"
    ),
    "05-psnr_y_shave": (
        "def psnr_y(sr, hr, scale):\n"
        "    weights = np.array([65.481, 128.553, 24.966]) / 255\n"
        "    y_sr = 16 + sr.astype(np.float64) @ weights\n"
        "    y_hr = 16 + hr.astype(np.float64) @ weights\n"
        "    s = scale\n"
        "    mse = np.mean((y_sr[s:-s, s:-s] - y_hr[s:-s, s:-s]) ** 2)\n"
        "    return 10 * math.log10(255**2 / mse)\n"
    ),
    "05-self_ensemble": (
        "def self_ensemble(forward, x):\n"
        "    outputs = []\n"
        "    for k in range(4):\n"
        "        for flip in (False, True):\n"
        "            t = torch.rot90(x, k, (2, 3))\n"
        "            y = forward(t.flip(3) if flip else t)\n"
        "            y = y.flip(3) if flip else y\n"
        "            outputs.append(torch.rot90(y, -k, (2, 3)))\n"
        "    return torch.stack(outputs).mean(0)\n"
    ),
}
_NO_SHAVE = (
    "def psnr_y(sr, hr, scale):\n"
    "    weights = np.array([65.481, 128.553, 24.966]) / 255\n"
    "    y_sr = 16 + sr.astype(np.float64) @ weights\n"
    "    y_hr = 16 + hr.astype(np.float64) @ weights\n"
    "    return 10 * math.log10(255**2 / np.mean((y_sr - y_hr) ** 2))\n"
)
_LOOP = "def self_ensemble(forward, x):\n    while True:\n        pass\n"
_CALLS_REFERENCE = (
    "import edsr_lite as el\n\ndef psnr_y(sr, hr, scale):\n    return el.psnr(sr, hr, scale)\n"
)
_UNANSWERED = 'def modcrop(image, scale):\n    raise NotImplementedError("not done")\n'
# A wrong modcrop (keeps the image whole) and the reference it is compared with made the same
# wrong way, wherever the check might look it up.
_REPLACES_REFERENCE = (
    "import edsr_lite.core.degradation as degradation\n\n"
    "def modcrop(image, scale):\n"
    "    return image\n\n"
    "degradation.modcrop = modcrop\n"
    "for name in dir(exercises):\n"
    "    if name == 'modcrop' or getattr(getattr(exercises, name), '__name__', '') == 'modcrop':\n"
    "        setattr(exercises, name, modcrop)\n"
)

#: student: {grade_id: answer cell} (the right answer for the others), and the points nbgrader
#: must give each exercise. Three submissions keep the test short: each autograde starts a kernel.
SUBMISSIONS = {
    "right": ({}, {"05-modcrop": 1, "05-psnr_y_shave": 1, "05-self_ensemble": 1}),
    # a typical mistake, and an endless loop that the 20 s cell limit interrupts
    "mistakes": (
        {"05-psnr_y_shave": _NO_SHAVE, "05-self_ensemble": _LOOP},
        {"05-modcrop": 1, "05-psnr_y_shave": 0, "05-self_ensemble": 0},
    ),
    # the package's reference called, a check replaced, a reference replaced
    "shortcuts": (
        {
            "05-modcrop": _REPLACES_REFERENCE,
            "05-psnr_y_shave": _CALLS_REFERENCE,
            "05-self_ensemble": _UNANSWERED.replace("modcrop(image, scale)", "self_ensemble(f, x)")
            + "\nexercises.check_self_ensemble = lambda fn: None\n",
        },
        {"05-modcrop": 0, "05-psnr_y_shave": 0, "05-self_ensemble": 0},
    ),
}


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` (its database migrations) from PATH: the environment's bin/ first,
    # as in an activated environment.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(course.parent / name.lower())
    env.pop("EDSR_LITE_FAST", None)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def _submit(release: Path, target: Path, answers: dict[str, str]) -> None:
    """A student's notebook: the released one with each answer cell filled in (the right
    answer unless ``answers`` gives another)."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(gid, _ANSWERS[gid])
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course for 05, generated, submitted by every student of SUBMISSIONS, autograded,
    exported and given feedback; returns (course folder, {student: {grade_id: points}},
    {student: total score in the CSV})."""
    api = pytest.importorskip("nbgrader.api")
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    make_nbgrader.write_course([NOTEBOOK_DIR / f"{LESSON}.ipynb"], course)
    _nbgrader(course, "generate_assignment", LESSON)
    release = course / "release" / LESSON / f"{LESSON}.ipynb"
    for student, (answers, _) in SUBMISSIONS.items():
        _submit(release, course / "submitted" / student / LESSON / f"{LESSON}.ipynb", answers)
    start = time.perf_counter()
    _nbgrader(course, "autograde", LESSON)
    seconds = (time.perf_counter() - start) / len(SUBMISSIONS)
    print(f"autograde: {seconds:.1f} s per submission (one with a 20 s endless loop)")
    _nbgrader(course, "generate_feedback", LESSON)
    _nbgrader(course, "export")
    with (course / "grades.csv").open() as f:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    points = {}
    with api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student, (_, expected) in SUBMISSIONS.items():
            points[student] = {
                gid: gradebook.find_grade(f"{gid}-check", LESSON, LESSON, student).score
                for gid in expected
            }
    return course, points, totals


def _feedback(course: Path, student: str) -> str:
    return (course / "feedback" / student / LESSON / f"{LESSON}.html").read_text()


@pytest.mark.slow
def test_released_notebook_has_neither_solutions_nor_hidden_tests(graded):
    course, _, _ = graded
    nb = nbformat.read(course / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "fresh_check" not in text
    assert "h - h % scale" not in text and "holds a solution" not in text
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 3 and all("# YOUR CODE HERE" in c.source for c in answers)


@pytest.mark.slow
@pytest.mark.parametrize("student", SUBMISSIONS)
def test_autograde_gives_each_exercise_its_points(graded, student):
    _, points, totals = graded
    expected = SUBMISSIONS[student][1]
    assert points[student] == expected
    assert totals[student] == sum(expected.values()), "the exported CSV has the same total"


@pytest.mark.slow
def test_feedback_says_what_was_wrong(graded):
    course, _, _ = graded
    assert "Score: 3.0 / 3.0" in _feedback(course, "right")
    mistakes = _feedback(course, "mistakes")
    assert "Score: 1.0 / 3.0" in mistakes
    assert "forgot the shave" in mistakes, "the check's message reaches the student"
    assert "CellTimeoutError" in mistakes, "the endless loop is stopped at the cell limit"
    shortcuts = _feedback(course, "shortcuts")
    assert "calls edsr_lite's own `psnr`" in shortcuts

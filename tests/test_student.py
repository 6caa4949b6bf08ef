"""The bundle a lecturer hands out (``make student``, ``tools/make_student.py``).

* It holds what students need (the student notebooks, the package, the data and pages the
  notebooks use, pyproject.toml) and no answers: no solution line, no ``BEGIN SOLUTION``, no
  hidden tests, no TEACHING.md, no tests; the package is the repository's, as it is.
* Its notebooks say nowhere that they hold a solution, and run, from the bundle and with the
  bundle's package, up to their first exercise check, which stops with NotImplementedError.
* Its README's install commands (venv, pip, no make) work as written (slow: a real install).
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
TEXT = {".md", ".ipynb", ".py", ".toml", ".txt", ".json", ".csv", ".yaml", ".yml", ".tsv", ""}

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools/make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "student"
    make_student.make_bundle(out)
    return out


def _solution_lines() -> set[str]:
    """Every line of the notebooks' solution regions long enough to be telling, but those that
    the lessons show outside their exercises too (``own = model.state_dict()``)."""
    lines, shown = set(), set()
    for path in NOTEBOOK_DIR.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            source = cell.source.splitlines()
            regions = make_student.solution_regions(cell.source)
            inside = {i for begin, end in regions for i in range(begin, end + 1)}
            for i, line in enumerate(source):
                (lines if i in inside else shown).add(line.strip())
    return {line for line in lines - shown if len(line) >= 12}


def _outside_package(bundle: Path) -> list[Path]:
    return [
        p
        for p in bundle.rglob("*")
        if p.is_file() and p.suffix in TEXT and "edsr_lite" not in p.relative_to(bundle).parts
    ]


def test_bundle_has_what_students_need_and_no_teaching_files(bundle):
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        ["README.md", "LICENSE", "pyproject.toml", "edsr_lite", "data", "docs", "notebooks"]
    )
    notebooks = sorted(p.name for p in (bundle / "notebooks").iterdir())
    assert notebooks == sorted([p.name for p in NOTEBOOK_DIR.glob("*.ipynb")] + ["README.md"])
    names = {p.name for p in bundle.rglob("*")}
    assert "TEACHING.md" not in names and "exercise_answers" not in names
    assert "tests" not in names and "tools" not in names and "__pycache__" not in names


def test_bundle_has_no_solution_text(bundle):
    solutions = _solution_lines()
    assert len(solutions) > 20, "the notebooks' solutions were found"
    for path in _outside_package(bundle):
        text = path.read_text(encoding="utf-8", errors="ignore")
        where = path.relative_to(bundle)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "TEACHING"):
            assert marker not in text, f"{where}: {marker}"
        assert "holds a solution" not in text and "exercise_answers" not in text, where
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        found = solutions & {line.strip() for line in text.splitlines()}
        assert not found, f"{where} holds solution lines: {sorted(found)[:3]}"


def test_bundle_package_is_the_repositorys(bundle):
    """The package is the reference the checks compare with (TEACHING.md says so): the bundle
    carries it as it is, nothing added."""
    ours = {p.relative_to(bundle / "edsr_lite") for p in (bundle / "edsr_lite").rglob("*.py")}
    theirs = {p.relative_to(ROOT / "edsr_lite") for p in (ROOT / "edsr_lite").rglob("*.py")}
    assert ours == theirs
    assert all(filecmp.cmp(bundle / "edsr_lite" / p, ROOT / "edsr_lite" / p, False) for p in ours)


def test_bundle_readme_says_how_to_install_and_start_on_every_system(bundle):
    readme = (bundle / "README.md").read_text()
    for needed in ("python3 -m venv .venv", 'pip install -e ".[course]"', "py -m venv .venv"):
        assert needed in readme
    assert ".venv\\Scripts\\jupyter lab" in readme and ".venv/bin/jupyter lab" in readme
    assert "Teachers" not in readme and "TEACHING" not in readme


def test_make_student_writes_the_bundle():
    dry = subprocess.run(["make", "-n", "student"], cwd=ROOT, capture_output=True, text=True)
    assert "tools/make_student.py --out build/student" in dry.stdout


def test_hidden_tests_are_stripped():
    source = "exercises.check_f(f)\n### BEGIN HIDDEN TESTS\nfresh_check('a', 'b', f)\n"
    source += "### END HIDDEN TESTS\nprint(1)\n"
    assert make_student.strip_hidden_tests(source) == "exercises.check_f(f)\nprint(1)\n"


def _until_first_check(nb: nbformat.NotebookNode, exercises_only: bool) -> nbformat.NotebookNode:
    """The cells of ``nb`` up to its first check (from the Exercises section only, if asked),
    after a cell that prints where edsr_lite is imported from."""
    check = next(i for i, c in enumerate(nb.cells) if "exercises.check_" in c.source)
    start = 0
    if exercises_only:
        start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    where = nbformat.v4.new_code_cell("import edsr_lite\nprint(edsr_lite.__file__)")
    nb.cells = [where, *nb.cells[start : check + 1]]
    return nb


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [p.name for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))], ids=str
)
def test_bundle_notebook_runs_until_its_first_check(bundle, name, tmp_path, monkeypatch):
    """From the bundle's notebooks/ folder, with the bundle's package first on the path: the
    tour (17 s in fast mode) from its top, the others from their Exercises section (the lessons'
    bodies run from the repository in test_exercises.py)."""
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(bundle / "notebooks" / name, as_version=4)
    nb = _until_first_check(nb, exercises_only=not name.startswith("00"))
    env = {"EDSR_LITE_FAST": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(bundle)}
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[var] = str(tmp_path / var.lower())
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        allow_errors=True,
        resources={"metadata": {"path": str(bundle / "notebooks")}},
    )
    client.execute()
    errors = [
        (i, o)
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert [(i, o.ename) for i, o in errors] == [(len(nb.cells) - 1, "NotImplementedError")]
    assert nb.cells[0].outputs[0].text.strip().startswith(str(bundle / "edsr_lite"))


def _readme_commands(readme: str) -> list[str]:
    """The Linux install commands of a README: its ```sh or ```bash block under "venv"."""
    block = re.search(r"```(?:sh|bash)\n(python3 -m venv .venv\n.*?)```", readme, re.S)
    assert block, "a block that starts with python3 -m venv .venv"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_repository_readme_gives_the_bundles_install_commands(bundle):
    """README.md's route without make is the bundle's: the slow test below runs it."""
    ours = _readme_commands((ROOT / "README.md").read_text())
    theirs = _readme_commands((bundle / "README.md").read_text())
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a real install: minutes on a busy machine, even from pip's cache
def test_bundle_installs_with_its_readme_commands(bundle):
    """The README's commands, run as written in the bundle (pip's cache makes it quick once
    the wheels were downloaded): the course imports, JupyterLab starts, no developer tools."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    for command in _readme_commands((bundle / "README.md").read_text()):
        out = subprocess.run(["bash", "-c", command], cwd=bundle, env=env, capture_output=True)
        assert out.returncode == 0, f"{command}\n{out.stdout[-2000:]!r}\n{out.stderr[-2000:]!r}"
    python = bundle / ".venv" / "bin" / "python"
    code = "import edsr_lite, matplotlib, skimage, ipywidgets, anywidget; print(edsr_lite.__file__)"
    out = subprocess.run([python, "-c", code], cwd="/", env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(bundle / "edsr_lite"))
    lab = subprocess.run([bundle / ".venv/bin/jupyter", "lab", "--version"], capture_output=True)
    assert lab.returncode == 0, lab.stderr
    dev = subprocess.run([python, "-c", "import pytest"], capture_output=True)
    assert dev.returncode != 0, "the course install brings no developer tools"

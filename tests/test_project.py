"""The project's own files stay true: environment.yml and the Makefile match pyproject.toml,
ruff, the CI script, the library's dependencies."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip())
    assert m, requirement
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_lists_every_pyproject_dependency_with_the_same_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_name_and_spec(r) for r in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted.update(_name_and_spec(r) for r in extra)

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have: dict[str, str] = {}
    pip_lines: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep["pip"]
            continue
        name, spec = _name_and_spec(
            dep.replace("=", "==", 1) if re.search(r"[^<>!=]=[^=]", dep) else dep
        )
        have[name] = spec
    for line in pip_lines:
        if not line.startswith("-"):
            name, spec = _name_and_spec(line)
            have[name] = spec
    assert "-e ." in pip_lines, "environment.yml must install the project itself (pip: -e .)"

    conda_names = {"torch": "pytorch"}  # where conda's name differs; torch comes from pip here
    for name, spec in wanted.items():
        found = have.get(name, have.get(conda_names.get(name, name)))
        assert found is not None, f"{name} is in pyproject.toml but not in environment.yml"
        assert found == spec, f"{name}: pyproject says {spec!r}, environment.yml says {found!r}"

    python = have["python"].lstrip("=")
    low = re.search(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert tuple(map(int, python.split(".")[:2])) >= tuple(map(int, low))


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_ci_script_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in (ROOT / "README.md").read_text()


def test_torch_is_pinned_as_the_project_requires():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
    assert project["name"] == "edsr-lite"


def test_make_venv_installs_every_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(project["optional-dependencies"]) == {"course", "dev", "fast"}
    assert "pip install --quiet -e '.[course,dev,fast]'" in (ROOT / "Makefile").read_text()


#: Libraries of the ``course`` extra: the library and the ``edsr-lite`` command never import them.
COURSE_ONLY = ("matplotlib", "skimage", "ipywidgets", "anywidget", "IPython", "jupyterlab")


def test_the_library_imports_no_course_dependency():
    code = (
        "import sys, edsr_lite, edsr_lite.cli; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert set(COURSE_ONLY) & set(result.stdout.split()) == set()

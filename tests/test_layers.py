"""The two layers and the one-way flow of the package (docs/architecture.md), read off the code.

Every ``import`` statement of edsr_lite/ and tools/ is parsed (the lazy ones inside functions
too), so a new import that breaks a rule fails here with the file and line that adds it:

* the library never imports the course (``edsr_lite.course``) or the maintainer tools;
* nothing imports the command line (``edsr_lite.cli``) but ``python -m edsr_lite``;
* the course uses the library's public names, never an underscore one;
* inside the library, data flows one way: a module imports only modules of an earlier stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "edsr_lite"

#: The library's stages in the order data flows: image -> degrade -> patches -> model ->
#: train / upscale -> metrics -> tables. A module may import modules of earlier stages only
#: (and, inside a package such as train/ or cli/, its own siblings).
STAGES: list[set[str]] = [
    {"core"},  # the paper in code: imports nothing else of the package
    {"files", "progress", "locations", "checks"},
    {"download", "images", "checkpoints", "backends"},
    {"datasets", "official"},
    {"weights", "training_data", "infer"},
    {"evaluation", "export"},
    {"train"},
    {"__init__"},  # the public API gathers every stage
    {"cli"},
    {"__main__"},  # python -m edsr_lite: the command line
]
STAGE_OF = {name: i for i, stage in enumerate(STAGES) for name in stage}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str | None = None) -> list[tuple[int, str, list[str]]]:
    """``(line, imported module, names)`` for every import in ``path`` (the module ``name``,
    by default read off its place in the repository), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = (name or _module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module, names))
            # ``from edsr_lite import cli`` imports the module edsr_lite.cli
            found += [(node.lineno, f"{module}.{n}", []) for n in names if module == "edsr_lite"]
    return found


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


LIBRARY = [p for p in _files(PACKAGE) if "course" not in p.relative_to(PACKAGE).parts]
COURSE = _files(PACKAGE / "course")
TOOLS = _files(REPO / "tools")


def _top(module: str) -> str:
    """The library stage name of ``edsr_lite.x.y`` (``x``), or ``__init__`` for the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


def test_the_layers_exist_and_every_library_module_has_a_stage():
    assert LIBRARY and COURSE and TOOLS
    stages = {_top(_module_name(p)) for p in LIBRARY}
    missing = sorted(stages - set(STAGE_OF))
    assert not missing, f"library modules without a stage in STAGES: {missing}"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_the_library_imports_neither_the_course_nor_tools(path):
    bad = [
        f"{_where(path, line)} imports {module}"
        for line, module, _ in _imports(path)
        if module.startswith(("edsr_lite.course", "tools"))
    ]
    assert not bad, bad


def test_nothing_imports_the_command_line():
    bad = []
    for path in LIBRARY + COURSE + TOOLS:
        name = _module_name(path)
        if name.startswith("edsr_lite.cli") or name == "edsr_lite.__main__":
            continue
        bad += [
            f"{_where(path, line)} imports {module}"
            for line, module, _ in _imports(path)
            if module == "edsr_lite.cli" or module.startswith("edsr_lite.cli.")
        ]
    assert not bad, bad


@pytest.mark.parametrize("path", COURSE + TOOLS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_course_and_tools_use_public_names_of_the_library(path):
    bad = [
        f"{_where(path, line)} imports {name} from {module}"
        for line, module, names in _imports(path)
        if module.startswith("edsr_lite") and not module.startswith("edsr_lite.course")
        for name in names
        if name.startswith("_") and not name.endswith("__")  # __version__ is public
    ]
    assert not bad, bad


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_library_data_flows_one_way(path):
    own = _top(_module_name(path))
    bad = []
    for line, module, _ in _imports(path):
        if not module.startswith("edsr_lite.") or module.startswith("edsr_lite.course"):
            continue
        other = _top(module)
        if other != own and STAGE_OF.get(other, -1) >= STAGE_OF[own]:
            bad.append(f"{_where(path, line)}: {own} (stage {STAGE_OF[own]}) imports {module}")
    assert not bad, bad


def test_the_rules_see_relative_lazy_and_package_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from ..course import figures\n"
        "def f():\n"
        "    from edsr_lite import cli\n"
        "    from . import engine\n"
    )
    modules = [module for _, module, _ in _imports(probe, "edsr_lite.train.probe")]
    assert modules == ["edsr_lite.course", "edsr_lite", "edsr_lite.cli", "edsr_lite.train"]

"""The layout tables of docs/architecture.md and README's "Layout" stay true to the code.

* "Read this first": every core module (``edsr_lite/core/*.py``) is in the table, in the reading
  order of ``edsr_lite/core/__init__.py``, and each line count is within ``TOLERANCE`` of the
  file's real count (the files may still change a little; a big change is worth a new number).
* The library table of docs/architecture.md has one row per module of the library (everything
  under ``edsr_lite/`` but the core and the course), and each row's stage is the module's stage in
  ``STAGES`` of tests/test_layers.py.
* Its course-and-tools table names every module of ``edsr_lite/course/`` and links every script
  of ``tools/``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edsr_lite"
CORE = PACKAGE / "core"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"

#: How far a listed line count may be from the file's real count, as a fraction of it.
TOLERANCE = 0.15
#: A table row's link to a core module (relative to docs/ or to the repository root).
CORE_LINK = re.compile(r"\]\((?:\.\./)?edsr_lite/core/(?P<module>\w+)\.py\)")
#: A table row's link to a library module, relative to docs/.
LIBRARY_LINK = re.compile(r"\]\(\.\./edsr_lite/(?P<path>[\w/]+\.py)\)")
#: "about 1,400 lines": the core's total, in docs/architecture.md.
TOTAL = re.compile(r"about (?P<lines>[\d,]+) lines")


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _section(text: str, heading: str) -> str:
    """The text under the first heading that starts with ``heading``, up to the next one."""
    match = re.search(rf"^#+ {re.escape(heading)}.*?$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match["body"]


def _rows(section: str) -> list[list[str]]:
    """The cells of each table row (header and separator rows left out)."""
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or re.fullmatch(r"\|[\s:|-]+\|", line):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:] if rows else rows  # the first is the header


def _reading_order() -> list[str]:
    """The core's modules in the order of its ``__init__`` docstring."""
    text = (CORE / "__init__.py").read_text(encoding="utf-8")
    return re.findall(r":mod:`~edsr_lite\.core\.(\w+)`", text)


def _core_table(path: Path, heading: str) -> list[tuple[str, int]]:
    found = []
    for cells in _rows(_section(path.read_text(encoding="utf-8"), heading)):
        link = CORE_LINK.search(" | ".join(cells))
        if link:
            found.append((link["module"], int(cells[-1].replace(",", ""))))
    return found


CORE_TABLES = [(ARCHITECTURE, "Read this first"), (README, "Layout")]


def test_the_reading_order_names_every_core_module():
    modules = {p.stem for p in CORE.glob("*.py")} - {"__init__"}
    assert sorted(_reading_order()) == sorted(modules)


@pytest.mark.parametrize("path, heading", CORE_TABLES, ids=lambda v: getattr(v, "name", v))
def test_the_core_table_lists_every_module_in_reading_order(path, heading):
    listed = [module for module, _ in _core_table(path, heading)]
    assert listed == _reading_order(), (
        f"{path.name}, section {heading!r}: the core table should list {_reading_order()}, "
        f"in that order (edsr_lite/core/__init__.py); it lists {listed}"
    )


@pytest.mark.parametrize("path, heading", CORE_TABLES, ids=lambda v: getattr(v, "name", v))
def test_the_core_line_counts_are_close_to_the_files(path, heading):
    wrong = []
    for module, listed in _core_table(path, heading):
        real = _lines(CORE / f"{module}.py")
        if abs(listed - real) > TOLERANCE * real:
            wrong.append(f"{module}.py: listed {listed}, has {real} lines (`wc -l`)")
    assert not wrong, f"{path.name}, section {heading!r}: update the line counts:\n" + "\n".join(
        wrong
    )


def test_the_core_total_is_close_to_the_files():
    match = TOTAL.search(_section(ARCHITECTURE.read_text(encoding="utf-8"), "Read this first"))
    assert match, "docs/architecture.md: 'Read this first' gives the core's size (about N lines)"
    listed = int(match["lines"].replace(",", ""))
    real = sum(_lines(p) for p in CORE.glob("*.py"))
    assert abs(listed - real) <= TOLERANCE * real, f"about {listed} lines listed, {real} real"


def _stages() -> dict[str, int]:
    """``STAGE_OF`` of tests/test_layers.py: library module (top name) -> its stage."""
    spec = importlib.util.spec_from_file_location("_layers", ROOT / "tests" / "test_layers.py")
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    return layers.STAGE_OF


def _library_table() -> dict[str, int]:
    """``{path under edsr_lite/: stage}`` from docs/architecture.md's library table."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = {}
    for cells in _rows(_section(text, "The library around the core")):
        link = LIBRARY_LINK.search(cells[1])
        assert link, f"a library row without a link to its module: {cells}"
        table[link["path"]] = int(cells[0])
    return table


def _library_modules() -> list[str]:
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
        and path.relative_to(PACKAGE).parts[0] not in ("core", "course")
    )


def _top(module: str) -> str:
    """The stage name of a library file: ``train/engine.py`` -> ``train``, ``images.py`` ->
    ``images``, ``__init__.py`` -> ``__init__``."""
    return module.split("/")[0].removesuffix(".py")


def test_the_library_table_has_one_row_per_module():
    table, modules = _library_table(), _library_modules()
    missing = [m for m in modules if m not in table]
    gone = [m for m in table if m not in modules]
    assert not missing, (
        "docs/architecture.md, 'The library around the core': add a row (stage, module, job) for "
        + ", ".join(f"edsr_lite/{m} (stage {_stages().get(_top(m), '?')})" for m in missing)
    )
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"


def test_the_library_table_gives_each_module_its_stage():
    stage_of = _stages()
    wrong = [
        f"edsr_lite/{module}: listed at stage {stage}, STAGES says {stage_of[_top(module)]}"
        for module, stage in _library_table().items()
        if _top(module) in stage_of and stage != stage_of[_top(module)]
    ]
    assert not wrong, "docs/architecture.md, 'The library around the core':\n" + "\n".join(wrong)
    stages = list(_library_table().values())
    assert stages == sorted(stages), "the library table's rows go in the order of their stages"


def test_the_course_and_tools_table_names_every_module():
    section = _section(ARCHITECTURE.read_text(encoding="utf-8"), "The course and the tools")
    course = sorted(p.stem for p in (PACKAGE / "course").glob("*.py") if p.stem != "__init__")
    unnamed = [m for m in course if f"course/{m}.py" not in section and f"`{m}`" not in section]
    tools = sorted(p.name for p in (ROOT / "tools").glob("*.py"))
    unlinked = [t for t in tools if f"](../tools/{t})" not in section]
    assert not unnamed + unlinked, (
        "docs/architecture.md, 'The course and the tools': add a row (module, job) for "
        + ", ".join(
            [f"edsr_lite/course/{m}.py" for m in unnamed] + [f"tools/{t}" for t in unlinked]
        )
    )

"""The rings of the package and the one-way flow between them, read off the code.

The rings (``/work/shared/DESIGN.md``, ``docs/architecture.md``): the core (``edsr_lite/core/``,
the paper in code), the library around it (the rest of ``edsr_lite/``), the course
(``edsr_lite/course/``) and the maintainer tools (``tools/``). Every ``import`` statement of
edsr_lite/ and tools/ is parsed (the lazy ones inside functions too), so a change that breaks a
rule fails here with the file and line of each offence:

* the core imports only the standard library, numpy, torch and itself; it opens no files,
  paths, environment, output or warnings (the library around it does); it stays at most
  2,000 lines; each of its modules says in its docstring which part of the paper it is;
* the library never imports the course or the maintainer tools;
* nothing imports the command line (``edsr_lite.cli``) but ``python -m edsr_lite``;
* no private (underscore) name crosses a module, in the package, the course or tools, code
  handed to a subprocess as a string included (tests may reach in);
* inside the library, data flows one way: a module imports only modules of an earlier stage
  (:data:`STAGES`), and the core is stage 0, so everything may import it and it imports
  nothing else of the package.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "edsr_lite"

#: The library's stages in the order data flows: image -> degrade -> patches -> model ->
#: train / upscale -> metrics -> tables. A module may import modules of earlier stages only
#: (and, inside a package such as core/, train/ or cli/, its own siblings).
STAGES: list[set[str]] = [
    {"core"},  # the paper in code: imports nothing else of the package
    {"files", "progress", "locations", "checks", "errors", "precision"},
    {"download", "images", "checkpoints", "backends", "runs", "memory_budget"},
    {"datasets", "official"},
    {"weights", "training_data", "infer"},
    {"evaluation", "export", "summary"},
    {"checkpoint_eval", "train"},
    {"__init__"},  # the public API gathers every stage
    {"cli"},
    {"__main__"},  # python -m edsr_lite: the command line
]
STAGE_OF = {name: i for i, stage in enumerate(STAGES) for name in stage}

#: The packages the core may import besides the standard library and itself.
CORE_MAY_IMPORT = {"numpy", "torch"}
#: Files, paths, the environment, output and warnings: the library around the core opens these.
CORE_MAY_NOT_IMPORT = {
    "os", "pathlib", "shutil", "warnings", "logging", "tqdm", "sys", "subprocess", "tempfile",
    "glob", "io", "pickle",
}  # fmt: skip
#: Calls that read or write files or talk to the user (plain names and dotted ones).
CORE_MAY_NOT_CALL = {"print", "open", "input", "breakpoint"} | {
    f"{lib}.{fn}"
    for lib in ("np", "numpy", "torch")
    for fn in ("load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "fromfile")
}
#: The core is what a student reads in one evening.
CORE_MAX_LINES = 2000
#: How a core module's docstring names the part of the paper it implements.
PAPER_PART = re.compile(r"Sec\.|Fig\.|Table|Eq\.")

#: Top-level names of the project's own code, whose private names must not cross a module.
FIRST_PARTY = ("edsr_lite", "tools")
#: ``from edsr_lite.x import a, _b`` inside a string of code (e.g. ``python -c CODE``).
CODE_IMPORT = re.compile(r"\bfrom\s+((?:edsr_lite|tools)[\w.]*)\s+import\s+\(?([\w\s,]+)")


# --------------------------------------------------------------------------------------------
# Reading the code
# --------------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path, name: str) -> list[str]:
    here = name.split(".")
    return here if path.name == "__init__.py" else here[:-1]


def _from_module(node: ast.ImportFrom, package: list[str]) -> str:
    """The absolute module of ``from X import ...``, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path, name: str | None = None) -> list[tuple[int, str, list[str]]]:
    """``(line, imported module, names)`` for every import in ``path`` (the module ``name``,
    by default read off its place in the repository), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package_of(path, name or _module_name(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            names = [alias.name for alias in node.names]
            found.append((node.lineno, module, names))
            # ``from edsr_lite import cli`` imports the module edsr_lite.cli
            found += [(node.lineno, f"{module}.{n}", []) for n in names if module == "edsr_lite"]
    return found


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` (``edsr_lite.cli.upscale``) is a module or package of this repository."""
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_aliases(tree: ast.AST, package: list[str]) -> dict[str, str]:
    """``{local name: first-party module}`` for the names the imports bind to modules:
    ``import edsr_lite.x as m``, ``from edsr_lite import x``, ``import edsr_lite``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:  # ``import a.b`` binds ``a``
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            for alias in node.names:
                if _is_module(f"{module}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
    return {k: v for k, v in aliases.items() if v.split(".")[0] in FIRST_PARTY}


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute lookups on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


CORE = _files(PACKAGE / "core")
LIBRARY = [p for p in _files(PACKAGE) if "course" not in p.relative_to(PACKAGE).parts]
COURSE = _files(PACKAGE / "course")
TOOLS = _files(REPO / "tools")


def _top(module: str) -> str:
    """The library stage name of ``edsr_lite.x.y`` (``x``), or ``__init__`` for the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"


def _offences(what: str, bad: list[str]) -> str:
    return f"{len(bad)} offence(s) against the rule: {what}\n  " + "\n  ".join(bad)


# --------------------------------------------------------------------------------------------
# The core: the paper in code
# --------------------------------------------------------------------------------------------


def _core_import_offences(path: Path, name: str | None = None) -> list[str]:
    bad = []
    for line, module, _ in _imports(path, name):
        top = module.split(".")[0]
        if module == "edsr_lite.core" or module.startswith("edsr_lite.core."):
            continue
        if top in CORE_MAY_NOT_IMPORT:
            why = "files, paths, environment, output or warnings: the library does that"
            bad.append(f"{_where(path, line)} imports {module} ({why})")
        elif top not in set(sys.stdlib_module_names) | CORE_MAY_IMPORT:
            why = "the core imports only the standard library, numpy, torch and itself"
            bad.append(f"{_where(path, line)} imports {module} ({why})")
    return bad


def _core_call_offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{_where(path, node.lineno)} calls {_dotted(node.func)}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _dotted(node.func) in CORE_MAY_NOT_CALL
    ]


def test_the_core_imports_only_the_standard_library_numpy_torch_and_itself():
    assert CORE, "edsr_lite/core/ holds no module"
    bad = [offence for path in CORE for offence in _core_import_offences(path)]
    assert not bad, _offences("the core imports only stdlib, numpy, torch and itself", bad)


def test_the_core_opens_no_files_and_prints_nothing():
    bad = [offence for path in CORE for offence in _core_call_offences(path)]
    assert not bad, _offences("the core opens no file and talks to no one", bad)


def test_the_core_is_read_in_one_evening():
    lines = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in CORE}
    total = sum(lines.values())
    each = ", ".join(f"{p.relative_to(REPO)}: {n}" for p, n in lines.items())
    assert total <= CORE_MAX_LINES, (
        f"edsr_lite/core/ holds {total} lines (> {CORE_MAX_LINES}): {each}"
    )


def test_each_core_module_names_the_part_of_the_paper_it_is():
    bad = []
    for path in CORE:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if not PAPER_PART.search(doc):
            bad.append(
                f"{_where(path, 1)}: the docstring names no Sec./Fig./Table/Eq. of the paper"
            )
    assert not bad, _offences("each core module names the part of the paper it implements", bad)


# --------------------------------------------------------------------------------------------
# The rings: library, course, tools
# --------------------------------------------------------------------------------------------


def test_the_library_imports_neither_the_course_nor_tools():
    bad = [
        f"{_where(path, line)} imports {module}"
        for path in LIBRARY
        for line, module, _ in _imports(path)
        if module.startswith(("edsr_lite.course", "tools"))
    ]
    assert not bad, _offences("the library imports neither the course nor tools", bad)


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
    assert not bad, _offences("nothing imports the command line", bad)


def _private_name_offences(path: Path, name: str | None = None) -> list[str]:
    """Each place ``path`` uses another module's private name: ``from m import _x``,
    ``m._x`` on an imported module ``m``, and ``from m import _x`` in a string of code."""
    name = name or _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package_of(path, name)
    aliases = _module_aliases(tree, package)
    bad: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            if module.split(".")[0] in FIRST_PARTY and module != name:
                private = [a.name for a in node.names if _is_private(a.name)]
                bad += [(node.lineno, f"imports {n} from {module}") for n in private]
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            first, _, rest = (_dotted(node.value) or "").partition(".")
            module = ".".join(filter(None, [aliases.get(first, ""), rest]))
            if first in aliases and module != name and _is_module(module):
                bad.append((node.lineno, f"uses {module}.{node.attr}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for module, names in CODE_IMPORT.findall(node.value):
                private = [w[0] for w in (n.split() for n in names.split(",")) if w]
                bad += [
                    (node.lineno, f"imports {n} from {module} in a string of code")
                    for n in private
                    if _is_private(n)
                ]
    return [f"{_where(path, line)} {what}" for line, what in sorted(bad)]


def test_no_private_name_crosses_a_module():
    bad = [offence for path in LIBRARY + COURSE + TOOLS for offence in _private_name_offences(path)]
    assert not bad, _offences(
        "no private name crosses a module (make the name public, or move the code that needs "
        "it next to it)",
        bad,
    )


# --------------------------------------------------------------------------------------------
# One-way flow inside the library
# --------------------------------------------------------------------------------------------


def test_every_library_module_has_a_stage():
    assert LIBRARY and COURSE and TOOLS
    unstaged = {}
    for path in LIBRARY:
        unstaged.setdefault(_top(_module_name(path)), path.relative_to(REPO))
    missing = [f"{name} ({where})" for name, where in unstaged.items() if name not in STAGE_OF]
    assert not missing, (
        f"library modules without a stage in STAGES (tests/test_layers.py): {', '.join(missing)}; "
        "add each to the first stage after every module it imports"
    )


def _flow_offences(path: Path) -> list[str]:
    own = _top(_module_name(path))
    if own not in STAGE_OF:
        return [f"{path.relative_to(REPO)}: module {own!r} has no stage in STAGES"]
    bad = []
    for line, module, _ in _imports(path):
        if not module.startswith("edsr_lite.") or module.startswith("edsr_lite.course"):
            continue
        other = _top(module)
        if other == own:
            continue
        if other not in STAGE_OF:
            if _is_module(f"edsr_lite.{other}"):  # else a name of the package's __init__
                bad.append(f"{_where(path, line)}: imports {module}, which has no stage in STAGES")
            continue
        if STAGE_OF[other] >= STAGE_OF[own]:
            stages = f"stage {STAGE_OF[own]} imports stage {STAGE_OF[other]}"
            bad.append(f"{_where(path, line)}: {own} imports {module} ({stages})")
    return bad


def test_library_data_flows_one_way():
    bad = [offence for path in LIBRARY for offence in _flow_offences(path)]
    assert not bad, _offences("a library module imports only modules of earlier stages", bad)


# --------------------------------------------------------------------------------------------
# The rules see what they should
# --------------------------------------------------------------------------------------------


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


def test_the_rules_see_private_names_however_they_cross(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import edsr_lite.evaluation as ev\n"
        "from edsr_lite import evaluation\n"
        "from .upscale import _scale_arg, add_upscale_arguments\n"
        "x = ev._check_method\n"
        "y = evaluation._protocol('model')\n"
        "CODE = 'from edsr_lite.course.memory import _worker; _worker()'\n"
        "z = self._private, evaluation.__name__, ev.evaluate\n"
    )
    bad = _private_name_offences(probe, "edsr_lite.cli.probe")
    assert [b.split(":", 1)[1] for b in bad] == [
        "3 imports _scale_arg from edsr_lite.cli.upscale",
        "4 uses edsr_lite.evaluation._check_method",
        "5 uses edsr_lite.evaluation._protocol",
        "6 imports _worker from edsr_lite.course.memory in a string of code",
    ]


def test_the_core_rules_see_files_output_and_foreign_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import math, os\n"
        "from pathlib import Path\n"
        "import scipy.ndimage\n"
        "from edsr_lite.images import read_image\n"
        "from . import models\n"
        "def f(x):\n"
        "    print(x)\n"
        "    torch.save(x, 'x.pt')\n"
        "    return open('x')\n"
    )
    imports = _core_import_offences(probe, "edsr_lite.core.probe")
    assert [b.split(":", 1)[1].split(" (")[0] for b in imports] == [
        "1 imports os",
        "2 imports pathlib",
        "3 imports scipy.ndimage",
        "4 imports edsr_lite.images",
    ]
    calls = [b.split(":", 1)[1] for b in _core_call_offences(probe)]
    assert sorted(calls) == ["7 calls print()", "8 calls torch.save()", "9 calls open()"]

"""Every package function or class a notebook's markdown discusses is linked to its source file.

A reader who meets `draw_scale` in a lesson should be one click from the code that defines it.
For each notebook in ``notebooks/``, this test reads the inline code spans of the markdown cells
and finds those that name an object of the package:

* ``el.X[.Y]`` or ``edsr_lite.X[.Y]`` (``import edsr_lite as el``);
* ``M.X[.Y]`` where ``M`` is a module of the package that the notebook's code imports
  (``from edsr_lite.course import multiscale`` -> ``multiscale.parts_used``; the exercise
  module alias ``exercises``; ``diagrams`` after ``from edsr_lite.course.diagrams import ...``);
* a bare ``X[.Y]`` that the notebook's code imports from the package
  (``from edsr_lite.core.patches import draw_scale``) or that is in ``edsr_lite.__all__``.

A span followed by call arguments (``el.evaluate(model)``) names the callable before the ``(``.
Each name is resolved with importlib/getattr and its file found with ``inspect.getsourcefile``
(constants and data, whose source file cannot be found, are skipped). The FIRST mention of each
object in a notebook must be a link whose text is the code span and whose target is that file,
relative to ``notebooks/``: [`draw_scale`](../edsr_lite/core/patches.py). Later mentions need none.

Where a lesson shows one of the paper's ideas, it links the core module that implements it
(``CORE_LINKS``): a reader of notebook 05's self-ensemble is one click from
``edsr_lite/core/forward.py``, even though ``el.upscale`` itself lives in the library.

The exercises (from the "## Exercises" heading on) are left out: a link there would show the
answer. Static: nothing is executed but the imports of the package.

**The glossary.** The first use of each term of ``GLOSSARY_TERMS`` in a lesson's prose (outside
headings, code, math and other links) is a link to its entry, ``../docs/glossary.md#<anchor>``,
and every such anchor is a heading of ``docs/glossary.md`` (GitHub's anchors: lower case,
punctuation dropped, spaces to hyphens). Until that file exists, links to it are not checked.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import edsr_lite

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
ALL_NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PACKAGE = "edsr_lite"
PACKAGE_DIR = Path(edsr_lite.__file__).resolve().parent

#: The heading of a notebook's exercises, where the lesson ends.
EXERCISES = re.compile(r"^## Exercises", re.MULTILINE)
#: A fenced code block: its backticks are not inline code spans.
FENCE = re.compile(r"```.*?```", re.DOTALL)
#: An inline code span, maybe the whole text of a link: [`name`](target).
SPAN = re.compile(r"(?P<open>\[)?`(?P<code>[^`\n]+)`(?P<link>\]\((?P<target>[^)\s]*)\))?")
#: A dotted name, maybe followed by call arguments: el.evaluate(model, sets=("Set5",)).
NAME = re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(.*\))?")
#: A markdown link or image (on text whose code spans are masked).
LINK = re.compile(r"\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
#: Link targets that are not files of this repository.
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|//)", re.IGNORECASE)
#: The core modules (edsr_lite/core/) each lesson links to, where it shows the paper's idea that
#: the module implements. Every core module is linked from at least one lesson.
CORE_LINKS: dict[str, set[str]] = {
    "00_tour": {"degradation", "models", "metrics", "published"},
    "01_bn_removal": {"models", "recipe"},
    "02_residual_scaling": {"models"},
    "03_multiscale": {"models", "patches", "recipe"},
    "04_pretrained_init": {"init"},
    "05_benchmark": {"metrics", "degradation", "published", "forward"},
}
#: A link into the core, relative to notebooks/.
CORE_TARGET = re.compile(r"\]\(\.\./edsr_lite/core/(?P<module>\w+)\.py(?:#[^)]*)?\)")

#: The glossary, and its address from notebooks/.
GLOSSARY = ROOT / "docs" / "glossary.md"
GLOSSARY_LINK = "../docs/glossary.md"
#: anchor -> how the term reads in prose (a regex). Its first use in a lesson links there.
GLOSSARY_TERMS: dict[str, re.Pattern] = {
    "psnr": re.compile(r"\bPSNR\b"),
    "ssim": re.compile(r"\bSSIM\b"),
    "y-channel": re.compile(r"\bY channel\b"),
    "border-shave": re.compile(r"\bshav(?:e|ed|ing)\b", re.IGNORECASE),
    "modcrop": re.compile(r"\bmod-?crop(?:ped|ping|s)?\b", re.IGNORECASE),
    "bicubic-matlabs": re.compile(r"\bbicubic\b", re.IGNORECASE),
    "pixel-shuffle": re.compile(r"\bpixel shuffle\b", re.IGNORECASE),
    "residual-scaling": re.compile(r"\bresidual scaling\b", re.IGNORECASE),
    "batch-normalization": re.compile(r"\bbatch normali[sz]ation\b", re.IGNORECASE),
    "receptive-radius": re.compile(r"\breceptive radius\b", re.IGNORECASE),
    "self-ensemble-edsr": re.compile(r"\bself-ensemble\b", re.IGNORECASE),
    "bfloat16": re.compile(r"\bbfloat16\b"),
    "fast-mode": re.compile(r"\bfast mode\b", re.IGNORECASE),
    "mdsr": re.compile(r"\bMDSR(?:-baseline)?\b"),
    "pretrained-initialization": re.compile(r"\bpre-?trained initiali[sz]ation\b", re.IGNORECASE),
    "l1-loss": re.compile(r"\bL1(?: loss)?\b"),
}
#: What is not prose: fenced code, inline code, math, headings, markdown links and images.
NOT_PROSE = re.compile(
    r"```.*?```|`[^`\n]+`|\$\$.*?\$\$|\$[^$\n]+\$|^#[^\n]*$|!?\[(?:[^\]\n]|\[[^\]\n]*\])*\]\([^)\n]*\)",
    re.DOTALL | re.MULTILINE,
)
#: A glossary link: [text](../docs/glossary.md#anchor).
GLOSSARY_ANCHOR = re.compile(r"\[(?P<text>[^\]\n]+)\]\(\.\./docs/glossary\.md#(?P<anchor>[\w-]+)\)")


@dataclass(frozen=True)
class Mention:
    cell: int
    code: str
    target: str | None  # the link's target when the span is a link's whole text


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _markdown(nb: dict) -> list[tuple[int, str]]:
    """(cell index, text without fenced code blocks) for each markdown cell of the lesson, up to
    its "## Exercises" heading: an exercise asks the student to write what the package's function
    does, so linking it there would show the answer."""
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        if EXERCISES.search(_source(cell)):
            break
        cells.append((index, FENCE.sub(" ", _source(cell))))
    return cells


def _mentions(nb: dict) -> list[Mention]:
    """Inline code spans of the markdown, in reading order."""
    found = []
    for index, text in _markdown(nb):
        for match in SPAN.finditer(text):
            linked = match["open"] is not None and match["link"] is not None
            found.append(Mention(index, match["code"], match["target"] if linked else None))
    return found


def _import_nodes(nb: dict) -> list[ast.Import | ast.ImportFrom]:
    nodes = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        # IPython magics and shell escapes are not Python.
        lines = [line for line in _source(cell).splitlines() if line.lstrip()[:1] not in "%!"]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        nodes += [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return nodes


def _import(module: str, name: str) -> object | None:
    """``from module import name``: an attribute, or else a submodule; None if neither."""
    try:
        parent = importlib.import_module(module)
    except ImportError:
        return None
    if hasattr(parent, name):
        return getattr(parent, name)
    try:
        return importlib.import_module(f"{module}.{name}")
    except ImportError:
        return None


def _namespace(nb: dict) -> dict[str, object]:
    """The names a span may start with: the package, its ``__all__``, the notebook's imports."""
    names: dict[str, object] = {PACKAGE: edsr_lite}
    names.update({name: getattr(edsr_lite, name) for name in edsr_lite.__all__})
    for node in _import_nodes(nb):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and alias.asname:
                    names[alias.asname] = importlib.import_module(alias.name)
            continue
        module = node.module or ""
        if node.level or module.split(".")[0] != PACKAGE:
            continue
        # `from edsr_lite.course.diagrams import draw_edsr` makes `diagrams.X` readable too.
        if "." in module:
            names.setdefault(module.rsplit(".", 1)[1], importlib.import_module(module))
        for alias in node.names:
            obj = _import(module, alias.name)
            if obj is not None:
                names[alias.asname or alias.name] = obj
    return names


def _resolve(name: str, namespace: dict[str, object]) -> object | None:
    first, *rest = name.split(".")
    if first not in namespace:
        return None
    obj = namespace[first]
    for part in rest:
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif isinstance(obj, ModuleType):
            obj = _import(obj.__name__, part)
            if obj is None:
                return None
        else:
            return None
    return obj


def _source_link(obj: object) -> str | None:
    """The object's source file relative to notebooks/, or None (constants, outside objects)."""
    try:
        path = inspect.getsourcefile(obj)  # type: ignore[arg-type]
    except TypeError:
        return None
    if path is None:
        return None
    try:
        relative = Path(path).resolve().relative_to(PACKAGE_DIR)
    except ValueError:
        return None  # defined outside the package (torch, numpy)
    return f"../{PACKAGE}/{relative.as_posix()}"


def expected_links(nb: dict) -> list[tuple[Mention, str]]:
    """The first mention of each package object, with the link it needs."""
    namespace = _namespace(nb)
    seen: set[int] = set()
    keep: list[object] = []  # keeps the objects alive so that their ids stay theirs
    first = []
    for mention in _mentions(nb):
        match = NAME.fullmatch(mention.code.strip())
        if match is None:
            continue
        obj = _resolve(match["name"], namespace)
        if obj is None or id(obj) in seen:
            continue
        target = _source_link(obj)
        if target is None:
            continue
        seen.add(id(obj))
        keep.append(obj)
        first.append((mention, target))
    return first


def _target_file(target: str) -> str:
    return target.split("#", 1)[0].split("?", 1)[0]


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def test_the_six_notebooks_are_checked():
    assert len(NOTEBOOKS) == 6, [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_mention_of_each_package_object_links_to_its_source(path):
    problems = [
        f"{path.name} cell {mention.cell}: `{mention.code}` -> write "
        f"[`{mention.code}`]({target})"
        + (f" (links to {mention.target})" if mention.target else "")
        for mention, target in expected_links(_load(path))
        if mention.target is None or _target_file(mention.target) != target
    ]
    assert not problems, "first mentions not linked to their source:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_relative_links_point_to_existing_files(path):
    broken = []
    nb = _load(path)
    cells = [(i, FENCE.sub(" ", _source(c))) for i, c in enumerate(nb["cells"])]
    for index, text in (cell for cell in cells if nb["cells"][cell[0]]["cell_type"] == "markdown"):
        masked = re.sub(r"`[^`\n]+`", lambda m: "`" + "x" * (len(m[0]) - 2) + "`", text)
        for match in LINK.finditer(masked):
            target = match["target"].strip("<>")
            if EXTERNAL.match(target) or not _target_file(target):
                continue
            if not (path.parent / _target_file(target)).exists():
                broken.append(f"{path.name} cell {index}: ({target}) does not exist")
    assert not broken, "broken relative links:\n" + "\n".join(broken)


def test_the_check_sees_the_example_spans():
    """The resolver reads the forms the notebooks use: the test cannot pass by checking nothing."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "import edsr_lite as el\n"
                "from edsr_lite.course import multiscale\n"
                "from edsr_lite.core.patches import draw_scale\n"
                "from edsr_lite.course.exercises import tour as exercises\n",
            },
            {
                "cell_type": "markdown",
                "source": "[`draw_scale`](../edsr_lite/core/patches.py) then `draw_scale`, "
                "`multiscale.parts_used`, `el.evaluate(model)`, `el.evaluate`, `imresize`, "
                "`el.MDSR.forward`, `el.PRESETS`, `numpy.pad`, `exercises`",
            },
        ]
    }
    found = {mention.code: target for mention, target in expected_links(nb)}
    assert found == {
        "draw_scale": "../edsr_lite/core/patches.py",
        "multiscale.parts_used": "../edsr_lite/course/multiscale.py",
        "el.evaluate(model)": "../edsr_lite/evaluation.py",
        "imresize": "../edsr_lite/core/degradation.py",
        "el.MDSR.forward": "../edsr_lite/core/models.py",
        "exercises": "../edsr_lite/course/exercises/tour.py",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_each_lesson_links_the_core_where_it_shows_an_idea(path):
    linked = {
        match["module"]
        for _, text in _markdown(_load(path))
        for match in CORE_TARGET.finditer(text)
    }
    missing = sorted(CORE_LINKS[path.stem] - linked)
    assert not missing, (
        f"{path.name}: no link to "
        + ", ".join(f"../edsr_lite/core/{module}.py" for module in missing)
        + " in the lesson's markdown (before its exercises)"
    )


def test_every_core_module_is_linked_from_a_lesson():
    core = {p.stem for p in (PACKAGE_DIR / "core").glob("*.py") if p.stem != "__init__"}
    assert set(CORE_LINKS) == {path.stem for path in NOTEBOOKS}
    unlinked = sorted(core - set().union(*CORE_LINKS.values()))
    assert not unlinked, f"core modules no lesson links to: {unlinked}"
    unknown = sorted(set().union(*CORE_LINKS.values()) - core)
    assert not unknown, f"CORE_LINKS names modules that are not in edsr_lite/core/: {unknown}"


# --------------------------------------------------------------------------------------------
# The glossary
# --------------------------------------------------------------------------------------------


def prose_mask(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """``text`` with everything but prose blanked out (same length), and the glossary links it
    holds as (start, end, anchor) of their text. The text of a glossary link stays prose, so
    that a term's first use can be found inside the link that names it."""
    links = []
    masked = list(text)
    for match in NOT_PROSE.finditer(text):
        glossary = GLOSSARY_ANCHOR.fullmatch(match[0])
        for i in range(match.start(), match.end()):
            masked[i] = "\0"
        if glossary:
            start = match.start() + glossary.start("text")
            end = match.start() + glossary.end("text")
            masked[start:end] = text[start:end]
            links.append((start, end, glossary["anchor"]))
    return "".join(masked), links


def first_term_uses(nb: dict) -> list[tuple[str, int, re.Match, str | None]]:
    """For each glossary term a lesson uses: (anchor, cell, the first match in its prose, the
    anchor of the glossary link around that match or None)."""
    found = {}
    for index, text in _markdown(nb):
        masked, links = prose_mask(text)
        for anchor, pattern in GLOSSARY_TERMS.items():
            if anchor in found:
                continue
            match = pattern.search(masked)
            if match is None:
                continue
            around = [a for s, e, a in links if s <= match.start() and match.end() <= e]
            found[anchor] = (anchor, index, match, around[0] if around else None)
    return list(found.values())


def glossary_anchors(text: str) -> set[str]:
    """GitHub's anchors of the markdown headings in ``text``: "## Bicubic (MATLAB's)" ->
    "bicubic-matlabs"."""
    anchors = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_use_of_each_glossary_term_links_to_its_entry(path):
    problems = [
        f"{path.name} cell {cell}: {match[0]!r} -> [{match[0]}]({GLOSSARY_LINK}#{anchor})"
        + (f" (links to #{linked})" if linked else "")
        for anchor, cell, match, linked in first_term_uses(_load(path))
        if linked != anchor
    ]
    assert not problems, "first uses not linked to the glossary:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_glossary_links_name_its_entries(path):
    if not GLOSSARY.exists():
        pytest.skip("docs/glossary.md is not written yet")
    anchors = glossary_anchors(GLOSSARY.read_text(encoding="utf-8"))
    assert set(GLOSSARY_TERMS) <= anchors, sorted(set(GLOSSARY_TERMS) - anchors)
    nb = _load(path)
    linked = {
        m["anchor"]
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for m in GLOSSARY_ANCHOR.finditer(_source(c))
    }
    assert linked <= anchors, f"{path.name}: no such glossary entries: {sorted(linked - anchors)}"


def test_the_glossary_check_finds_terms_in_prose_only():
    text = (
        "# PSNR heading\n`PSNR` and $PSNR$ and [PSNR of 01](01_bn_removal.ipynb) are not prose; "
        "the [PSNR](../docs/glossary.md#psnr) is, and so is bicubic, then SSIM."
    )
    nb = {"cells": [{"cell_type": "markdown", "source": text}]}
    uses = {anchor: (match[0], linked) for anchor, _, match, linked in first_term_uses(nb)}
    assert uses == {"psnr": ("PSNR", "psnr"), "bicubic-matlabs": ("bicubic", None),
                    "ssim": ("SSIM", None)}  # fmt: skip
    assert glossary_anchors("## Bicubic (MATLAB's)\n## Self-ensemble (EDSR+)\n## Y channel") == {
        "bicubic-matlabs", "self-ensemble-edsr", "y-channel"
    }  # fmt: skip

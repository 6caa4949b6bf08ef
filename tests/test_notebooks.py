"""The notebooks: each runs top to bottom in fast mode, and is committed without outputs.

Every ``notebooks/*.ipynb`` is executed with nbclient in a fresh kernel, in fast mode
(``EDSR_LITE_FAST=1``), from the ``notebooks/`` folder, as a reader would run it; any error
fails the test. Run times are printed (``pytest -s``), never asserted: that is
``benchmarks/bench_notebooks.py``'s job.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import time
from pathlib import Path

import nbformat
import pytest

from edsr_lite.course import claims

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The claims each notebook's fast budget is sized to show: their verdict in fast mode must be
#: "shown here" (the start of the claim's text in the "measured here vs the paper" table).
SHOWN_IN_FAST_MODE: dict[str, tuple[str, ...]] = {
    "01_bn_removal": ("training memory saved without BN",),
    "02_residual_scaling": ("live runs, peak loss", "live runs, final loss"),
    "03_multiscale": (
        "MDSR parameters / three EDSRs",
        "MDSR-baseline parameters / three EDSR-baselines",
        "parts shared by all scales",
        "shipped MDSR-baseline - EDSR-baseline x3",
    ),
    "04_pretrained_init": ("live tiny pair, halfway", "live tiny pair, end"),
    "05_benchmark": ("bicubic column", "self-ensemble gain"),
}
CELL_TIMEOUT = 600  # seconds per cell; a fast-mode notebook takes about a minute in all

_spec = importlib.util.spec_from_file_location("strip_notebooks", ROOT / "tools/strip_notebooks.py")
strip_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strip_notebooks)


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_notebooks_of_this_issue_exist():
    names = {p.name for p in NOTEBOOKS}
    for name in (
        "00_tour.ipynb",
        "01_bn_removal.ipynb",
        "02_residual_scaling.ipynb",
        "03_multiscale.ipynb",
        "04_pretrained_init.ipynb",
        "05_benchmark.ipynb",
    ):
        assert name in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook_is_stripped_and_valid(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert not strip_notebooks.needs_stripping(path), (
        f"{path.name} holds outputs: run python tools/strip_notebooks.py {path}"
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_follows_the_series_layout(path):
    """A title, what you will learn, the paper's claim, numbered sections ending with the
    comparison to the paper, then the summary; a parameters cell reading fast mode through the
    package helper, and no functions or classes defined in cells (except in an exercise cell,
    whose function is the student's answer: it holds a solution region)."""
    nb = nbformat.read(path, as_version=4)
    sections = [
        line[3:]
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    numbered = [s for s in sections if re.match(r"\d+\. ", s)]
    assert [int(s.split(".")[0]) for s in numbered] == list(range(1, len(numbered) + 1)), (
        f"{path.name}: sections numbered {[s.split('.')[0] for s in numbered]}"
    )
    if path.name != "00_tour.ipynb":  # the tour is not about a claim of the paper
        assert numbered[-1].endswith("Measured here vs the paper"), numbered[-1]
    assert sections[len(numbered)] == "Summary", "the summary follows the last section"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "title first"
    intro = first.source.lower()
    assert "what you will learn" in intro and "claim" in intro
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any("edsr_lite.course.settings" in c.source for c in code[:3]), (
        "a parameters cell near the top reads fast mode with edsr_lite.course.settings"
    )
    for cell in code:
        if "### BEGIN SOLUTION" in cell.source:
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef), (
                f"{path.name}: a cell defines {node.name}; move it into the package"
            )


def test_strip_tool_removes_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    cell.execution_count = 3
    cell.metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00Z"}
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# title")]
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    assert strip_notebooks.needs_stripping(path)
    assert strip_notebooks.main(["--check", str(path)]) == 1
    assert strip_notebooks.main([str(path)]) == 0
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert "execution" not in stripped.cells[0].metadata
    assert stripped.cells[0].source == "1 + 1" and stripped.cells[1].source == "# title"
    assert strip_notebooks.main(["--check", str(path)]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_in_fast_mode(path, run_notebook):
    nb = nbformat.read(path, as_version=4)
    start = time.monotonic()
    run_notebook(nb, timeout=CELL_TIMEOUT)  # raises CellExecutionError on any error
    print(f"{path.name}: {time.monotonic() - start:.0f} s in fast mode")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    verdicts = claim_verdicts(nb)
    if path.name != "00_tour.ipynb":
        assert verdicts, f"{path.name}: no 'measured here vs the paper' table with verdicts"
    for claim, cell in verdicts.items():
        verdict, effect = read_verdict(cell)
        assert verdict in claims.VERDICTS, f"{path.name}: {claim!r}: verdict {cell!r}"
        # the one rule, re-applied to the numbers the table prints (rounded: ties skipped)
        if effect is not None and not math.isclose(abs(effect[0]), effect[1], abs_tol=0.002):
            value, noise = effect
            expected = claims.Effect(value, noise).verdict
            assert verdict == expected, f"{path.name}: {claim!r}: {cell!r} breaks the rule"
    for start in SHOWN_IN_FAST_MODE.get(path.stem, ()):
        shown = [read_verdict(v)[0] for c, v in verdicts.items() if c.startswith(start)]
        assert shown == [claims.SHOWN], f"{path.name}: {start!r} in fast mode: {shown}"


def claim_verdicts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """{claim: verdict cell} from the executed notebook's claims tables (claims.claims_table),
    each of which must be followed by the rule's sentence."""
    header = "| | paper | measured here | verdict |"
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/markdown", "")
            if not text.startswith(header):
                continue
            assert claims.RULE in text, "a claims table without the verdict rule under it"
            for row in text.splitlines()[2:]:
                if not row.startswith("|"):
                    break
                cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
                found[cells[0]] = cells[-1]
    return found


_EFFECT = re.compile(
    r"^(?P<verdict>[^(]+?) \((?P<value>[+-][\d.]+)\S*.*?, noise ±(?P<noise>[\d.]+|∞)"
)


def read_verdict(cell: str) -> tuple[str, tuple[float, float] | None]:
    """The verdict of a table's verdict cell, and the (effect, noise) it prints, if any:
    "within noise (+0.070 dB, noise ±0.210 dB)" -> ("within noise", (0.07, 0.21)); a reason in
    brackets is not an effect: "too short to tell (...)" -> ("too short to tell", None)."""
    match = _EFFECT.match(cell)
    if match is None:  # "shown here", or "too short to tell (a network not above bicubic yet)"
        return cell.split(" (", 1)[0], None
    noise = float("inf") if match["noise"] == "∞" else float(match["noise"])
    return match["verdict"], (float(match["value"]), noise)

"""The site's page of results (``results.html``) and its summary figure.

* ``claims``: every row of the lessons' "measured here vs the paper" tables, read from the
  outputs of the executed notebooks of this build (the markdown that
  ``edsr_lite.course.claims.claims_table`` printed), never retyped;
* ``psnr_figure``: the shipped models' PSNR on Set5/Set14/B100 per scale (``data/RESULTS.json``)
  beside the paper's EDSR, the official EDSR-baseline weights and VDSR, as a PNG.

    python tools/site_results.py docs/results_psnr.png   # the README's copy of the figure
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "RESULTS.json"
#: The header that ``claims_table`` writes (its first column has no name).
HEADER = ["", "paper", "measured here", "verdict"]
#: The figure's alt text (the page and the README use it).
FIGURE_ALT = (
    "PSNR in dB of the shipped EDSR-baseline and MDSR-baseline models on Set5, Set14 and B100 "
    "at scales x2, x3 and x4, beside the paper's EDSR, the official EDSR-baseline weights, "
    "VDSR and bicubic interpolation"
)


@dataclass(frozen=True)
class ClaimRow:
    """One claim of a lesson's table, as the executed notebook printed it (Markdown cells)."""

    lesson: str  # the notebook's stem: 02_residual_scaling
    claim: str
    paper: str
    measured: str
    verdict: str


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of a claims table in ``markdown`` (empty if it holds none)."""
    lines = [line.strip() for line in markdown.splitlines()]
    for k, line in enumerate(lines):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells == HEADER:
            body = []
            for row in lines[k + 2 :]:
                if not row.startswith("|"):
                    break
                body.append([c.strip() for c in row.strip().strip("|").split("|")])
            return body
    return []


def claims(books: Mapping[str, nbformat.NotebookNode]) -> list[ClaimRow]:
    """Every claims-table row of the executed notebooks ``{stem: notebook}``, in order."""
    found = []
    for stem, nb in books.items():
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/markdown", "")
                for row in table_rows(text if isinstance(text, str) else "".join(text)):
                    found.append(ClaimRow(stem, *row[:4]))
    return found


def _by_key(results: dict, method: str, ensemble: bool = False) -> dict[str, float]:
    """``{"Set5 x2": psnr}`` of a method's rows in RESULTS.json."""
    return {
        f"{r['set']} x{r['scale']}": r["psnr"]
        for r in results["rows"]
        if r["method"].rstrip("+").startswith(method) and r["ensemble"] == ensemble
    }


def psnr_figure(results_path: Path = RESULTS) -> bytes:
    """The summary figure as PNG bytes: one panel per benchmark set, PSNR (dB) against scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(results_path.read_text(encoding="utf-8"))
    references = {r["key"]: r for r in results["references"] + results["classic_cnns"]}
    sets, scales = results["sets"], results["scales"]
    series = [
        ("EDSR-baseline, shipped", _by_key(results, "edsr_baseline"), "o-", "#1f77b4"),
        ("MDSR-baseline, shipped", _by_key(results, "mdsr_baseline"), "s-", "#2ca02c"),
    ]
    for key, style, color in [
        ("paper_edsr", "^--", "#d62728"),
        ("edsr_baseline_official", "v--", "#9467bd"),
        ("paper_vdsr", "d:", "#ff7f0e"),
        ("paper_bicubic", "x:", "#7f7f7f"),
    ]:
        if key in references:
            values = {k: v[0] for k, v in references[key]["values"].items()}
            series.append((references[key]["label"], values, style, color))
    figure, axes = plt.subplots(1, len(sets), figsize=(10, 4), sharey=False)
    for ax, name in zip(axes, sets, strict=True):
        for label, values, style, color in series:
            points = [(s, values[f"{name} x{s}"]) for s in scales if f"{name} x{s}" in values]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=color, label=label, markersize=5)
        ax.set_title(name)
        ax.set_xlabel("scale (x)")
        ax.set_xticks(scales)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR on Y (dB)")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.suptitle("Shipped models vs the paper (data/RESULTS.json)", fontsize=10)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/site_results.py OUT.png", file=sys.stderr)
        return 2
    from edsr_lite.files import atomic_write

    png = psnr_figure()
    atomic_write(Path(argv[0]), lambda f: f.write(png))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))

"""The site's page of results (``results.html``), its README section and its summary figure.

* ``claims``: every row of the lessons' "measured here vs the paper" tables, read from the
  outputs of the executed notebooks of this build (the markdown that
  ``edsr_lite.course.claims.claims_table`` printed: claim | paper | measured here | verdict,
  whatever the verdict words), never retyped;
* ``save_claims``/``load_claims``: a build's rows kept in ``docs/claims_<mode>.json`` (mode and
  date of the build, no path), so that the page and the README show the verdicts of both modes
  side by side: the mode built now from its notebooks, the other one from its file;
* ``side_by_side``: the rows of both modes, matched by lesson and claim;
* ``readme_section``: the README's table of the claims in both modes, between
  ``CLAIMS_BEGIN`` and ``CLAIMS_END`` (``write_readme`` puts it there);
* ``psnr_figure``: the shipped models' PSNR on Set5/Set14/B100 per scale (``data/RESULTS.json``)
  beside the paper's EDSR, the official EDSR-baseline weights and VDSR, as a PNG.

    python tools/site_results.py docs/results_psnr.png   # the README's copy of the figure
    python tools/site_results.py --readme   # the README's claims, from docs/claims_*.json
"""

from __future__ import annotations

import datetime
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "RESULTS.json"
README = ROOT / "README.md"
#: Where each mode's claims are kept: ``claims_fast.json``, ``claims_full.json``.
CLAIMS_DIR = ROOT / "docs"
MODES = ("fast", "full")
#: The last three column names of a claims table (its first names the claim, or nothing).
COLUMNS = ["paper", "measured here", "verdict"]
#: The README's generated section of the claims.
CLAIMS_BEGIN = "<!-- claims:begin -->"
CLAIMS_END = "<!-- claims:end -->"
#: What a mode's cell says when that mode has no saved build, or the build has no such row.
NOT_BUILT = "not built yet"
NOT_MEASURED = "not in that build"
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
    mode: str = ""  # "fast" or "full": the mode of the build that ran the notebook


@dataclass(frozen=True)
class ModeClaims:
    """One mode's rows and when they were built (``None``: that mode was never saved)."""

    mode: str
    built: str | None  # the build's date, 2026-12-06
    rows: tuple[ClaimRow, ...]

    def line(self, current: bool) -> str:
        """Where the mode's column comes from, in words."""
        if self.built is None:
            return f"{self.mode} mode: {NOT_BUILT}."
        when = "this build, of" if current else "the site build of"
        return f"{self.mode} mode: {when} {self.built}."


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table line (an escaped ``\\|`` stays in its cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the claims tables in ``markdown`` (claim, paper, measured, verdict)."""
    lines = [line.strip() for line in markdown.splitlines()]
    body = []
    for k, line in enumerate(lines):
        cells = _cells(line)
        if not line.startswith("|") or len(cells) != 4 or [c.lower() for c in cells[1:]] != COLUMNS:
            continue
        for row in lines[k + 2 :]:
            if not row.startswith("|"):
                break
            body.append(_cells(row))
    return body


def claims(books: Mapping[str, nbformat.NotebookNode], mode: str = "") -> list[ClaimRow]:
    """Every claims-table row of the executed notebooks ``{stem: notebook}``, in order."""
    found = []
    for stem, nb in books.items():
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/markdown", "")
                for row in table_rows(text if isinstance(text, str) else "".join(text)):
                    found.append(ClaimRow(stem, *row[:4], mode=mode))
    return found


def today() -> str:
    """Today's date (UTC), as a build is dated: 2026-12-06."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def claims_path(mode: str, folder: Path = CLAIMS_DIR) -> Path:
    return folder / f"claims_{mode}.json"


def save_claims(rows: Sequence[ClaimRow], mode: str, folder: Path = CLAIMS_DIR) -> Path:
    """Keep a build's rows in ``folder/claims_<mode>.json`` with today's date (UTC)."""
    from edsr_lite.files import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    data = {"mode": mode, "built": today(), "rows": [asdict(row) for row in rows]}
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    return atomic_write_text(claims_path(mode, folder), text)


def load_claims(mode: str, folder: Path = CLAIMS_DIR) -> ModeClaims:
    """A mode's saved rows; ``built`` is None if no build of that mode was saved."""
    path = claims_path(mode, folder)
    if not path.is_file():
        return ModeClaims(mode, None, ())
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = tuple(ClaimRow(**{**row, "mode": mode}) for row in data["rows"])
    return ModeClaims(mode, data["built"], rows)


@dataclass(frozen=True)
class SideBySide:
    """One claim in both modes: ``by_mode[mode]`` is its row there, or None."""

    lesson: str
    claim: str
    paper: str
    by_mode: dict[str, ClaimRow | None]


def side_by_side(
    modes: Sequence[ModeClaims], lessons: Sequence[str] | None = None
) -> list[SideBySide]:
    """The claims of every mode, matched by (lesson, claim), in the order of the first mode's
    rows, then the others' (only the rows of ``lessons`` if given)."""
    found: dict[tuple[str, str], SideBySide] = {}
    for claims_of in modes:
        for row in claims_of.rows:
            if lessons is not None and row.lesson not in lessons:
                continue
            key = (row.lesson, row.claim)
            if key not in found:
                found[key] = SideBySide(row.lesson, row.claim, row.paper, {})
            found[key].by_mode.setdefault(claims_of.mode, row)
    for entry in found.values():
        for claims_of in modes:
            entry.by_mode.setdefault(claims_of.mode, None)
    return list(found.values())


def mode_cell(entry: SideBySide, claims_of: ModeClaims) -> str:
    """A mode's Markdown cell of the README table: "verdict (measured)" or why there is none."""
    row = entry.by_mode[claims_of.mode]
    if claims_of.built is None:
        return NOT_BUILT
    if row is None:
        return NOT_MEASURED
    if row.measured.strip() in ("", "-"):
        return row.verdict
    return f"{row.verdict} ({row.measured})"


def from_root(markdown: str) -> str:
    """A cell's Markdown links, written from ``notebooks/``, rewritten from the repository's root
    (``../data/RESULTS.md`` -> ``data/RESULTS.md``, ``01_bn_removal.ipynb`` ->
    ``notebooks/01_bn_removal.ipynb``), as the README reads them."""
    markdown = re.sub(r"\]\(\.\./", "](", markdown)
    return re.sub(r"\]\((\w+\.ipynb)", r"](notebooks/\1", markdown)


def readme_section(modes: Sequence[ModeClaims]) -> str:
    """The README's claims table, both modes side by side (between the markers)."""
    head = "| lesson | claim | paper | " + " | ".join(f"{c.mode} mode" for c in modes) + " |"
    lines = [
        CLAIMS_BEGIN,
        "Generated by `make site` (`tools/site_results.py`) from the claims tables of the",
        "executed notebooks: do not edit by hand. A mode's cell is its verdict (the value",
        "measured); the columns come from:",
        "",
        *(f"- {c.line(current=False)}" for c in modes),
        "",
        head,
        "|" + "---|" * (3 + len(modes)),
    ]
    for entry in side_by_side(modes):
        cells = [f"`{entry.lesson}`", entry.claim, entry.paper]
        cells += [mode_cell(entry, c) for c in modes]
        lines.append(from_root("| " + " | ".join(cells) + " |"))
    return "\n".join([*lines, CLAIMS_END])


def write_readme(readme: Path = README, folder: Path = CLAIMS_DIR) -> bool:
    """Put ``readme_section`` of the saved claims in the README; True if it changed."""
    from edsr_lite.files import atomic_write_text

    text = readme.read_text(encoding="utf-8")
    if CLAIMS_BEGIN not in text or CLAIMS_END not in text:
        raise SystemExit(f"{readme.name} has no {CLAIMS_BEGIN} ... {CLAIMS_END} section")
    before, rest = text.split(CLAIMS_BEGIN, 1)
    after = rest.split(CLAIMS_END, 1)[1]
    new = before + readme_section([load_claims(m, folder) for m in MODES]) + after
    if new != text:
        atomic_write_text(readme, new)
    return new != text


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
    if argv == ["--readme"]:
        changed = write_readme()
        print(f"README.md's claims section {'rewritten' if changed else 'already up to date'}")
        return 0
    if len(argv) != 1:
        print("usage: python tools/site_results.py OUT.png | --readme", file=sys.stderr)
        return 2
    from edsr_lite.files import atomic_write

    png = psnr_figure()
    atomic_write(Path(argv[0]), lambda f: f.write(png))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))

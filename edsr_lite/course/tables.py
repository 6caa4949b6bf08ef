"""edsr_lite.course.tables (split from edsr_lite.experiments; docstring to write)."""

from __future__ import annotations

from collections.abc import Sequence

# ============================================================================================
# Tables
# ============================================================================================


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rows_table(rows: Sequence[dict], digits: int = 2) -> str:
    """Any list of flat dicts as a markdown table (floats to ``digits`` decimals, None as "-":
    a value not measured, e.g. of a model that has not shipped); no rows, an empty string."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for row in rows:
        cells = [_cell(v, digits) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Markdown table of (claim, the paper's number, the number measured here)."""
    lines = ["| | paper | measured here |", "|---|---|---|"]
    lines += [f"| {claim} | {paper} | {ours} |" for claim, paper, ours in rows]
    return "\n".join(lines)

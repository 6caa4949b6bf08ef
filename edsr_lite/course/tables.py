"""Markdown tables for the notebooks' cells (``Markdown(rows_table(...))``).

* :func:`rows_table`: any list of flat dicts, one row each, keys as columns; floats to a fixed
  number of decimals, ``None`` (not measured, e.g. a model not shipped) as "-".

A notebook's "measured here vs the paper" table, with its computed verdict column, is
:func:`edsr_lite.course.claims.claims_table`.

Result rows of :func:`edsr_lite.evaluation.evaluate` have their own layout, as the papers print
them: :func:`edsr_lite.evaluation.format_table`.
"""

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

"""Markdown tables for the notebooks' cells (``Markdown(rows_table(...))``).

* :func:`rows_table`: any list of flat dicts, one row each, keys as columns; floats to a fixed
  number of decimals, whole numbers with thousands separators (1,369,883), yes/no for a
  boolean, ``None`` (not measured, e.g. a model not shipped) as "-".

A notebook's "measured here vs the paper" table, with its computed verdict column, is
:func:`edsr_lite.course.claims.claims_table`.

Result rows of :func:`edsr_lite.evaluation.evaluate` have their own layout, as the papers print
them: :func:`edsr_lite.evaluation.format_table`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

# ============================================================================================
# Tables
# ============================================================================================


def cell(value: object, digits: int = 2) -> str:
    """One value as a reader should see it in a table: ``None`` as "-" (not measured), a
    boolean as "yes"/"no", a whole number with thousands separators ("1,369,883"), any other
    real number to ``digits`` decimals; anything else as its ``str``."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.{digits}f}"
    return str(value)


def rows_table(rows: Sequence[dict], digits: int = 2) -> str:
    """Any list of flat dicts as a markdown table, each value shown by :func:`cell` (floats to
    ``digits`` decimals, whole numbers with separators, yes/no, None as "-": a value not
    measured, e.g. of a model that has not shipped); no rows, an empty string."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for row in rows:
        cells = [cell(v, digits) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

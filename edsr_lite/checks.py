"""Checks of user input shared by the edges of the library (the API's entry points, the files
it reads, the command line), so that the core (:mod:`edsr_lite.core`) can read like the paper.

Each check raises ``ValueError`` with a message that names the value and what it should be.
"""

from __future__ import annotations

import numpy as np


def is_int(value: object) -> bool:
    """True for a Python or numpy integer; False for ``True``/``False`` and for ``2.0``."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_scale(scale: object) -> None:
    """Refuse a scale that is not a positive integer (``2.5`` is refused, not rounded)."""
    if not is_int(scale) or scale < 1:
        raise ValueError(f"scale must be a positive integer (2, 3, 4, ...), got {scale!r}")

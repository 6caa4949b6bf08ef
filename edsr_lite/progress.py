"""Progress for a person: one tqdm wrapper (every long loop shows the same bar), durations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def progress_bar(
    items: Iterable[T], desc: str, total: int | None = None, enabled: bool = True
) -> Iterable[T]:
    """``items`` unchanged when ``enabled`` is False, else wrapped in a tqdm bar that
    disappears when done (``leave=False``); tqdm.auto picks the notebook widget in Jupyter."""
    if not enabled:
        return items
    from tqdm.auto import tqdm  # imported late: importing the package stays fast

    return tqdm(items, desc=desc, total=total, leave=False)


def format_duration(seconds: float) -> str:
    """A duration for a person: ``12.3 s`` under a minute and a half, ``12 min`` under 1.5 hours,
    ``2.4 h`` from there on."""
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"

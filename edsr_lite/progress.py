"""Progress bars: one wrapper over tqdm, so every long loop of the package shows the same bar."""

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

"""Progress for a person: one tqdm wrapper (every long loop shows the same bar), durations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


@contextmanager
def progress_ticks(total: int, desc: str, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """A bar of ``total`` steps for work that is not a loop of ours (a callback's calls):
    yields ``tick()``, to call once per step; the bar closes when the block ends."""
    if not enabled:
        yield lambda: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, leave=False) as bar:
        yield lambda: bar.update(1)


def format_duration(seconds: float) -> str:
    """A duration for a person: ``12.3 s`` under a minute and a half, ``12 min`` under 1.5 hours,
    ``2.4 h`` from there on."""
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"

"""Sentences and verdicts computed from a measurement, so that a notebook's prose always agrees
with the output above it, on any machine and in either mode.

A notebook's markdown states only the paper's numbers and fixed facts; everything a run
measured is said by a code cell, through these helpers::

    say(f"From x2, the x4 model ended {compare(ours, scratch)} the scratch run.")
    # -> "From x2, the x4 model ended 0.45 dB above the scratch run."   (or "below", "level with")

* :func:`compare` / :func:`direction`: the words ("above", "below", "level with") chosen from
  the numbers, with the difference in the unit the table shows.
* :func:`signed`: ``+0.45 dB``, as the tables print a difference; :func:`count`: "1 tile",
  "6 tiles".
* :class:`Claim`, :func:`verdict`, :func:`claims_table`: the "measured here vs the paper" table,
  one row per claim, with a verdict column computed from whether the measurement shows it.
  A claim measured by *this* run's short training (``live=True``) that is not shown in fast mode
  is "too short to show (fast mode)", never a conclusion against the paper.
* :func:`say`: a computed sentence as markdown in the notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from IPython.display import Markdown

from edsr_lite.course.settings import fast_mode

__all__ = [
    "NOTHING_TO_CHECK",
    "NOT_SHOWN",
    "SHOWN",
    "TOO_SHORT",
    "VERDICTS",
    "Claim",
    "claims_table",
    "compare",
    "count",
    "direction",
    "say",
    "signed",
    "verdict",
]

#: The verdicts of :func:`verdict`, as the "measured here vs the paper" tables print them.
SHOWN = "shown here"
NOT_SHOWN = "not shown here"
TOO_SHORT = "too short to show (fast mode)"
NOTHING_TO_CHECK = "-"
VERDICTS = (SHOWN, NOT_SHOWN, TOO_SHORT, NOTHING_TO_CHECK)


def direction(
    value: float, reference: float, *, tie: float = 0.0, words: Sequence[str] = ("above", "below")
) -> str:
    """``words[0]`` when ``value`` exceeds ``reference`` by more than ``tie``, ``words[1]`` when it
    falls short by more than ``tie``, else "level with"."""
    if value - reference > tie:
        return words[0]
    if reference - value > tie:
        return words[1]
    return "level with"


def compare(
    value: float,
    reference: float,
    *,
    unit: str = "dB",
    digits: int = 2,
    words: Sequence[str] = ("above", "below"),
) -> str:
    """How ``value`` stands to ``reference``: "0.45 dB above", "0.12 dB below" or "level with".

    A difference that rounds to zero at ``digits`` decimals is "level with", so that the words
    never disagree with the numbers a table prints at that precision.
    """
    tie = 0.5 * 10**-digits
    said = direction(value, reference, tie=tie, words=words)
    if said == "level with":
        return said
    space = "" if unit in ("%", "x") else " "
    return f"{abs(value - reference):.{digits}f}{space}{unit} {said}"


def signed(value: float, unit: str = "dB", digits: int = 2) -> str:
    """A difference with its sign, as tables print it: ``+0.45 dB``, ``-0.09 dB``."""
    space = "" if unit in ("%", "x") else " "
    return f"{value:+.{digits}f}{space}{unit}"


def count(n: int, noun: str) -> str:
    """A count in words with the noun's number: ``count(1, "tile")`` is "1 tile", 6 "6 tiles"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def verdict(holds: bool | None, *, live: bool) -> str:
    """What a measurement says of a claim of the paper.

    Args:
        holds: whether the measurement shows the claim (its direction: "faster", "less memory",
            "comparable"); ``None`` for a row with no claim to check (a fixed fact, a number the
            paper does not give).
        live: whether the measurement comes from this notebook's own short training, whose length
            fast mode cuts. A live claim not shown in fast mode is "too short to show (fast mode)":
            the budget, not the paper, is what failed.
    """
    if holds is None:
        return NOTHING_TO_CHECK
    if holds:
        return SHOWN
    return TOO_SHORT if live and fast_mode() else NOT_SHOWN


@dataclass(frozen=True)
class Claim:
    """One row of a "measured here vs the paper" table.

    ``claim`` what is compared; ``paper`` the paper's number or words ("-": the paper gives
    none); ``measured`` this run's number, as text; ``holds`` and ``live`` as :func:`verdict`.
    """

    claim: str
    paper: str
    measured: str
    holds: bool | None = None
    live: bool = False

    @property
    def verdict(self) -> str:
        return verdict(self.holds, live=self.live)


def claims_table(claims: Sequence[Claim]) -> str:
    """Markdown table of claims: | claim | paper | measured here | verdict |."""
    lines = ["| | paper | measured here | verdict |", "|---|---|---|---|"]
    lines += [f"| {c.claim} | {c.paper} | {c.measured} | {c.verdict} |" for c in claims]
    return "\n".join(lines)


def say(*sentences: str) -> Markdown:
    """Computed sentences shown as markdown in the notebook (joined by spaces)."""
    return Markdown(" ".join(s.strip() for s in sentences if s.strip()))

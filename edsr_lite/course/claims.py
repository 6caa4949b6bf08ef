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
* :class:`Effect`, :func:`paired`, :func:`samples`, :func:`curves`: a measured effect with the
  noise bound it must beat, estimated from the data: paired per-image differences, repeated
  measurements, or the step-to-step jitter of two validation curves.
* :class:`Claim`, :func:`verdict`, :func:`claims_table`: the "measured here vs the paper" table,
  one row per claim, its verdict decided by ONE rule (:data:`RULE`), fixed before the run and
  the same whichever way the result points: *shown here* when the effect exceeds its noise in
  the paper's direction, *not shown here* when it exceeds it the other way, *within noise*
  otherwise, and *too short to tell* when the run has not reached what the claim is about. An
  exact measurement (a parameter count, the list of copied tensors) is the same rule with zero
  noise, given as ``holds=True/False``.
* :func:`say`: a computed sentence as markdown in the notebook.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from IPython.display import Markdown

__all__ = [
    "NOTHING_TO_CHECK",
    "NOT_SHOWN",
    "RULE",
    "SHOWN",
    "STANDARD_ERRORS",
    "TOO_SHORT",
    "VERDICTS",
    "WITHIN_NOISE",
    "Claim",
    "Effect",
    "claims_table",
    "compare",
    "count",
    "curves",
    "direction",
    "paired",
    "samples",
    "say",
    "signed",
    "verdict",
]

#: The verdicts of :func:`verdict`, as the "measured here vs the paper" tables print them.
SHOWN = "shown here"
NOT_SHOWN = "not shown here"
WITHIN_NOISE = "within noise"
TOO_SHORT = "too short to tell"
NOTHING_TO_CHECK = "-"
VERDICTS = (SHOWN, NOT_SHOWN, WITHIN_NOISE, TOO_SHORT, NOTHING_TO_CHECK)

#: How many standard errors an effect must exceed to count: 2 (about 95% for a normal error).
STANDARD_ERRORS = 2.0

#: The one verdict rule, printed under every claims table.
RULE = (
    "Verdict rule, fixed before the run and the same in both directions: *shown here* when the "
    "effect exceeds its noise (2 standard errors) the paper's way, *not shown here* when it "
    "exceeds it the other way, *within noise* otherwise; *too short to tell* when the run has "
    "not reached what the claim is about (trained networks compared while one is still below "
    "bicubic). Exact counts have no noise."
)


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


@dataclass(frozen=True)
class Effect:
    """A measured effect and the noise bound it must exceed to count.

    ``value`` is signed so that positive is the paper's direction (e.g. PSNR with minus PSNR
    without, memory saved); ``noise`` >= 0 is :data:`STANDARD_ERRORS` standard errors of that
    value, ``math.inf`` when the data cannot estimate it (one image, one point); ``unit`` as the
    table prints it; ``how`` says in a few words where the noise comes from. ``too_early``
    (empty by default) says why the run cannot speak to the claim yet, by a condition fixed
    before the run and blind to the direction (a network compared is not above bicubic: it has
    not learned what the paper compares); the verdict is then :data:`TOO_SHORT`.
    """

    value: float
    noise: float
    unit: str = "dB"
    how: str = ""
    too_early: str = ""

    @property
    def verdict(self) -> str:
        """The rule: :data:`SHOWN` above the noise, :data:`NOT_SHOWN` below minus the noise,
        :data:`WITHIN_NOISE` in between (a NaN effect is within noise); :data:`TOO_SHORT`
        whatever the numbers when ``too_early`` is set."""
        if self.too_early:
            return TOO_SHORT
        if self.value > self.noise:
            return SHOWN
        if self.value < -self.noise:
            return NOT_SHOWN
        return WITHIN_NOISE

    def __str__(self) -> str:
        """``+0.45 dB, noise ±0.12 dB``, as the verdict column prints it."""
        digits = 3 if self.unit == "dB" else 2
        noise = "∞" if math.isinf(self.noise) else f"{self.noise:.{digits}f}"
        space = "" if self.unit in ("%", "x", "") else " "
        return (
            f"{signed(self.value, self.unit, digits)}, "
            f"noise ±{noise}{space if noise != '∞' else ''}{self.unit if noise != '∞' else ''}"
        )


def _standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (``inf`` for fewer than 2)."""
    if values.size < 2:
        return math.inf
    return float(values.std(ddof=1) / math.sqrt(values.size))


def paired(
    ours: Sequence[float], reference: Sequence[float], *, unit: str = "dB", how: str = ""
) -> Effect:
    """The mean of the paired differences ``ours[i] - reference[i]`` (e.g. per-image PSNR of
    two models on the same images), its noise 2 standard errors of that mean."""
    d = np.asarray(ours, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if d.size == 0:
        raise ValueError("paired() needs at least one pair of measurements")
    noise = STANDARD_ERRORS * _standard_error(d)
    default = f"{count(d.size, 'paired difference')}"
    return Effect(float(d.mean()), noise, unit, how or default)


def samples(
    ours: Sequence[float], reference: Sequence[float], *, unit: str = "", how: str = ""
) -> Effect:
    """``mean(ours) - mean(reference)`` of two sets of repeated measurements (e.g. the peak
    memory of a few steps each), its noise 2 standard errors of that difference (Welch)."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("samples() needs at least one measurement on each side")
    noise = STANDARD_ERRORS * math.hypot(_standard_error(a), _standard_error(b))
    default = f"{a.size} + {b.size} repeated measurements"
    return Effect(float(a.mean() - b.mean()), noise, unit, how or default)


def _jitter(curve: np.ndarray, tail: int) -> float:
    """The noise of one point of a validation curve, from its last ``tail + 1`` points: the
    root mean square of their second differences over sqrt(6) (for independent noise,
    var(x[i-1] - 2 x[i] + x[i+1]) = 6 var(x); a smooth trend hardly adds to it). ``inf`` under
    4 points."""
    bends = np.diff(curve[-(tail + 1) :], n=2)
    if bends.size < 2:
        return math.inf
    return float(np.sqrt(np.mean(bends**2) / 6))


def curves(
    ours: Sequence[float], reference: Sequence[float], *, tail: int = 5, unit: str = "dB"
) -> Effect:
    """The gap between the last points of two validation curves (validated at the same steps),
    its noise 2 x the combined jitter of their last ``tail + 1`` points (:func:`_jitter`)."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("curves() needs at least one validation point on each side")
    noise = STANDARD_ERRORS * math.hypot(_jitter(a, tail), _jitter(b, tail))
    how = f"jitter of the last {min(tail + 1, a.size, b.size)} validation points"
    return Effect(float(a[-1] - b[-1]), noise, unit, how)


def verdict(effect: Effect | None = None, *, holds: bool | None = None) -> str:
    """What a measurement says of a claim of the paper, by the one rule.

    Args:
        effect: a noisy measurement (:class:`Effect`): its own verdict.
        holds: an exact measurement (no noise): True is shown, False is not shown. ``None`` for
            both: a row with no claim to check (a fixed fact, a number the paper does not give).
    """
    if effect is not None and holds is not None:
        raise ValueError("give a claim either an effect (noisy) or holds (exact), not both")
    if effect is not None:
        return effect.verdict
    if holds is None:
        return NOTHING_TO_CHECK
    return SHOWN if holds else NOT_SHOWN


@dataclass(frozen=True)
class Claim:
    """One row of a "measured here vs the paper" table.

    ``claim`` what is compared; ``paper`` the paper's number or words ("-": the paper gives
    none); ``measured`` this run's number, as text; ``effect`` (noisy) or ``holds`` (exact) as
    :func:`verdict`.
    """

    claim: str
    paper: str
    measured: str
    holds: bool | None = None
    effect: Effect | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.effect, holds=self.holds)

    @property
    def verdict_cell(self) -> str:
        """The verdict column: the verdict, and for a noisy effect its value and noise."""
        if self.effect is None:
            return self.verdict
        if self.effect.too_early:
            return f"{self.verdict} ({self.effect.too_early})"
        return f"{self.verdict} ({self.effect})"


def claims_table(claims: Sequence[Claim]) -> str:
    """Markdown table of claims (| claim | paper | measured here | verdict |), then :data:`RULE`."""
    lines = ["| | paper | measured here | verdict |", "|---|---|---|---|"]
    lines += [f"| {c.claim} | {c.paper} | {c.measured} | {c.verdict_cell} |" for c in claims]
    return "\n".join(lines) + "\n\n" + RULE


def say(*sentences: str) -> Markdown:
    """Computed sentences shown as markdown in the notebook (joined by spaces)."""
    return Markdown(" ".join(s.strip() for s in sentences if s.strip()))

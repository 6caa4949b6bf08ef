"""Computed sentences and verdicts (edsr_lite.course.claims), and the rule they serve: a
notebook's markdown carries no number a run measured.

Every number with a unit of measurement (dB, %, s, ms, MB, steps, a ratio like 1.5x) in a
markdown cell of ``notebooks/*.ipynb`` must be the paper's: in a sentence that cites the paper
(it names "paper", "Lim et al.", the authors' official code, or one of the paper's
tables/figures), or one of the fixed facts
listed in ``FIXED_FACTS``. A sentence about what a run measured is produced by a code cell
(``claims.say``), so a new hard-coded measurement fails here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from edsr_lite.course import claims

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: A number followed by a unit of measurement; "1.5x" (a ratio) but not "x2" (a scale) or
#: "48 x 48" (a shape).
MEASURED = re.compile(
    r"(?<![\w.])[+-]?\d[\d,]*(?:\.\d+)?"
    r"(?:\s?(?:dB|%|ms|s|sec|seconds?|minutes?|min|hours?|h|MB|MiB|GB|GiB|KB|kB|steps?)|x)"
    r"(?![\w/])"
)
#: "at step 1500": a step count before its number.
STEP_NUMBER = re.compile(r"\bsteps?\s(?!0\b)\d[\d,]*\b")
#: Sentences that quote the paper.
CITES_PAPER = re.compile(
    r"paper|Lim et al|official|the authors|Table \d|Fig\. ?\d|Sec\. ?\d", re.IGNORECASE
)
#: Facts that no run measures: definitions and arithmetic.
FIXED_FACTS = (
    "+3 dB means half the squared error",  # 10 log10(2) = 3.01: the definition of PSNR
    "20 log10(255/219) = 1.32 dB",  # the Y range of BT.601: arithmetic
    "8x the compute",  # the self-ensemble runs 8 transforms
    "9x the features",  # a x3 pixel shuffle needs 3 x 3 channels per output channel
    "4x the features",  # a x2 pixel shuffle needs 2 x 2
)


def _prose(source: str) -> str:
    """Markdown without code spans, math and link targets: what reads as prose."""
    source = re.sub(r"```.*?```", " ", source, flags=re.DOTALL)
    source = re.sub(r"`[^`]*`", " ", source)
    source = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", source, flags=re.DOTALL)
    source = re.sub(r"\]\([^)]*\)", "]", source)
    for fact in FIXED_FACTS:
        source = source.replace(fact, " ")
    return source


def _sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text)
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*(\[])|\n", text)


def uncited_measurements(source: str) -> list[str]:
    """The sentences of a markdown cell holding a measured-looking number not cited to the paper."""
    found = []
    for sentence in _sentences(_prose(source)):
        if (MEASURED.search(sentence) or STEP_NUMBER.search(sentence)) and not CITES_PAPER.search(
            sentence
        ):
            found.append(sentence.strip())
    return found


def test_the_rule_sees_measurements_and_lets_paper_quotes_and_facts_through():
    assert uncited_measurements("MDSR ended 0.4 dB above the single-scale models.")
    assert uncited_measurements("It reached the scratch run's score at step 75 of 200.")
    assert uncited_measurements("The tiled runs took 4.7 s.")
    assert uncited_measurements("It uses 35% less memory.")
    assert uncited_measurements("Pretrained, it converges 1.5x faster.")
    assert uncited_measurements("A first sentence. Then 12 dB at the start.")
    assert not uncited_measurements("The paper reports 37.99 dB on Set5 at x2.")
    assert not uncited_measurements("EDSR saves about 40% of the memory (Lim et al. 2017).")
    assert not uncited_measurements("Upscale x2, x3 and x4; patches are 48 x 48 pixels.")
    assert not uncited_measurements("In `STEPS = 300` steps, $x_2$ and [a link](a_3s.ipynb).")
    assert not uncited_measurements("By definition +3 dB means half the squared error.")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_carries_no_measured_number(path):
    nb = nbformat.read(path, as_version=4)
    offending = [
        f"cell {i}: {sentence}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for sentence in uncited_measurements(cell.source)
    ]
    assert not offending, (
        f"{path.name}: markdown states what a run measured; compute it in a code cell "
        "(edsr_lite.course.claims.say) or cite the paper:\n" + "\n".join(offending)
    )


def test_compare_picks_the_words_from_the_numbers():
    assert claims.compare(29.46, 29.01) == "0.45 dB above"
    assert claims.compare(29.01, 29.46) == "0.45 dB below"
    assert claims.compare(29.012, 29.009) == "level with"  # both print as 29.01
    assert claims.compare(0.35, 0.40, unit="%", digits=2, words=("more", "less")) == "0.05% less"
    assert claims.compare(5.1, 4.7, unit="s", digits=1, words=("slower", "faster")) == (
        "0.4 s slower"
    )
    assert claims.direction(3.0, 1.0, tie=2.5) == "level with"
    assert claims.signed(-0.091) == "-0.09 dB"
    assert claims.signed(1.5, unit="x", digits=1) == "+1.5x"


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_one_rule_whichever_way_the_result_points(sign):
    """The same effect size gets the mirror verdict in the other direction: the rule does
    not look at the direction before deciding how much noise to forgive."""
    mirror = {claims.SHOWN: claims.NOT_SHOWN, claims.WITHIN_NOISE: claims.WITHIN_NOISE}
    for value, noise, verdict in [(0.5, 0.1, claims.SHOWN), (0.05, 0.1, claims.WITHIN_NOISE)]:
        expected = verdict if sign > 0 else mirror[verdict]
        assert claims.Effect(sign * value, noise).verdict == expected
    assert claims.Effect(sign * 9.0, math.inf).verdict == claims.WITHIN_NOISE  # one image


def test_paired_differences_decide_the_noise():
    rng = np.random.default_rng(0)
    base = rng.uniform(25, 35, 40)
    clear = claims.paired(base + 0.3 + rng.normal(0, 0.1, 40), base)  # +0.3 dB, tight
    assert clear.verdict == claims.SHOWN and 0.25 < clear.value < 0.35
    worse = claims.paired(base - 0.3 + rng.normal(0, 0.1, 40), base)
    assert worse.verdict == claims.NOT_SHOWN
    tiny = claims.paired([31.62, 30.1], [31.55, 30.3])  # two images, opposite signs
    assert tiny.verdict == claims.WITHIN_NOISE
    assert claims.paired([31.6], [31.5]).noise == math.inf  # one image: no noise estimate
    with pytest.raises(ValueError):
        claims.paired([], [])


def test_samples_and_curves():
    steady = claims.samples([100.0, 101.0, 99.0], [60.0, 61.0, 59.5], unit="MiB")
    assert steady.verdict == claims.SHOWN and steady.unit == "MiB"
    assert claims.samples([100.0, 140.0], [120.0, 90.0]).verdict == claims.WITHIN_NOISE
    rising = [20.0, 24.0, 26.0, 27.0, 27.5, 27.8, 28.0]
    assert claims.curves([v + 1.0 for v in rising], rising).verdict == claims.SHOWN
    jumpy = [20.0, 25.0, 21.0, 26.0, 22.0, 27.0]
    assert claims.curves([v + 0.3 for v in jumpy], jumpy).verdict == claims.WITHIN_NOISE
    assert claims.curves([27.0, 28.0], [26.0, 27.0]).noise == math.inf  # too few points


def test_verdicts_and_table():
    assert claims.verdict(holds=True) == claims.SHOWN  # exact: zero noise
    assert claims.verdict(holds=False) == claims.NOT_SHOWN
    assert claims.verdict() == claims.NOTHING_TO_CHECK
    with pytest.raises(ValueError):
        claims.verdict(claims.Effect(1.0, 0.1), holds=True)
    table = claims.claims_table(
        [
            claims.Claim("c", "p", "m", holds=True),
            claims.Claim("d", "p", "m", effect=claims.Effect(0.07, 0.21)),
        ]
    )
    lines = table.splitlines()
    assert lines[0] == "| | paper | measured here | verdict |"
    assert lines[2] == f"| c | p | m | {claims.SHOWN} |"
    assert lines[3] == "| d | p | m | within noise (+0.070 dB, noise ±0.210 dB) |"
    assert lines[-1] == claims.RULE
    assert claims.say("A.", " ", "B.").data == "A. B."


@pytest.mark.parametrize("value", [2.0, -2.0, 0.0])
def test_too_early_whichever_way_the_numbers_point(value):
    """A condition fixed before the run (a network not above bicubic yet) makes the verdict
    "too short to tell", however large the effect is and in whichever direction."""
    early = claims.Effect(value, 0.1, too_early="a network not above bicubic yet")
    assert early.verdict == claims.TOO_SHORT
    cell = claims.Claim("c", "p", "m", effect=early).verdict_cell
    assert cell == "too short to tell (a network not above bicubic yet)"

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

import re
from pathlib import Path

import nbformat
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


def test_verdicts(monkeypatch):
    monkeypatch.setenv("EDSR_LITE_FAST", "0")
    assert claims.verdict(True, live=True) == claims.SHOWN
    assert claims.verdict(False, live=True) == claims.NOT_SHOWN
    assert claims.verdict(None, live=False) == claims.NOTHING_TO_CHECK
    monkeypatch.setenv("EDSR_LITE_FAST", "1")
    assert claims.verdict(False, live=True) == claims.TOO_SHORT  # the budget failed, not the paper
    assert claims.verdict(False, live=False) == claims.NOT_SHOWN  # a shipped model: no excuse
    table = claims.claims_table([claims.Claim("c", "p", "m", holds=True)])
    assert table.splitlines()[0] == "| | paper | measured here | verdict |"
    assert table.splitlines()[-1] == f"| c | p | m | {claims.SHOWN} |"
    assert claims.say("A.", " ", "B.").data == "A. B."

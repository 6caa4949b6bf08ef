"""Every exercise check of every notebook against right and typical wrong answers.

The answers live in ``tests/exercise_answers/<lesson>.py``, one module per notebook, beside the
checks they test (``edsr_lite.course.exercises.<lesson>``). Each check must:

* accept the notebook's solution, printing one ``✓`` line and leaving torch's state alone;
* reject each typical wrong answer with a message that names the mistake;
* let the student notebook's stub (``NotImplementedError``) through unchanged.
"""

from __future__ import annotations

import importlib

import pytest
from exercise_answers import (
    benchmark,
    bn_removal,
    multiscale,
    pretrained_init,
    residual_scaling,
    tour,
)
from test_exercises_checking import (
    assert_accepts,
    assert_lets_the_stub_through,
    assert_rejects,
    checks_of,
)

LESSONS = [tour, bn_removal, residual_scaling, multiscale, pretrained_init, benchmark]


def _lesson(answers) -> str:
    return answers.__name__.rsplit(".", 1)[-1]


#: The exercise module each answer module answers, by the lesson's name.
EXERCISES = {
    answers: importlib.import_module(f"edsr_lite.course.exercises.{_lesson(answers)}")
    for answers in LESSONS
}
CHECKS = [(answers, name) for answers in LESSONS for name in checks_of(EXERCISES[answers])]
WRONG = [(answers, *case) for answers in LESSONS for case in answers.WRONG]


def _check_id(case) -> str:
    return f"{_lesson(case[0])}-{case[1][6:]}"


def _wrong_id(case) -> str:
    answers, name, _, message = case
    return f"{_lesson(answers)}-{name[6:]}-{message[:30]}"


@pytest.mark.parametrize("answers", LESSONS, ids=_lesson)
def test_every_check_has_a_right_and_a_wrong_answer(answers):
    checks = set(checks_of(EXERCISES[answers]))
    assert set(answers.RIGHT) == checks == {name for name, _, _ in answers.WRONG}


@pytest.mark.parametrize(("answers", "name"), CHECKS, ids=map(_check_id, CHECKS))
def test_check_accepts_the_right_answer(answers, name, capsys):
    assert_accepts(getattr(EXERCISES[answers], name), answers.RIGHT[name], capsys)


@pytest.mark.parametrize(("answers", "name", "wrong", "message"), WRONG, ids=map(_wrong_id, WRONG))
def test_check_rejects_a_typical_wrong_answer(answers, name, wrong, message):
    assert_rejects(getattr(EXERCISES[answers], name), wrong, message)


@pytest.mark.parametrize(("answers", "name"), CHECKS, ids=map(_check_id, CHECKS))
def test_check_lets_the_students_stub_raise_not_implemented(answers, name):
    assert_lets_the_stub_through(getattr(EXERCISES[answers], name))

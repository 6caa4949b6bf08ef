"""The fairness table of the exercise checks (issue #32, "fair checks").

Each lesson's answers (``tests/exercise_answers/<lesson>.py``) list in ``VARIANTS`` rows of
``(check name, answer, expected)``: ``expected`` None for a correct variant the check must
accept (padding forms, module containers, dtype-preserving forms, a tensor for a number, ...),
or a regular expression the message of the check must contain for a wrong answer (the right
diagnosis, every mistake of it, or the refusal of an answer that calls the package's own
answer). Read as a table: ``pytest tests/test_exercise_fairness.py -v`` lists every row.
"""

from __future__ import annotations

import importlib

import pytest
from test_exercises_checking import assert_accepts

from edsr_lite.course.exercises.checking import ExerciseError

LESSONS = ["tour", "bn_removal", "residual_scaling", "multiscale", "pretrained_init", "benchmark"]


def _rows() -> list:
    rows = []
    for lesson in LESSONS:
        answers = importlib.import_module(f"exercise_answers.{lesson}")
        for check, answer, expected in answers.VARIANTS:
            name = getattr(answer, "__name__", type(answer).__name__)
            label = "accepts" if expected is None else f"refuses: {expected[:40]}"
            rows.append(pytest.param(lesson, check, answer, expected,
                                     id=f"{lesson}-{check[6:]}-{name}-{label}"))  # fmt: skip
    return rows


ROWS = _rows()


@pytest.mark.parametrize(("lesson", "check", "answer", "expected"), ROWS)
def test_the_check_accepts_a_correct_variant_and_names_a_wrong_answers_mistake(
    lesson, check, answer, expected, capsys
):
    run = getattr(importlib.import_module(f"edsr_lite.course.exercises.{lesson}"), check)
    if expected is None:
        assert_accepts(run, answer, capsys)
    else:
        with pytest.raises(ExerciseError, match=expected):
            run(answer)


def test_every_check_of_a_tabled_lesson_has_an_accepted_and_a_refused_row():
    for lesson in LESSONS:
        answers = importlib.import_module(f"exercise_answers.{lesson}")
        if not hasattr(answers, "VARIANTS"):
            continue
        module = importlib.import_module(f"edsr_lite.course.exercises.{lesson}")
        for check in module.__all__:
            kinds = {expected is None for name, _, expected in answers.VARIANTS if name == check}
            assert kinds == {True, False}, f"{lesson}.{check}: needs both kinds of rows"

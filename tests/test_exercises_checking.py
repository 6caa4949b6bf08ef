"""How every exercise check behaves (``edsr_lite.course.exercises.checking``), and the helpers
with which ``tests/test_exercises_lessons.py`` holds every lesson's checks to it:

* a right answer passes, printing one ``✓`` line, leaving torch's random state and thread count;
* a typical wrong answer raises an ExerciseError (an AssertionError) that names the mistake;
* the student notebook's stub (NotImplementedError) goes through unchanged;
* any other error of the student's code becomes an ExerciseError that names the call.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import torch

from edsr_lite.course.exercises import residual_scaling
from edsr_lite.course.exercises.checking import ExerciseError, diagnose, isolated, run_answer


def checks_of(module: ModuleType) -> list[str]:
    """The checks of a lesson's exercise module, in its ``__all__`` order (the notebook's)."""
    checks = [n for n in module.__all__ if n.startswith("check_")]
    public = {n for n in vars(module) if n.startswith("check_")}
    assert set(checks) == public, "every check_ of the module is in its __all__"
    return checks


def assert_accepts(check: Any, answer: Any, capsys: pytest.CaptureFixture) -> None:
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    assert check(answer) is None
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {check.__name__} passed (") and out.endswith(" cases)\n")
    assert torch.equal(torch.get_rng_state(), state), "a check must leave the random state alone"
    assert torch.get_num_threads() == threads


def assert_rejects(check: Any, wrong: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message) as info:
        check(wrong)
    assert isinstance(info.value, AssertionError)


def assert_lets_the_stub_through(check: Any) -> None:
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise: replace this line with your code")

    with pytest.raises(NotImplementedError, match="Exercise"):
        check(stub)


def test_other_errors_of_the_student_code_are_named():
    def broken(*args):
        return [][0]

    with pytest.raises(ExerciseError, match=r"broken\(.*raised IndexError") as info:
        residual_scaling.check_predicted_growth(broken)
    assert isinstance(info.value.__cause__, IndexError)


def test_run_answer_adds_the_hint_and_lets_exercise_errors_through():
    def wrong():
        raise ValueError("bad")

    with pytest.raises(ExerciseError, match=r"^f\(\) raised ValueError: bad\. try again$"):
        run_answer(wrong, what="f()", hint="try again")

    def diagnosed():
        raise ExerciseError("as it is")

    with pytest.raises(ExerciseError, match="^as it is$"):
        run_answer(diagnosed, what="f()")


def test_diagnose_names_the_first_matching_mistake_and_skips_none():
    candidates = [("skipped", None), ("halved", 1.0), ("doubled", 4.0), ("also halved", 1.0)]
    assert diagnose(1.0, candidates, lambda a, b: a == b) == "halved"
    assert diagnose(3.0, candidates, lambda a, b: a == b) is None


def test_isolated_gives_back_the_random_state_and_threads_even_on_failure():
    @isolated
    def check(answer):
        torch.set_num_threads(1)
        torch.rand(3)
        raise ExerciseError("wrong")

    state, threads = torch.get_rng_state(), torch.get_num_threads()
    with pytest.raises(ExerciseError):
        check(None)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads

"""How every exercise check behaves (``edsr_lite.course.exercises.checking``), and the helpers
with which ``tests/test_exercises_lessons.py`` holds every lesson's checks to it:

* a right answer passes, printing one ``✓`` line, leaving torch's random state and thread count;
* a typical wrong answer raises an ExerciseError (an AssertionError) that names the mistake;
* the student notebook's stub (NotImplementedError) goes through unchanged;
* any other error of the student's code becomes an ExerciseError that names the call;
* the error lists every mistake, and a notebook shows it as a short box, not a traceback;
* an answer that uses the package's own answer is refused (``refuse_references``);
* the hidden test (``fresh_check``) ignores checks and references the notebook replaced.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import edsr_lite as el
from edsr_lite.core import degradation, metrics, models
from edsr_lite.course import residual_scaling as residual_scaling_lesson
from edsr_lite.course import tour as tour_lesson
from edsr_lite.course.exercises import residual_scaling
from edsr_lite.course.exercises.checking import (
    ExerciseError,
    diagnose,
    isolated,
    mistakes,
    run_answer,
)
from edsr_lite.course.exercises.guard import fresh_check, refuse_references


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


# ============================================================================================
# The error a student sees: every mistake, what was expected, a hint, in a short box
# ============================================================================================


def test_exercise_error_lists_its_mistakes_and_joins_them_in_its_message():
    error = ExerciseError(["BN still present", "forgot res_scale"], expected="x + s f(x)", hint="h")
    assert error.mistakes == ["BN still present", "forgot res_scale"]
    assert str(error) == "BN still present\nforgot res_scale"
    assert isinstance(error, AssertionError)
    assert ExerciseError("one").mistakes == ["one"] and str(ExerciseError("one")) == "one"


def test_the_box_names_the_check_each_mistake_what_was_expected_and_the_hint():
    @isolated
    def check_thing(answer):
        with mistakes("check_thing") as found:
            found.expected = "the sum"
            found.add("first mistake", hint="add them")
            found.add("second mistake")
            found.add("first mistake")  # the same mistake twice is listed once

    with pytest.raises(ExerciseError) as info:
        check_thing(None)
    error = info.value
    assert error.mistakes == ["first mistake", "second mistake"]
    assert error.check == "check_thing"
    text = _plain("\n".join(error._render_traceback_()))
    assert "check_thing failed: 2 mistakes" in text
    assert "• first mistake" in text and "• second mistake" in text
    assert "expected: the sum" in text and "hint: add them" in text
    assert "Traceback" not in text and "checking.py" not in text


def test_mistakes_raises_nothing_when_none_was_found_and_keeps_an_error_raised_inside():
    with mistakes("check_ok") as found:
        pass
    assert not found
    with pytest.raises(ExerciseError) as info, mistakes("check_x") as found:
        found.add("noted first")
        run_answer(lambda: [][0], what="f()")
    assert info.value.mistakes == ["noted first", "f() raised IndexError: list index out of range"]
    assert isinstance(info.value.__cause__, IndexError)
    with pytest.raises(NotImplementedError), mistakes("check_x") as found:
        found.add("noted")
        raise NotImplementedError("the stub")


def test_ipython_shows_the_box_not_a_traceback_through_the_checker():
    """What a notebook shows: IPython renders the error with its _render_traceback_."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    capture = pytest.importorskip("IPython.utils.capture")
    shell = interactiveshell.InteractiveShell.instance()
    code = (
        "from edsr_lite.course.exercises import residual_scaling as exercises\n"
        "exercises.check_predicted_growth(lambda b, s: (1 + s**2 / 18) ** b)\n"
    )
    with capture.capture_output() as out:
        result = shell.run_cell(code)
    assert isinstance(result.error_in_exec, ExerciseError), "the cell still fails"
    shown = _plain(out.stdout + out.stderr)
    assert "check_predicted_growth failed" in shown and "• that is the variance's growth" in shown
    assert "Traceback" not in shown and "checking.py" not in shown


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# ============================================================================================
# Passing requires doing: refuse_references
# ============================================================================================


def _psnr_helper(sr, hr, scale):  # a helper as a notebook would define it
    return el.psnr(sr, hr, scale)


def _own_psnr(sr, hr, scale):
    a = el.rgb_to_y(sr)[scale:-scale, scale:-scale] - el.rgb_to_y(hr)[scale:-scale, scale:-scale]
    return float(10 * np.log10(255**2 / np.mean(a**2))) + float(torch.zeros(()))


def _imports_it(sr, hr, scale):
    from edsr_lite.core.metrics import psnr

    return psnr(sr, hr, scale)


def _imports_the_module(sr, hr, scale):
    import edsr_lite.core.metrics as m

    return m.psnr(sr, hr, scale)


def _nested(sr, hr, scale):
    def inner():
        return [el.psnr(sr, hr, scale) for _ in range(1)]

    return inner()[0]


def _mdsr_forward(model, x, scale):
    return el.MDSR.forward(model, x, scale)


class _Subclass(el.ResBlock):
    pass


class _ReturnsTheReference:
    def __new__(cls, n_feats, kernel_size=3, res_scale=1.0):
        return el.ResBlock(n_feats, kernel_size, res_scale=res_scale)


def _factory(n_feats, kernel_size=3, res_scale=1.0):
    return el.ResBlock(n_feats, kernel_size, res_scale=res_scale)


class _OwnBlock(nn.Module):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feats, n_feats, kernel_size, padding="same"))

    def forward(self, x):
        return x + F.relu(self.body(x))


def _fold_own(block):
    if not isinstance(block, el.ResBlock):  # the allowed package class
        raise TypeError("a ResBlock please")
    return copy.deepcopy(block)


@pytest.mark.parametrize(
    ("answer", "references", "message"),
    [
        (lambda sr, hr, s: el.psnr(sr, hr, s), [metrics.psnr], "calls edsr_lite's own `psnr`"),
        (_psnr_helper, [metrics.psnr], "calls edsr_lite's own `psnr`"),
        (lambda sr, hr, s: _psnr_helper(sr, hr, s), [metrics.psnr], "through _psnr_helper"),
        (_imports_it, [metrics.psnr], "`psnr`"),
        (_imports_the_module, [metrics.psnr], "`psnr`"),
        (_nested, [metrics.psnr], "`psnr`"),
        (functools.partial(metrics.psnr, scale=2), [metrics.psnr], "`psnr`"),
        (lambda sr, hr, s, f=metrics.psnr: f(sr, hr, s), [metrics.psnr], "`psnr`"),
        (_mdsr_forward, [models.MDSR.forward], "`MDSR.forward`"),
        (_mdsr_forward, [models.MDSR], "`MDSR`"),
        (_Subclass, [models.ResBlock], "subclasses edsr_lite's own `ResBlock`"),
        (_ReturnsTheReference, [models.ResBlock], "`ResBlock` \\(through"),
        (_factory, [models.ResBlock], "calls edsr_lite's own `ResBlock`"),
        (lambda n: el.fold_res_scale(n), [residual_scaling_lesson, models.fold_res_scale],
         "`fold_res_scale`"),
        (lambda b, s: residual_scaling_lesson.predicted_growth(b, s), [residual_scaling_lesson],
         "predicted_growth`"),
    ],
)  # fmt: skip
def test_refuse_references_finds_the_reference_however_it_is_reached(answer, references, message):
    with pytest.raises(ExerciseError, match=message):
        refuse_references(answer, references, what="your answer")


@pytest.mark.parametrize(
    ("answer", "references", "allowed"),
    [
        (_own_psnr, [metrics.psnr], []),
        (_OwnBlock, [models.ResBlock], []),
        (_fold_own, [models.fold_res_scale], [models.ResBlock]),
        (lambda hr, s: el.imresize(el.modcrop(hr, s), 1 / s), [tour_lesson],
         [degradation.imresize, degradation.modcrop]),
        (lambda b, s: float(torch.tensor(1 + s**2 / 18).pow(b / 2)), [residual_scaling_lesson], []),
    ],
)  # fmt: skip
def test_refuse_references_lets_the_students_own_code_through(answer, references, allowed):
    refuse_references(answer, references, what="your answer", allowed=allowed)


def test_a_check_refuses_an_answer_that_calls_its_reference():
    with pytest.raises(
        ExerciseError, match="calls edsr_lite's own `residual_scaling.predicted_growth`"
    ):
        residual_scaling.check_predicted_growth(residual_scaling_lesson.predicted_growth)
    with pytest.raises(ExerciseError, match="calls edsr_lite's own `fold_res_scale`"):
        residual_scaling.check_fold_res_scale(el.fold_res_scale)


# ============================================================================================
# The hidden test: fresh_check ignores what the notebook replaced
# ============================================================================================


def test_fresh_check_ignores_a_replaced_check_and_a_replaced_reference(monkeypatch, capsys):
    """A notebook that replaced the check and the references it compares with still fails a
    wrong answer in the hidden test, and a right one still passes (its isinstance checks on
    el.ResBlock hold for the fresh check's models); the replaced objects stay as they were."""
    from exercise_answers import residual_scaling as answers

    modules = {k: m for k, m in sys.modules.items() if k.startswith("edsr_lite")}
    monkeypatch.setattr(residual_scaling, "check_fold_res_scale", lambda answer: None)
    monkeypatch.setattr(residual_scaling, "check_activation_growth", lambda answer: None)
    monkeypatch.setattr(models, "fold_res_scale", lambda model: model)
    monkeypatch.setattr(residual_scaling_lesson, "predicted_growth", lambda b, s: 1.0)
    with pytest.raises(ExerciseError, match="nothing was folded"):
        fresh_check("residual_scaling", "check_fold_res_scale", copy.deepcopy)
    with pytest.raises(ExerciseError, match="wrong prediction"):
        fresh_check("residual_scaling", "check_predicted_growth", lambda b, s: 1.0)
    fresh_check("residual_scaling", "check_activation_growth", answers.activation_growth)
    fresh_check("residual_scaling", "check_fold_res_scale", answers.fold_block)
    assert capsys.readouterr().out.count("✓") == 2
    assert {k: m for k, m in sys.modules.items() if k.startswith("edsr_lite")} == modules
    assert residual_scaling.check_fold_res_scale(None) is None, "the notebook's objects stay"

"""How an exercise check works: the machinery that every lesson's checks share.

A check (a ``check_...`` of a lesson's module, such as
:func:`edsr_lite.course.exercises.bn_removal.check_resblock`) is wrapped in :func:`isolated`,
runs the student's answer with :func:`run_answer` and the package's reference on seeded random
inputs of several shapes and scales, and compares them (:func:`same` for tensors). On success
it prints one line with :func:`passed` (``✓ check_resblock passed (3 cases)``) and returns
None. On a mistake it raises :class:`ExerciseError` (an ``AssertionError``) whose message says
what is wrong: each check computes the typical wrong answers too, and :func:`diagnose` names
the one the student's answer equals ("BN still present", "forgot the shave", ...).

``NotImplementedError`` raised by the student's code (the stub that ``tools/make_student.py``
leaves in the student notebooks) propagates unchanged, so an unanswered exercise fails at its
own cells with that error. Any other exception from the student's code becomes an
:class:`ExerciseError` that names the call, chained to the original traceback.

Every check takes well under two seconds on a laptop CPU and leaves the global random state
(and torch's thread count) as it found it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = [
    "ExerciseError",
    "as_number",
    "benchmark_pair",
    "diagnose",
    "expect_tensor",
    "full_range_y",
    "isolated",
    "max_diff",
    "name_of",
    "passed",
    "run_answer",
    "same",
    "seeded",
]


# --------------------------------------------------------------------------------------------
# The result: a line on success, an ExerciseError that names the mistake otherwise
# --------------------------------------------------------------------------------------------


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what, and how to fix it."""


def passed(name: str, cases: int) -> None:
    """Print the one line of a check that passed: ``✓ check_resblock passed (3 cases)``."""
    print(f"✓ {name} passed ({cases} cases)")


def diagnose(
    answer: Any, candidates: Sequence[tuple[str, Any]], match: Callable[[Any, Any], bool]
) -> str | None:
    """The message of the first typical mistake whose result equals the student's answer.

    ``candidates``: (message, what that mistake computes) pairs, a value of None skipped (a
    mistake that cannot be told apart in this case); ``match(answer, value)`` compares."""
    for message, value in candidates:
        if value is not None and match(answer, value):
            return message
    return None


# --------------------------------------------------------------------------------------------
# Running the student's code on the cases
# --------------------------------------------------------------------------------------------


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch inside the block, and give the caller's random state back afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def isolated(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Run a check on one thread (its tensors are tiny: faster, and steady on a busy machine)
    and give the caller's random state and thread count back afterwards."""

    @functools.wraps(check)
    def run(answer: Any) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                check(answer)
        finally:
            torch.set_num_threads(threads)

    return run


def run_answer(fn: Callable, *args: Any, what: str, hint: str = "", **kwargs: Any) -> Any:
    """Run the student's code. NotImplementedError (the stub) and ExerciseError propagate;
    anything else becomes an ExerciseError that names the call (the original is chained)."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, ExerciseError):
        raise
    except Exception as error:
        message = f"{what} raised {type(error).__name__}: {error}"
        raise ExerciseError(message + (f". {hint}" if hint else "")) from error


def name_of(fn: Any) -> str:
    """The name of the student's function, for the messages (``your function`` if it has none)."""
    return getattr(fn, "__name__", "your function")


# --------------------------------------------------------------------------------------------
# Comparing an answer with the reference
# --------------------------------------------------------------------------------------------


def same(a: Any, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """Whether ``a`` is a tensor of ``b``'s shape with the same values (to ``atol``/``rtol``)."""
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.detach().double(), b.double(), atol=atol, rtol=rtol)
    )


def max_diff(a: torch.Tensor, b: torch.Tensor) -> str:
    """How far ``a`` is from ``b`` (same shape), for a message: max and mean absolute difference."""
    d = (a.detach().double() - b.double()).abs()
    return f"max difference {float(d.max()):.3g}, mean {float(d.mean()):.3g}"


def as_number(value: Any, what: str) -> float:
    """The student's result as a float (a 0-d tensor is fine); ExerciseError if it is none."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what} returned {value!r}; it should return a number") from None


def expect_tensor(out: Any, expected_shape: tuple[int, ...], what: str, hint: str = "") -> None:
    """ExerciseError unless ``out`` is a tensor of ``expected_shape`` (``hint`` says how to fix)."""
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(
            f"{what} returned {type(out).__name__}, not a torch.Tensor of shape {expected_shape}"
        )
    if tuple(out.shape) != expected_shape:
        raise ExerciseError(
            f"wrong output shape: {what} returned {tuple(out.shape)}, expected {expected_shape}"
            + (f". {hint}" if hint else "")
        )


# --------------------------------------------------------------------------------------------
# Inputs shared by the checks of two lessons (00's error map, 05's PSNR)
# --------------------------------------------------------------------------------------------


def full_range_y(img: np.ndarray) -> np.ndarray:
    """The full-range luma 0.299 R + 0.587 G + 0.114 B of an H x W x 3 image (float, 0..255):
    the typical wrong Y; the papers use MATLAB's rgb2ycbcr
    (:func:`edsr_lite.core.metrics.rgb_to_y`)."""
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def benchmark_pair(
    rng: np.random.Generator, h: int, w: int, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth HR image and an "SR" image with small errors inside and large ones near the
    border (as an upscaler has), different in each channel."""
    coarse = rng.uniform(30, 225, (h // 4 + 2, w // 4 + 2, 3))
    hr = np.kron(coarse, np.ones((4, 4, 1)))[:h, :w]
    noise = rng.normal(0, 4, (h, w, 3))
    border = np.ones((h, w), bool)
    band = 2 * scale
    border[band:-band, band:-band] = False
    noise[border] = rng.normal(0, 30, (int(border.sum()), 3))
    noise[..., 2] *= 2.5  # errors mostly in blue: Y (which weighs blue little) sees less
    sr = np.clip(hr + noise, 0, 255)
    return np.round(sr).astype(np.uint8), np.round(hr).astype(np.uint8)

"""How an exercise check works: the machinery that every lesson's checks share.

A check (a ``check_...`` of a lesson's module, such as
:func:`edsr_lite.course.exercises.bn_removal.check_resblock`) is wrapped in :func:`isolated`,
runs the student's answer with :func:`run_answer` and the package's reference on seeded random
inputs of several shapes and scales, and compares them (:func:`same` for tensors). On success
it prints one line with :func:`passed` (``✓ check_resblock passed (3 cases)``) and returns
None. On a mistake it raises :class:`ExerciseError` (an ``AssertionError``) that lists every
mistake the check can name (collected with :func:`mistakes`), what was expected and a hint:
each check computes the typical wrong answers too, and :func:`diagnose` names the one the
student's answer equals ("BN still present", "forgot the shave", ...). A notebook shows the
error as a short box (its ``_render_traceback_``), not a traceback through this module.

Passing requires doing: before running the answer, a check calls
:func:`edsr_lite.course.exercises.guard.refuse_references`, and nbgrader's hidden tests call
:func:`edsr_lite.course.exercises.guard.fresh_check` (see that module).

``NotImplementedError`` raised by the student's code (the stub that ``tools/make_student.py``
leaves in the student notebooks) propagates unchanged, so an unanswered exercise fails at its
own cells with that error. Any other exception from the student's code becomes an
:class:`ExerciseError` that names the call, chained to the original traceback.

Every check takes well under two seconds on a laptop CPU and leaves the global random state
(and torch's thread count) as it found it.
"""

from __future__ import annotations

import functools
import sysconfig
import textwrap
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "ExerciseError",
    "Mistakes",
    "mistakes",
    "as_number",
    "benchmark_pair",
    "diagnose",
    "expect_tensor",
    "full_range_y",
    "is_library",
    "isolated",
    "max_diff",
    "name_of",
    "passed",
    "run_answer",
    "same",
    "seeded",
]


#: Where code that is not the student's lives: the package, the standard library, site-packages.
_LIBRARY_DIRS = tuple(
    {Path(__file__).resolve().parents[2]}
    | {
        Path(p).resolve()
        for k in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(k))
    }
)


def is_library(filename: str) -> bool:
    """Whether a code file belongs to edsr_lite, the standard library or an installed package
    (the student's own code lives elsewhere: a notebook cell, a script, a test module)."""
    if not filename or filename.startswith("<frozen"):
        return bool(filename)
    path = Path(filename).resolve()
    return any(path.is_relative_to(d) for d in _LIBRARY_DIRS)


# --------------------------------------------------------------------------------------------
# The result: a line on success, an ExerciseError that names the mistake otherwise
# --------------------------------------------------------------------------------------------


class ExerciseError(AssertionError):
    """An exercise's answer is wrong: every mistake the check could name, what it expected, a hint.

    ``str(error)`` is the mistakes, one per line. In IPython/Jupyter the error shows as a short
    box (:meth:`_render_traceback_`) instead of a traceback through the checker; the cell still
    fails, so nbgrader and nbclient see an error. ``check`` is the name of the check that raised
    it (filled in by :func:`isolated`)."""

    def __init__(
        self,
        message: str | Sequence[str],
        *,
        expected: str = "",
        hint: str = "",
        check: str = "",
    ) -> None:
        self.mistakes = [message] if isinstance(message, str) else [str(m) for m in message]
        self.expected = expected
        self.hint = hint
        self.check = check
        super().__init__("\n".join(self.mistakes))

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error: a box, no traceback."""
        return render_box(self)


_BOX_WIDTH = 92
_RED, _BOLD, _RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


def render_box(error: ExerciseError) -> list[str]:
    """The box of an :class:`ExerciseError`: the check's name, each mistake as a bullet, what
    was expected, the hint, and (for an error raised by the student's code) where it happened."""
    count = len(error.mistakes)
    title = f"✗ {error.check or 'the check'} failed"
    title += f": {count} mistakes" if count > 1 else ""
    lines = [f"{_RED}{_BOLD}╭─ {title} {'─' * max(3, _BOX_WIDTH - len(title) - 4)}{_RESET}"]

    def add(text: str, first: str, rest: str) -> None:
        for j, paragraph in enumerate(text.splitlines() or [""]):
            wrapped = textwrap.wrap(paragraph, _BOX_WIDTH - 6) or [""]
            for k, line in enumerate(wrapped):
                lead = first if j == 0 and k == 0 else rest
                lines.append(f"{_RED}│{_RESET} {lead}{line}")

    for mistake in error.mistakes:
        add(mistake, "• ", "  ")
    where = _student_frame(error)
    if where:
        add(where, "where: ", "       ")
    if error.expected:
        add(error.expected, "expected: ", "          ")
    if error.hint:
        add(error.hint, "hint: ", "      ")
    lines.append(f"{_RED}╰{'─' * (_BOX_WIDTH - 1)}{_RESET}")
    return lines


def _student_frame(error: BaseException) -> str:
    """``line N of f: <code>`` for the last frame of the student's code in the chained error."""
    cause = error.__cause__
    if cause is None or cause.__traceback__ is None:
        return ""
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if not is_library(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"line {frame.lineno} of {frame.name}: {(frame.line or '').strip()}"


class Mistakes:
    """The mistakes a check found so far (see :func:`mistakes`)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.found: list[str] = []
        self.expected = ""
        self.hints: list[str] = []

    def add(self, message: str, *, hint: str = "") -> None:
        """Note one mistake (and, once, the hint that goes with it)."""
        if message not in self.found:
            self.found.append(message)
        if hint and hint not in self.hints:
            self.hints.append(hint)

    def __bool__(self) -> bool:
        return bool(self.found)

    def __len__(self) -> int:
        return len(self.found)

    def error(self) -> ExerciseError:
        """One ExerciseError listing every mistake noted."""
        return ExerciseError(
            self.found, expected=self.expected, hint=" ".join(self.hints), check=self.what
        )


@contextmanager
def mistakes(what: str) -> Iterator[Mistakes]:
    """Collect every mistake a check can name, then raise them together.

    ``with mistakes("check_resblock") as found: found.add("BN still present")`` raises one
    :class:`ExerciseError` listing every mistake added, when the block ends. An ExerciseError
    raised inside the block (the answer crashed, say) is raised with the mistakes noted before
    it added in front."""
    found = Mistakes(what)
    try:
        yield found
    except ExerciseError as error:
        for message in error.mistakes:
            found.add(message)
        found.expected = found.expected or error.expected
        if error.hint and error.hint not in found.hints:
            found.hints.append(error.hint)
        raise found.error() from error.__cause__
    if found:
        raise found.error()


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
        except ExerciseError as error:
            error.check = error.check or check.__name__
            raise
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

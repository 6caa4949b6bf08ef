"""Fast mode: one switch that makes every notebook small enough for CI.

The notebooks measure the paper's ideas live. In *full mode* (the default) a notebook takes a
few minutes on a 2-core laptop; in *fast mode* it uses fewer steps, smaller batches and fewer
images, so that it runs in well under a minute or two (CI executes every notebook this way).
Fast mode is the environment variable ``EDSR_LITE_FAST``, read here and nowhere else::

    EDSR_LITE_FAST=1 jupyter lab            # or: make notebooks EDSR_LITE_FAST=1

A notebook's parameters cell reads it through :func:`choose`::

    from edsr_lite.course.settings import choose, fast_mode
    STEPS = choose(fast=30, full=300)

so every number a cell uses is visible at the top of the notebook, with both of its values.
"""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = ["ENV_VAR", "choose", "describe_mode", "fast_mode"]

#: The environment variable that switches fast mode on.
ENV_VAR = "EDSR_LITE_FAST"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def fast_mode() -> bool:
    """Whether fast mode is on: ``EDSR_LITE_FAST`` is ``1``/``true``/``yes``/``on``.

    Unset, empty, ``0``/``false``/``no``/``off`` mean full mode (any case). Any other value is
    a ValueError, so that a typo never silently runs the slow version in CI.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not understood: use 1 (fast mode) or 0 (full mode)"
    )


def choose(fast: T, full: T) -> T:
    """``fast`` in fast mode, ``full`` otherwise: ``STEPS = choose(fast=30, full=300)``."""
    return fast if fast_mode() else full


def describe_mode() -> str:
    """One line for a notebook's parameters cell: which mode runs, and how to switch."""
    if fast_mode():
        return f"FAST mode ({ENV_VAR}=1): small budgets, numbers are rougher than in full mode."
    return f"full mode (set {ENV_VAR}=1 before starting Jupyter for the fast version)."

"""What several ``edsr-lite`` commands share: the ``--scale`` flag, the ``--model`` loader, and
warnings shown as plain lines.

* :func:`scale_arg` — ``-s/--scale`` of ``upscale`` and ``export``, checked as it is parsed;
* :func:`load_cli_model` — ``--model`` (``bicubic``, a shipped name, a checkpoint file, or by
  default the best shipped model for the scale) and the scale it runs at;
* :func:`plain_warnings` — a library warning (bf16 unavailable, a skipped image) as one line.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from edsr_lite.infer import model_scales, resolve_scale

__all__ = ["load_cli_model", "plain_warning_text", "plain_warnings", "scale_arg"]


def scale_arg(text: str) -> int:
    """``-s/--scale``: a whole number, 2 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, 2 or more (2, 3, 4, ...), got {text!r}"
        )
    return value


def load_cli_model(name: str | None, scale: int | None) -> tuple[nn.Module | str, int]:
    """``(network or "bicubic", scale)`` for ``--model name`` and ``-s scale`` (either None).

    ``None`` is the best shipped model for the scale; an MDSR model needs ``-s``, an EDSR model
    runs at its own scale and refuses another (ValueError, saying which flag to change).
    """
    from edsr_lite.weights import default_pretrained, load_model  # slow: only when run

    if name == "bicubic":
        if scale is None:
            raise ValueError("--model bicubic needs a scale: add -s/--scale, e.g. -s 2")
        return "bicubic", scale
    if name is None:
        name = default_pretrained(scale)
    model = load_model(name, scale=scale)
    scales = model_scales(model)
    if scale is None and len(scales) > 1:
        raise ValueError(
            f"{name} upscales x{', x'.join(map(str, scales))}: choose one with -s/--scale, "
            f"e.g. -s {scales[0]}"
        )
    return model, resolve_scale(model, scale)


@contextmanager
def plain_warnings(prefix: str = "warning: ") -> Iterator[None]:
    """Show the warnings raised inside as one ``prefix + message`` line each on stderr, without
    the file and source line Python adds (the user did not write that code). PIL's warning
    about a very large image is put in our words."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}{plain_warning_text(message)}", file=sys.stderr)

    with warnings.catch_warnings():  # puts the previous showwarning back on the way out
        warnings.showwarning = show
        yield


#: PIL's words for an image over its pixel limit (``Image.MAX_IMAGE_PIXELS``).
PIL_BOMB = re.compile(r"Image size \((\d+) pixels\) exceeds limit of (\d+) pixels")


def plain_warning_text(message: Warning | str) -> str:
    """A warning's message on one line; PIL's DecompressionBombWarning in plain words (PIL's
    message names no file: the reader that opens the image adds the file's name)."""
    text = " ".join(str(message).split())
    bomb = PIL_BOMB.search(text)
    if bomb:
        pixels, limit = (int(n) for n in bomb.groups())
        return (
            f"a very large image ({pixels:,} pixels, over PIL's limit of {limit:,}): reading and "
            "upscaling it takes much memory and time"
        )
    return text

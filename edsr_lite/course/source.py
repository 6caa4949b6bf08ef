"""The code beside the text: a lesson shows the few lines of the package that implement its idea.

:func:`show_code` reads an object's source with :mod:`inspect` (a class, a function, a method or
a module) at the moment the cell runs, so the lines a lesson shows are always the package's own,
never a copy that could go stale. It displays them as a ``python`` code block (highlighted by
JupyterLab and by nbconvert's HTML export alike) under a caption that names the file and the
line numbers and links to them::

    show_code(el.ResBlock, start="def __init__", end="return x + self.body")

**Which lines.** By default the whole object. ``start`` and ``end`` are *markers*: the excerpt
begins at the first line of the object that starts with ``start`` (indentation aside) and ends
at the first line from there on that starts with ``end`` (both kept). Markers follow the code
when lines are added above it; a marker that no longer matches raises ``ValueError`` (the
lesson's cell fails, as it should, instead of showing the wrong lines). ``lines=(first, last)``
picks lines by number instead, counted from the object's first line (1) and inclusive.

**The link.** ``../edsr_lite/core/models.py#L70``: relative to ``notebooks/``, where the
lessons live, with a ``#L<first line>`` anchor (GitHub's form; the site's annotated source
pages carry the same anchors).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

from IPython.display import Markdown

import edsr_lite

#: The repository's root: source paths in captions and links are relative to it.
PACKAGE_DIR = Path(edsr_lite.__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
#: Where the lessons live, relative to the root: links are written from there.
NOTEBOOKS = "notebooks"


@dataclass(frozen=True)
class Excerpt:
    """Lines of one source file.

    Attributes:
        path: the file, relative to the repository root, e.g. ``edsr_lite/core/models.py``.
        first, last: the 1-based line numbers in that file of the first and last line shown.
        code: those lines, dedented (a method's body starts at column 0), without a final newline.
        name: what the lines belong to, e.g. ``ResBlock.forward``.
    """

    path: str
    first: int
    last: int
    code: str
    name: str

    @property
    def link(self) -> str:
        """The lines' address from ``notebooks/``: ``../<path>#L<first>``."""
        return f"../{self.path}#L{self.first}"

    @property
    def caption(self) -> str:
        """``edsr_lite/core/models.py, lines 70-91`` as a link, and what they belong to."""
        where = (
            f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"
        )
        return f"`{self.name}`: [`{self.path}`, {where}]({self.link})"

    def markdown(self, note: str | None = None) -> str:
        """The caption (and ``note``, one sentence) above a fenced ``python`` block."""
        caption = self.caption + (f". {note.strip()}" if note else "")
        return f"{caption}\n\n```python\n{self.code}\n```"


def excerpt(
    obj: object,
    start: str | None = None,
    end: str | None = None,
    lines: tuple[int, int] | None = None,
) -> Excerpt:
    """The source lines of ``obj`` (see the module docstring for ``start``, ``end``, ``lines``).

    Raises:
        ValueError: a marker matches no line, ``lines`` falls outside the object, both markers
            and ``lines`` are given, or ``obj`` is not defined in this package.
    """
    if lines is not None and (start is not None or end is not None):
        raise ValueError("give either lines=(first, last) or start=/end= markers, not both")
    source, offset = inspect.getsourcelines(obj)  # type: ignore[arg-type]
    offset = max(offset, 1)  # a module's source starts at line 0 in inspect's count
    path = Path(inspect.getsourcefile(obj)).resolve()  # type: ignore[arg-type]
    if not path.is_relative_to(PACKAGE_DIR):
        raise ValueError(f"{_name(obj)} is not defined in edsr_lite (it is in {path})")
    relative = path.relative_to(ROOT).as_posix()
    if lines is not None:
        first, last = lines
        if not 1 <= first <= last <= len(source):
            raise ValueError(f"lines {lines} fall outside {_name(obj)}'s {len(source)} lines")
        begin, stop = first - 1, last
    else:
        begin = 0 if start is None else _find(source, start, 0, obj)
        stop = len(source) if end is None else _find(source, end, begin, obj) + 1
    code = textwrap.dedent("".join(source[begin:stop])).rstrip("\n")
    return Excerpt(relative, offset + begin, offset + stop - 1, code, _name(obj))


def show_code(
    obj: object,
    start: str | None = None,
    end: str | None = None,
    lines: tuple[int, int] | None = None,
    note: str | None = None,
) -> Markdown:
    """Display the source lines of ``obj`` in a notebook: caption, link and highlighted code.

    ``note`` is one sentence added to the caption (what to look at). Returns an
    :class:`IPython.display.Markdown`, so the cell's last line shows it.
    """
    return Markdown(excerpt(obj, start, end, lines).markdown(note))


def _find(source: list[str], marker: str, begin: int, obj: object) -> int:
    for index in range(begin, len(source)):
        if source[index].lstrip().startswith(marker):
            return index
    raise ValueError(f"no line of {_name(obj)} starts with {marker!r}: update the lesson's marker")


def _name(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))

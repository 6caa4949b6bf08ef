"""The annotated pages of ``edsr_lite/core/``: the prose beside the code, for ``make site``.

Each module of the core gets a two-column page (``core/<name>.html``), in the manner of pycco
and labml.ai's annotated implementations: its docstrings and comments rendered as Markdown on
the left, the code they describe on the right, highlighted by pygments, with its line numbers
visible and linkable (``#L42``: every line of the file has its anchor, prose lines included,
so a link into the file lands where it pointed). The paper's references in the prose (Sec. 3.1,
Fig. 2, Table 6, Eq. 1) are set in bold and repeated as badges at the top of their block.

How a module is cut into blocks (``blocks``):

* the module docstring is the first block's prose; the code after it (imports, constants) its code;
* every ``class``/``def`` starts a block (at its first decorator); its docstring, if any, is the
  block's prose, and is taken out of the code column;
* a run of whole-line comments starts a block too, its text the prose (a comment at the end of a
  line of code stays with the code).

``core/index.html`` is the page of ``edsr_lite/core/__init__.py``: its docstring (the core in
reading order) and the list of the modules, each with the first line of its docstring.
"""

from __future__ import annotations

import ast
import html as html_text
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from nbconvert.filters import markdown2html
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

#: A reference to a part of the paper: "Sec. 3.1", "Fig. 2c", "Table 6", "Eq. 1", "Figure 5".
PAPER_REF = re.compile(
    r"\b(?:Secs?\.|Sections?|Figs?\.|Figures?|Tables?|Eqs?\.|Equations?)\s?\d+(?:\.\d+)*[a-z]?\b"
)
#: A Google-style docstring section whose indented entries become a list.
SECTION_HEADS = {"Args:", "Arguments:", "Returns:", "Raises:", "Yields:", "Attributes:", "Fields:"}
#: A Sphinx role in a docstring: :func:`~edsr_lite.core.metrics.psnr`.
ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj):`~?([\w.]+)`")


@dataclass
class Block:
    """One row of an annotated page: the prose (Markdown) and the code lines it describes.

    ``lines`` are 1-based line numbers of the file shown in the code column; ``hidden`` the
    lines that went into the prose (their anchors stay, empty, in the code column).
    """

    prose: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    name: str = ""  # the class or function the block starts with, its anchor


def comment_lines(source: str) -> set[int]:
    """The line numbers whose first token is a comment (``# ...`` alone on the line)."""
    found, seen_code = set(), set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        row = token.start[0]
        if token.type == tokenize.COMMENT and row not in seen_code:
            found.add(row)
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            seen_code.add(row)
    return found


def docstrings(tree: ast.Module) -> tuple[dict[int, tuple[int, int, str, int]], dict[int, str]]:
    """``({first line of a docstring: (its first, last line, text, its owner's first line)},
    {first line of a block's def/class: its qualified name})``.

    A block starts at every top-level def/class and at every nested one with a docstring (a
    method without one stays in its class's block). An owner's first line is that of its
    first decorator; 0 for the module.
    """
    found: dict[int, tuple[int, int, str, int]] = {}
    starts: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str, top: bool) -> None:
        body = getattr(node, "body", [])
        has_doc = bool(
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        first = 0
        if not isinstance(node, ast.Module):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if top or has_doc:
                starts[first] = prefix + node.name
        if has_doc:
            text = ast.get_docstring(node) or ""
            found[body[0].lineno] = (body[0].lineno, body[0].end_lineno, text, first)
        inner = "" if isinstance(node, ast.Module) else f"{prefix}{node.name}."
        for child in body:
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, inner, isinstance(node, ast.Module))

    visit(tree, "", True)
    return found, starts


def blocks(source: str) -> list[Block]:
    """``source`` (a Python module) cut into prose + code blocks (see the module's docstring)."""
    tree = ast.parse(source)
    docs, starts = docstrings(tree)
    comments = comment_lines(source)
    lines = source.splitlines()
    out = [Block()]
    number = 1
    while number <= len(lines):
        current = out[-1]
        if number in starts and (current.lines or current.prose):
            out.append(Block(name=starts[number]))
            current = out[-1]
        elif number in starts:
            current.name = starts[number]
        if number in docs:
            first, last, text, owner = docs[number]
            if owner and owner not in current.lines:  # its def is in an earlier block's code
                out.append(Block())
                current = out[-1]
            current.prose.append(text)
            current.hidden.extend(range(first, last + 1))
            number = last + 1
            continue
        if number in comments:
            if any(lines[n - 1].strip() for n in current.lines):
                out.append(Block())
                current = out[-1]
            run = []
            while number in comments:
                run.append(re.sub(r"^#+ ?", "", lines[number - 1].strip()))
                current.hidden.append(number)
                number += 1
            current.prose.append("\n".join(run))
            continue
        current.lines.append(number)
        number += 1
    return [b for b in out if b.lines or b.prose]


def docstring_markdown(text: str, module: str, modules: set[str]) -> str:
    """A docstring (reStructuredText-ish, Google style) as Markdown: ````x```` -> ```x```, roles
    -> code (linked to its page when it names the core), ``Args:`` entries -> a list, ``::``
    -> a code block."""

    def role(match: re.Match) -> str:
        name = match[1]
        parts = name.split(".")
        if parts[:2] == ["edsr_lite", "core"] and len(parts) >= 3 and parts[2] in modules:
            anchor = f"#{parts[3]}" if len(parts) > 3 else ""
            return f"[`{'.'.join(parts[2:]) if len(parts) > 3 else name}`]({parts[2]}.html{anchor})"
        if len(parts) == 1:
            return f"[`{name}`](#{name})" if module else f"`{name}`"
        return f"`{name}`"

    text = ROLE.sub(role, text)
    text = re.sub(r"``(.+?)``", r"`\1`", text, flags=re.DOTALL)
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() in SECTION_HEADS and not line.startswith(" "):
            out += [f"**{line.strip()[:-1]}**", ""]
            i += 1
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                entry = lines[i].strip()
                if not entry:
                    break
                if lines[i].startswith("        ") and out and out[-1].startswith("- "):
                    out[-1] += " " + entry
                else:
                    out.append(f"- {entry}")
                i += 1
            out.append("")
            continue
        if line.rstrip().endswith("::"):
            out += [line.rstrip()[:-1], ""]
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            code = []
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                code.append(lines[i])
                i += 1
            out += ["```", textwrap.dedent("\n".join(code)).strip("\n"), "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def prose_html(markdown: str) -> str:
    """Rendered Markdown (math kept for MathJax) with the paper's references in bold."""
    rendered = markdown2html(markdown)
    parts = re.split(r"(<[^>]+>)", rendered)
    inside_code = 0
    for k, part in enumerate(parts):
        if part.startswith("<"):
            tag = part.lower()
            inside_code += tag.startswith(("<code", "<pre")) - tag.startswith(("</code", "</pre"))
        elif not inside_code:
            parts[k] = PAPER_REF.sub(lambda m: f'<strong class="paper-ref">{m[0]}</strong>', part)
    return "".join(parts)


def highlighted_lines(source: str) -> list[str]:
    """The source highlighted by pygments, one HTML string per line (pygments closes its spans
    at every line end, so the lines can be cut apart)."""
    rendered = highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))
    lines = rendered.split("\n")
    return lines[: len(source.splitlines())]


def render(source: str, module: str, modules: set[str]) -> str:
    """The two-column HTML of a module's blocks (the page's body)."""
    shown = highlighted_lines(source)
    rows = []
    for block in blocks(source):
        prose = "\n\n".join(docstring_markdown(p, module, modules) for p in block.prose)
        refs = list(dict.fromkeys(PAPER_REF.findall(prose)))
        badges = "".join(f'<span class="paper-badge">{html_text.escape(r)}</span>' for r in refs)
        code = []
        text = source.splitlines()
        shown_lines = [n for n in block.lines if text[n - 1].strip()]
        first, last = (shown_lines[0], shown_lines[-1]) if shown_lines else (0, 0)
        for n in sorted(block.lines + block.hidden):
            if n in block.hidden or not first <= n <= last:  # blank lines at the ends: anchors
                code.append(f'<span class="ann-hidden" id="L{n}"></span>')
            else:
                code.append(
                    f'<span class="ann-line" id="L{n}"><a class="ann-ln" href="#L{n}">{n}</a>'
                    f"{shown[n - 1]}\n</span>"
                )
        anchor = f' id="{block.name}"' if block.name else ""
        code_html = "".join(code)
        has_code = bool(shown_lines)
        rows.append(
            f'<section class="ann-block"{anchor}>'
            f'<div class="ann-prose">{f"<p class=ann-badges>{badges}</p>" if badges else ""}'
            f"{prose_html(prose)}</div>"
            f'<div class="ann-code{"" if has_code else " ann-empty"}">'
            f'<pre class="highlight"><code>{code_html}</code></pre></div></section>'
        )
    return f'<div class="ann-page">{"".join(rows)}</div>'


def module_order(init_source: str) -> list[str]:
    """The core's modules in the order its ``__init__`` docstring lists them."""
    docstring = ast.get_docstring(ast.parse(init_source)) or ""
    return list(dict.fromkeys(re.findall(r":mod:`~?edsr_lite\.core\.(\w+)`", docstring)))


def first_line(source: str) -> str:
    """The first sentence line of a module's docstring."""
    docstring = ast.get_docstring(ast.parse(source)) or ""
    return docstring.strip().split("\n\n")[0].replace("\n", " ")


def style() -> str:
    """pygments' CSS for the code column."""
    return HtmlFormatter().get_style_defs(".ann-code .highlight")


def core_modules(core: Path) -> list[Path]:
    """The core's module files in reading order (those ``__init__`` does not list, after)."""
    order = module_order((core / "__init__.py").read_text(encoding="utf-8"))
    files = {p.stem: p for p in core.glob("*.py") if p.stem != "__init__"}
    return [files[name] for name in order if name in files] + [
        files[name] for name in sorted(files) if name not in order
    ]


def toc(source: str) -> str:
    """The page's table of contents: its classes and functions, each linked to its block."""
    names = [b.name for b in blocks(source) if b.name]
    if not names:
        return ""
    items = "".join(
        f'<li class="site-toc-h{2 + n.count(".")}"><a href="#{n}"><code>{n}</code></a></li>'
        for n in names
    )
    return (
        '<nav class="site-toc" aria-label="on this page"><p class="site-toc-title">On this page</p>'
        f"<ul>{items}</ul></nav>"
    )

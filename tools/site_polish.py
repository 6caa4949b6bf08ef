"""What the course site adds to a page (tools/make_site.py): figure descriptions and a table
of contents.

* ``describe_figures``: every image output of a notebook gets an alt text, kept in the output's
  metadata (``site_alt``) for the site's template. A matplotlib title is drawn into the PNG
  only, so the text is taken from the notebook: the nearest heading above the cell, then the
  cell's first comment if it has one (its code is not a description), e.g. "3. A short live
  run: instability vs stability".
* ``add_toc``: a ``<nav class="site-toc">`` of the page's ``h2``/``h3`` headings, put after the
  element that ends with ``marker``; site.css makes it sticky on windows of 1200 px and more.
"""

from __future__ import annotations

import html as html_text
import re

import nbformat

IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


def _heading(markdown: str) -> str | None:
    """The last Markdown heading's text in ``markdown`` (None if none)."""
    found = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, flags=re.MULTILINE)
    return found[-1] if found else None


def _first_words(source: str) -> str | None:
    """A code cell's first whole-line comment (None without one)."""
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("#") and not line.startswith("#!"):
            return line.lstrip("#").strip() or None
    return None


def plain(markdown: str) -> str:
    """Markdown inline text as plain text: no `code` marks, **bold**, links or math dollars."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[`*_$]", "", text).strip()


def describe_figures(nb: nbformat.NotebookNode) -> int:
    """Put an alt text in the metadata (``site_alt``) of each image output; returns how many."""
    heading, count = None, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = _heading(cell.source) or heading
            continue
        if cell.cell_type != "code":
            continue
        words = _first_words(cell.source)
        for k, output in enumerate(cell.get("outputs", [])):
            if not any(kind in output.get("data", {}) for kind in IMAGE_TYPES):
                continue
            parts = [plain(p) for p in (heading, words) if p]
            alt = ": ".join(dict.fromkeys(p for p in parts if p)) or "A figure of the lesson"
            output.setdefault("metadata", {})["site_alt"] = f"{alt} (figure {k + 1})" if k else alt
            count += 1
    return count


def toc(html: str) -> str:
    """The ``<nav>`` of the ``h2``/``h3`` headings of ``html`` that carry an id ('' if none)."""
    items = []
    for match in re.finditer(r'<h([23])[^>]*\sid="([^"]+)"[^>]*>(.*?)</h\1>', html, re.DOTALL):
        text = re.sub(r"<a class=\"anchor-link\".*?</a>", "", match[3], flags=re.DOTALL)
        text = html_text.unescape(re.sub(r"<[^>]+>", "", text)).replace("¶", "").strip()
        if text:
            link = f'<a href="#{html_text.escape(match[2])}">{html_text.escape(text)}</a>'
            items.append(f'<li class="site-toc-h{match[1]}">{link}</li>')
    if not items:
        return ""
    return (
        '<nav class="site-toc" aria-label="on this page"><p class="site-toc-title">On this page</p>'
        f"<ul>{''.join(items)}</ul></nav>"
    )


def add_toc(html: str, marker: str) -> str:
    """``html`` with its table of contents after the first ``marker`` (unchanged if it has no
    heading or no marker)."""
    nav = toc(html)
    if not nav or marker not in html:
        return html
    at = html.index(marker) + len(marker)
    return html[:at] + nav + html[at:]

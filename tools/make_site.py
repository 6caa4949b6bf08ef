"""Build the course as a static website that reads offline: ``make site``.

    python tools/make_site.py                          # full mode -> build/site/
    python tools/make_site.py --mode fast              # fast mode (EDSR_LITE_FAST=1)
    python tools/make_site.py --only 00 01 --out DIR   # the notebooks whose name holds 00 or 01
    python tools/make_site.py --executed build/notebooks   # reuse executed notebooks

Every ``notebooks/*.ipynb`` is run top to bottom in a fresh kernel from ``notebooks/`` (as
``make notebooks`` runs it; the files in ``notebooks/`` are read, never written), then exported
by nbconvert's HTML exporter with the template in ``tools/site/templates/edsr_site`` (the
"lab" page plus a navigation bar: previous lesson, index, next lesson). The site is

* ``index.html``: the lessons in order, with their one-line descriptions from
  ``notebooks/README.md``;
* ``NN_name.html``: one page per lesson with its figures and tables (images inline);
* ``mathjax/``: MathJax 2.7, copied from the ``jupyter-server-mathjax`` package (the ``dev``
  extra), which typesets the ``$...$`` math on the page;
* ``core/<module>.html``: the annotated pages of ``edsr_lite/core/`` (``tools/annotate.py``):
  docstrings and comments as prose beside the highlighted code, lines numbered and linkable;
  ``core/index.html`` the core in reading order;
* ``results.html``: every row of the lessons' "measured here vs the paper" tables, read from the
  executed notebooks of this build, beside the same claim in the other mode (as the last build
  in that mode saved it, "not built yet" if none did), and the shipped models' PSNR figure
  (``tools/site_results.py``). A build of every notebook saves its rows, with its mode and
  date, to ``docs/claims_<mode>.json`` and rewrites the README's claims section from both files;
* ``files/docs/glossary.md.html``: the glossary, linked from the index and the lessons;
* ``site.css``.

On a lesson page an exercise's solution is folded (``<details>``), the headings are listed in
a table of contents (sticky on wide windows), and each figure has an alt text taken from the
notebook (``tools/site_polish.py``).

Nothing on a page comes from another host: MathJax is the local copy, RequireJS and the
CDN widget manager are left out, and the zoom widget (``edsr_lite.course.widgets``) renders
from the HTML copy it puts beside its widget view (its script and images inline), so it stays
interactive without a kernel; nbconvert picks that copy because no widget state is kept.
Links between notebooks (``01_bn_removal.ipynb``) are pointed at the lesson pages. A link from a
notebook's markdown to another file of the repository (``../edsr_lite/core/recipe.py#L12``,
``../data/RESULTS.md``) is pointed at that file's page under ``files/`` (its path in the
repository plus ``.html``: ``files/data/RESULTS.md.html``), or, for a module of the core, at its
annotated page (``core/recipe.html#L12``): Markdown is rendered (its own
links to repository files handled the same way, its images copied), source text is shown in a
``<pre>`` with a ``#L<n>`` anchor per line, any other file is copied as it is. A link to a file
that does not exist stops the build, before any notebook runs, naming the notebook and the link.
The index links the repository's README page. Links to web addresses stay as they are.
"""

from __future__ import annotations

import argparse
import copy
import html as html_text
import os
import posixpath
import re
import shutil
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import jinja2
import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing: python tools/make_site.py
sys.path.insert(0, str(Path(__file__).resolve().parent))  # its helpers, when imported by a test

import annotate  # noqa: E402
import site_polish  # noqa: E402
import site_results  # noqa: E402

from edsr_lite.course import claims  # noqa: E402
from edsr_lite.files import atomic_write, atomic_write_text  # noqa: E402

NOTEBOOK_DIR = ROOT / "notebooks"
CORE_DIR = ROOT / "edsr_lite" / "core"
GLOSSARY = ROOT / "docs" / "glossary.md"
SITE_DIR = Path(__file__).resolve().parent / "site"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the configs jupyter-server-mathjax ships
#: What a page says about the run it shows.
MODE_LINES = {
    "fast": "Built in fast mode (EDSR_LITE_FAST=1): small training budgets, rougher numbers.",
    "full": "Built in full mode: the budgets the lessons are written for.",
}
#: The site's folder of the repository's files that pages link to (mirrors the repository).
FILES = "files"
#: Files shown as text on a page of their own (Markdown is rendered); others are copied.
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ".ini", ".sh", ".csv"}
TEXT_NAMES = {"Makefile", "LICENSE", "Dockerfile"}
MAX_TEXT_BYTES = 2_000_000  # a bigger file is copied, not shown in a page
#: A link or image address in HTML: (attribute, quote, address).
ADDRESS = re.compile(r"""\b(href|src)=(["'])(.*?)\2""", flags=re.DOTALL)


def lesson_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's title: the first ``# `` heading of its first markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return fallback


def summaries(readme: Path) -> dict[str, str]:
    """``{notebook stem: description}`` from the ``- `NN_name.ipynb`: ...`` list of the README."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    found = {}
    for match in re.finditer(r"^- `(\w+)\.ipynb`: (.*(?:\n  .*)*)", text, flags=re.MULTILINE):
        found[match[1]] = " ".join(line.strip() for line in match[2].splitlines())
    return found


def execute(nb: nbformat.NotebookNode, fast: bool, timeout: int) -> None:
    """Run ``nb`` in place in a fresh kernel started in ``notebooks/``, in the mode asked.

    The widget state is not stored (as JupyterLab saves a notebook): the page shows the zoom
    widget's own HTML copy, not a widget view that needs the CDN widget manager.
    """
    os.environ["EDSR_LITE_FAST"] = "1" if fast else "0"
    # Passive OpenMP waiting: spinning threads slow a busy 2-core machine down several times.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        store_widget_state=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    ).execute()


def link_lessons(html: str, stems: set[str]) -> str:
    """Point links to another lesson's notebook (``href="01_bn_removal.ipynb#x"``) at its page."""
    pattern = r'href="(?:\./)?(\w+)\.ipynb(#[^"]*)?"'

    def to_page(match: re.Match) -> str:
        if match[1] not in stems:
            return match[0]
        return f'href="{match[1]}.html{match[2] or ""}"'

    return re.sub(pattern, to_page, html)


class DeadLink(ValueError):
    """A page links to a file that is not in the repository."""


def split_link(address: str) -> tuple[str, str] | None:
    """``(path, "#fragment")`` of a relative link to a file (``../README.md#install``), or None
    for a web address (``https:``, ``mailto:``, ``data:``, ``//host``), an absolute path, or an
    anchor on the same page."""
    parts = urllib.parse.urlsplit(address)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return None
    return urllib.parse.unquote(parts.path), f"#{parts.fragment}" if parts.fragment else ""


def markdown_links(nb: nbformat.NotebookNode) -> set[str]:
    """The addresses (``href``/``src``) in the notebook's markdown cells, as nbconvert renders
    them: the links of the lesson's text, not those of its outputs."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            html = markdown2html(cell.source)
            found.update(html_text.unescape(match[3]) for match in ADDRESS.finditer(html))
    return found


def github_anchors(html: str) -> str:
    """Give rendered Markdown's headings GitHub's anchors (``## The notebooks, in detail`` ->
    ``#the-notebooks-in-detail``: lower case, punctuation dropped, spaces to ``-``, a ``-1``
    for a repeat), the ones the repository's Markdown files link to."""
    seen: dict[str, int] = {}

    def anchor(match: re.Match) -> str:
        words = html_text.unescape(re.sub(r"<[^>]+>", "", match[2])).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        slug += f"-{seen[slug]}" if seen[slug] else ""
        return f'<h{match[1]} id="{slug}">{match[2]}<a class="anchor-link" href="#{slug}">'

    pattern = r'<h([1-6]) id="[^"]*">(.*?)<a class="anchor-link" href="#[^"]*">'
    return re.sub(pattern, anchor, html, flags=re.DOTALL)


def source_block(text: str) -> str:
    """The text in a ``<pre>``, escaped, one ``<span id="L<n>">`` per line for ``#L12`` links
    (the page's text is exactly the file's)."""
    lines = text.splitlines(keepends=True)
    spans = (f'<span id="L{n}">{html_text.escape(line)}</span>' for n, line in enumerate(lines, 1))
    return f'<pre class="site-source"><code>{"".join(spans)}</code></pre>'


def shown_as_page(path: Path) -> bool:
    """Whether ``path`` gets a page of its own (Markdown, source text), not a copy."""
    text = path.suffix in TEXT_SUFFIXES | {".md"} or path.name in TEXT_NAMES
    return text and path.stat().st_size <= MAX_TEXT_BYTES


class RepoFiles:
    """The repository's files that the site's pages link to, and their pages under ``files/``.

    ``rewrite`` points a page's links at the files' pages (and remembers the files);
    ``write_pages`` writes the pages, following the links of the Markdown ones in turn.
    """

    def __init__(self, out: Path, lessons: set[str]) -> None:
        self.out, self.lessons = out, lessons
        self.pending: dict[Path, str] = {}  # a file to write -> the first page that links it
        self.written: set[Path] = set()
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(SITE_DIR), autoescape=jinja2.select_autoescape()
        )

    def target(self, path: Path) -> str | None:
        """Where ``path``'s page is on the site (``/``-separated, from the site's root): a lesson
        page for a notebook built, None for a notebook not built (its link is left as it is)."""
        if path.suffix == ".ipynb" and path.parent == NOTEBOOK_DIR:
            return f"{path.stem}.html" if path.stem in self.lessons else None
        if is_core(path):  # its annotated page, which every build writes
            return "core/index.html" if path.stem == "__init__" else f"core/{path.stem}.html"
        name = f"{FILES}/{path.relative_to(ROOT).as_posix()}"
        return f"{name}.html" if shown_as_page(path) else name

    def link(self, address: str, base: Path, page: str, where: str) -> str:
        """The address that ``page`` (a site path) uses for ``address``, a link written in a
        file of folder ``base``; raises DeadLink, naming ``where``, for a file not there."""
        link = split_link(address)
        if link is None:
            return address
        path = Path(os.path.normpath(base / link[0]))
        if not path.is_relative_to(ROOT) or not path.exists():
            raise DeadLink(f"{where}: dead link {address!r}: {path} does not exist")
        if path.is_dir():
            raise DeadLink(f"{where}: the link {address!r} names a folder; link a file in it")
        target = self.target(path)
        if target is None:
            return address
        if path.suffix != ".ipynb" and not is_core(path) and path not in self.written:
            self.pending.setdefault(path, where)
        return posixpath.relpath(target, posixpath.dirname(page) or ".") + link[1]

    def rewrite(
        self, html: str, base: Path, page: str, where: str, only: set[str] | None = None
    ) -> str:
        """``html`` with its relative links (those in ``only`` if given) pointed at pages."""

        def replace(match: re.Match) -> str:
            address = html_text.unescape(match[3])
            if only is not None and address not in only:
                return match[0]
            new = self.link(address, base, page, where)
            return f"{match[1]}={match[2]}{html_text.escape(new)}{match[2]}"

        return ADDRESS.sub(replace, html)

    def core_links(self, html: str, base: Path) -> set[str]:
        """The addresses in ``html`` (relative to folder ``base``) of a module of the core."""
        found = set()
        for match in ADDRESS.finditer(html):
            address = html_text.unescape(match[3])
            link = split_link(address)
            if link is not None and is_core(Path(os.path.normpath(base / link[0]))):
                found.add(address)
        return found

    def write_pages(self) -> list[Path]:
        """Write the page (or copy) of every file linked so far, and of those their Markdown
        links to in turn."""
        pages = []
        while self.pending:
            path = next(iter(self.pending))
            del self.pending[path]
            self.written.add(path)
            pages.append(self.write(path))
        return pages

    def write(self, path: Path) -> Path:
        """``path``'s page: Markdown rendered, source text in a ``<pre>``; or a copy."""
        name = path.relative_to(ROOT).as_posix()
        page = self.target(path)
        destination = self.out / page
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not shown_as_page(path):
            shutil.copy(path, destination)
            return destination
        text = path.read_text(encoding="utf-8")
        toc = ""
        if path.suffix == ".md":
            html = github_anchors(markdown2html(text))
            body = self.rewrite(html, path.parent, page, where=name)
            toc = site_polish.toc(body)
        else:
            body = source_block(text)
        html = self.environment.get_template("file.html.j2").render(
            title=name,
            body=jinja2.utils.markupsafe.Markup(body),
            toc=jinja2.utils.markupsafe.Markup(toc),
            root=posixpath.relpath(".", posixpath.dirname(page)),
            highlight=jinja2.utils.markupsafe.Markup(
                HtmlFormatter().get_style_defs(".highlight") if 'class="highlight"' in body else ""
            ),
        )
        return atomic_write_text(destination, html)


def is_core(path: Path) -> bool:
    """Whether ``path`` is a module of the core, shown on an annotated page."""
    return path.parent == CORE_DIR and path.suffix == ".py"


def write_core(out: Path, environment: jinja2.Environment) -> list[Path]:
    """The annotated pages of the core (``core/<module>.html``) and its index, in the order of
    ``edsr_lite/core/__init__.py``."""
    modules = annotate.core_modules(CORE_DIR)
    names = {p.stem for p in modules}
    template = environment.get_template("file.html.j2")
    markup = jinja2.utils.markupsafe.Markup
    pages = []
    init = (CORE_DIR / "__init__.py").read_text(encoding="utf-8")
    listing = "".join(
        f'<li><a href="{p.stem}.html">edsr_lite/core/{p.name}</a>: '
        f"{html_text.escape(annotate.first_line(p.read_text(encoding='utf-8')))}</li>"
        for p in modules
    )
    listing = f'<ol class="core-list">{listing}</ol>'
    entries = [("index", "edsr_lite/core/__init__.py", init, listing)]
    entries += [
        (p.stem, f"edsr_lite/core/{p.name}", p.read_text(encoding="utf-8"), "") for p in modules
    ]
    for k, (stem, title, source, extra) in enumerate(entries):
        links = [{"href": "index.html", "text": "The core"}] if stem != "index" else []
        if k > 1:  # the module before (the first one has "The core" already)
            before = entries[k - 1][0]
            links.insert(0, {"href": f"{before}.html", "text": f"\u2190 {before}"})
        if k + 1 < len(entries):
            after = entries[k + 1][0]
            links.append({"href": f"{after}.html", "text": f"{after} \u2192"})
        body = annotate.render(source, "" if stem == "index" else stem, names) + extra
        html = template.render(
            title=title,
            kind="core",
            body=markup(body),
            toc=markup(annotate.toc(source) if stem != "index" else ""),
            links=links,
            root="..",
            highlight=markup(annotate.style()),
            mathjax=MATHJAX_CONFIG if "$" in body else None,
        )
        pages.append(atomic_write_text(out / "core" / f"{stem}.html", html))
    return pages


def inline(markdown: str) -> str:
    """A table cell's Markdown as inline HTML (no ``<p>``)."""
    if markdown.strip() in ("-", ""):  # "nothing to compare": not a Markdown list item
        return html_text.escape(markdown.strip())
    html = markdown2html(markdown).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", html, flags=re.DOTALL)


def mode_cell(entry: site_results.SideBySide, claims_of: site_results.ModeClaims) -> str:
    """One mode's ``<td>`` of a claim: the value measured and the verdict, or why there is none
    (no saved build of that mode; no such row in it). Its data attributes hold the Markdown."""
    mode, row = claims_of.mode, entry.by_mode[claims_of.mode]
    if claims_of.built is None or row is None:
        why = site_results.NOT_BUILT if claims_of.built is None else site_results.NOT_MEASURED
        return f'<td class="site-mode-{mode} site-missing">{why}</td>'
    data = f'data-measured="{html_text.escape(row.measured)}" '
    data += f'data-verdict="{html_text.escape(row.verdict)}"'
    verdict = f'<span class="site-verdict">{inline(row.verdict)}</span>'
    measured = f'<span class="site-measured">{inline(row.measured)}</span>'
    return f'<td class="site-mode-{mode}" {data}>{verdict}<br>{measured}</td>'


def write_results(
    out: Path,
    books: dict[str, nbformat.NotebookNode],
    titles: dict[str, str],
    mode: str,
    environment: jinja2.Environment,
    claims_dir: Path = site_results.CLAIMS_DIR,
) -> Path:
    """``results.html``: every claims-table row of the executed notebooks, linked to its lesson,
    beside the same claim in the other mode (``claims_dir/claims_<other>.json``), and the shipped
    models' PSNR figure (``results_psnr.png``)."""
    png = site_results.psnr_figure()
    atomic_write(out / "results_psnr.png", lambda f: f.write(png))
    rows = tuple(site_results.claims(books, mode))
    built = site_results.today()
    modes = [
        site_results.ModeClaims(m, built, rows)
        if m == mode
        else site_results.load_claims(m, claims_dir)
        for m in site_results.MODES
    ]
    table = []
    for entry in site_results.side_by_side(modes, lessons=list(books)):
        data = " ".join(
            f'data-{name}="{html_text.escape(value)}"'
            for name, value in (("claim", entry.claim), ("paper", entry.paper))
        )
        lesson = html_text.escape(titles.get(entry.lesson, entry.lesson))
        link = f'<a href="{entry.lesson}.html">{lesson}</a>'
        table.append(
            f'<tr data-lesson="{entry.lesson}" {data}><td>{link}</td>'
            f"<td>{inline(entry.claim)}</td><td>{inline(entry.paper)}</td>"
            + "".join(mode_cell(entry, c) for c in modes)
            + "</tr>"
        )
    body = environment.get_template("results.html.j2").render(
        rows=jinja2.utils.markupsafe.Markup("\n".join(table)),
        count=len(table),
        lessons=len({r.lesson for r in rows}),
        built=len(books),
        mode=mode,
        modes=[{"mode": c.mode, "line": c.line(current=c.mode == mode)} for c in modes],
        alt=site_results.FIGURE_ALT,
        rule=jinja2.utils.markupsafe.Markup(markdown2html(claims.RULE)),
    )
    html = environment.get_template("file.html.j2").render(
        title="Results in one page",
        kind="results",
        body=jinja2.utils.markupsafe.Markup(body),
        toc=jinja2.utils.markupsafe.Markup(site_polish.toc(body)),
        root=".",
        mathjax=MATHJAX_CONFIG if "$" in body else None,
    )
    return atomic_write_text(out / "results.html", html)


def exporter() -> HTMLExporter:
    """nbconvert's HTML exporter with the site's template and the local MathJax."""
    return HTMLExporter(
        extra_template_basedirs=[str(SITE_DIR / "templates")],
        template_name="edsr_site",
        mathjax_url=f"mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        # No widget state is saved with the executed notebooks, so the lab template passes over
        # the widget view and shows the widget's self-contained text/html copy instead.
    )


def copy_mathjax(out: Path) -> None:
    """MathJax 2.7 from the jupyter-server-mathjax package into ``out/mathjax/``."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise SystemExit(
            "the site needs MathJax from jupyter-server-mathjax: pip install -e '.[dev]'"
        ) from error
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.rmtree(out / "mathjax", ignore_errors=True)
    shutil.copytree(source, out / "mathjax")


def build(
    notebooks: Sequence[Path],
    out: Path,
    mode: str,
    executed: Path | None = None,
    timeout: int = 1800,
    save_executed: Path | None = None,
    claims_dir: Path = site_results.CLAIMS_DIR,
    save_claims: bool = False,
) -> list[Path]:
    """Check the links, write the repository files' pages, run (or reuse), export and link every
    notebook; write the index and the results page (the other mode's claims read from
    ``claims_dir``; this build's saved there if ``save_claims``). Returns the pages. Raises
    DeadLink before running anything."""
    books = {
        path.stem: nbformat.read(path if executed is None else executed / path.name, as_version=4)
        for path in notebooks
    }
    stems = list(books)
    files = RepoFiles(out, set(stems))
    readme = files.link("README.md", ROOT, "index.html", where="index")
    glossary = None
    if GLOSSARY.is_file():
        glossary = files.link(GLOSSARY.relative_to(ROOT).as_posix(), ROOT, "index.html", "index")
    links = {}
    for stem, nb in books.items():  # every dead link is found before a notebook runs
        links[stem] = markdown_links(nb)
        for address in links[stem]:
            files.link(address, NOTEBOOK_DIR, f"{stem}.html", where=f"notebooks/{stem}.ipynb")
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    shutil.copy(SITE_DIR / "site.css", out / "site.css")
    file_pages = files.write_pages() + write_core(out, files.environment)
    for path in notebooks:
        start = time.monotonic()
        nb = books[path.stem]
        if executed is not None:
            nb.metadata.pop("widgets", None)  # a saved widget state would need the CDN manager
        else:
            execute(nb, fast=mode == "fast", timeout=timeout)
            if save_executed is not None:
                save_executed.mkdir(parents=True, exist_ok=True)
                atomic_write_text(save_executed / path.name, nbformat.writes(nb) + "\n")
        print(f"{path.name}: {time.monotonic() - start:.0f} s", flush=True)
    lessons = [{"stem": s, "href": f"{s}.html", "title": lesson_title(books[s], s)} for s in stems]
    html_exporter = exporter()
    pages = []
    for i, lesson in enumerate(lessons):
        resources = {
            "metadata": {"name": lesson["title"]},
            "site": {
                "prev": lessons[i - 1] if i > 0 else None,
                "next": lessons[i + 1] if i + 1 < len(lessons) else None,
                "mode": MODE_LINES[mode],
            },
        }
        stem = lesson["stem"]
        shown = copy.deepcopy(books[stem])  # the results page reads the executed notebook as is
        site_polish.describe_figures(shown)
        html, _ = html_exporter.from_notebook_node(shown, resources=resources)
        where = f"notebooks/{stem}.ipynb"
        # The lesson's own links, and those of its outputs into the core (the key code a lesson
        # shows links its annotated page); other links of the outputs are left as they are.
        only = links[stem] | files.core_links(html, NOTEBOOK_DIR)
        html = files.rewrite(html, NOTEBOOK_DIR, lesson["href"], where, only=only)
        html = site_polish.add_toc(html, f'<p class="site-mode">{MODE_LINES[mode]}</p>')
        pages.append(atomic_write_text(out / lesson["href"], link_lessons(html, set(stems))))
    described = summaries(NOTEBOOK_DIR / "README.md")
    for lesson in lessons:
        lesson["summary"] = markdown2html(described.get(lesson["stem"], ""))
    index = files.environment.get_template("index.html.j2").render(
        lessons=[
            {**lesson, "summary": jinja2.utils.markupsafe.Markup(lesson["summary"])}
            for lesson in lessons
        ],
        mode=MODE_LINES[mode],
        readme=readme,
        glossary=glossary,
    )
    pages.insert(0, atomic_write_text(out / "index.html", index))
    titles = {lesson["stem"]: lesson["title"] for lesson in lessons}
    pages.insert(1, write_results(out, books, titles, mode, files.environment, claims_dir))
    if save_claims:
        site_results.save_claims(site_results.claims(books, mode), mode, claims_dir)
    return pages + file_pages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["full", "fast"], default="full")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument(
        "--only", nargs="+", metavar="PART", help="only the notebooks whose name holds a PART"
    )
    parser.add_argument(
        "--executed",
        type=Path,
        help="a folder of executed notebooks of the same names to export instead of running them",
    )
    parser.add_argument(
        "--save-executed", type=Path, metavar="DIR", help="also keep the executed notebooks here"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument(
        "--claims-dir",
        type=Path,
        default=site_results.CLAIMS_DIR,
        metavar="DIR",
        help="where each mode's claims are kept (claims_fast.json, claims_full.json): the "
        "results page reads the other mode's; a build of every notebook saves its own there "
        "(and, in docs/, rewrites the README's claims section)",
    )
    args = parser.parse_args(argv)
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if any(part in p.name for part in args.only)]
    if not notebooks:
        parser.error(f"no notebook in {NOTEBOOK_DIR} matches {args.only}")
    start = time.monotonic()
    try:
        pages = build(
            notebooks,
            args.out,
            args.mode,
            args.executed,
            args.timeout,
            args.save_executed,
            claims_dir=args.claims_dir,
            save_claims=not args.only,  # a partial build would drop the other lessons' claims
        )
    except DeadLink as error:
        parser.exit(1, f"make_site.py: {error}\n")
    if not args.only and args.claims_dir.resolve() == site_results.CLAIMS_DIR:
        site_results.write_readme()
    print(
        f"{len(pages)} pages in {args.out} ({args.mode} mode, {time.monotonic() - start:.0f} s): "
        f"open {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

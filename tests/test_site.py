"""``make site``: the course as a static website, read in Chromium with no network.

``tools/make_site.py`` builds the site from two notebooks in fast mode (``SITE_NOTEBOOKS``: the
tour, which has math and the zoom widget, and the shortest lesson with math, for the navigation;
about a minute on 2 idle cores; the other four take the same code path, and
``tests/test_notebooks.py`` runs them all). The
site is served on 127.0.0.1 and opened in headless Chromium (as in ``tests/test_browser.py``)
with every request to another host aborted. The test checks that

* no request went to another host, none failed, no page raised a script error;
* the math is typeset by the site's own MathJax (its output elements are there, and no ``$``
  is left in the rendered markdown);
* the zoom widget runs without a kernel: it renders, its box moves with the arrow keys and the
  crops' PSNR labels are computed; its crops stay beside the overview at 1280 and 1024 px;
* the navigation works: index -> first lesson -> next lesson -> index;
* the links to the repository's files work: the index opens the README's page (its images
  load), the tour opens the annotated page of ``edsr_lite/core/models.py`` (pygments-highlighted,
  its code lines the file's, a ``#L10`` link targets line 10), and every relative link or image of
  every page leads to a file of the site;
* a lesson's exercise solution is folded and opens on a click; its table of contents jumps to
  its headings; every image has an alt text of its own (not nbconvert's stand-in);
* the results page holds exactly the rows of the claims tables of the notebooks it ran, in its
  mode's column; the other mode's column is that mode's saved build (``claims_full.json``),
  claim by claim with its date, or "not built yet" (``test_results_page_reads_the_other_mode``
  re-exports the executed notebooks with a handmade one); the README's claims section is the
  saved builds';
* the zoom widget's picture has an alt text that says what it shows;
* the glossary renders, and a link to one of its terms lands on the term's heading;
* no page logs a console error (MathJax's font probe included).

``test_repository_links`` checks the link rewriting alone on a handmade notebook (exported as it
is, nothing run): Markdown and source pages, ``#anchors``, web addresses left alone, and a link
to a missing file stopping the build with the notebook and the link named.

Both Chromium tests read the site through one fixture (``browsing``): every request to another
host aborted, and every blocked or failed request, script error and console error noted.
Screenshots go to ``build/test-artifacts/site_*.png``.
"""

from __future__ import annotations

import functools
import html
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM_ARGS, TIMEOUT_MS, _require_browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
SITE_NOTEBOOKS = ("00_tour", "02_residual_scaling")
BUILD_TIMEOUT_S = 900
#: A source file that the tour links to: its page shows its text.
SOURCE = "edsr_lite/core/models.py"
#: Its annotated page on the site.
CORE_PAGE = "core/models.html"
#: nbconvert's alt text for an image that has none.
NO_ALT = "No description has been provided for this image"

_spec = importlib.util.spec_from_file_location("make_site", ROOT / "tools/make_site.py")
make_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_site)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site of ``SITE_NOTEBOOKS`` in fast mode, built by tools/make_site.py in a subprocess
    (its kernel's Jupyter folders in a temporary folder, as the notebook tests do)."""
    tmp = tmp_path_factory.mktemp("site")
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(tmp / name.lower())
    out = tmp / "site"
    command = [sys.executable, str(ROOT / "tools" / "make_site.py"), "--mode", "fast"]
    command += ["--out", str(out), "--only", *SITE_NOTEBOOKS]
    command += ["--save-executed", str(tmp / "executed")]
    command += ["--claims-dir", str(tmp / "claims")]  # no full build saved there
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site's address on 127.0.0.1 (a static file server in a thread)."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
        pass


def _pages(site: Path) -> list[Path]:
    """The site's own pages: lessons, index and the repository files' pages (MathJax aside)."""
    return [p for p in site.rglob("*.html") if "mathjax" not in p.relative_to(site).parts]


def test_pages_name_no_other_host(site: Path) -> None:
    """Nothing on a page is loaded from another host (links to read are fine)."""
    for page in _pages(site):
        html = page.read_text(encoding="utf-8")
        for attribute in ("src=", "@import"):
            for part in html.split(attribute)[1:]:
                assert not part.lstrip("\"'( url").startswith(("http:", "https:", "//")), (
                    f"{page.name} loads {part[:80]!r}"
                )
    assert (site / "mathjax" / "MathJax.js").is_file()


def test_core_pages_show_the_code_highlighted(site: Path) -> None:
    """A page per module of the core, in the order of its ``__init__``, each line of code the
    file's own, highlighted by pygments, with its ``L<n>`` anchor (prose lines keep theirs)."""
    core = ROOT / "edsr_lite" / "core"
    modules = [p.stem for p in make_site.annotate.core_modules(core)]
    assert sorted(modules) == sorted(p.stem for p in core.glob("*.py") if p.stem != "__init__")
    index = (site / "core" / "index.html").read_text("utf-8")
    listing = index.split('class="core-list"', 1)[1]
    assert re.findall(r'<li><a href="(\w+)\.html"', listing) == modules
    for name in modules:
        page = (site / "core" / f"{name}.html").read_text("utf-8")
        lines = (core / f"{name}.py").read_text("utf-8").splitlines()
        assert re.findall(r'id="L(\d+)"', page) == [str(n) for n in range(1, len(lines) + 1)]
        shown = re.findall(r'<span class="ann-line" id="L(\d+)">(.*?)\n</span>', page, re.DOTALL)
        assert len(shown) > len(lines) // 3, name
        for number, code in shown:
            text = html.unescape(re.sub(r"<[^>]+>", "", code))
            assert text == number + lines[int(number) - 1], (name, number)
        assert re.search(r'<span class="(k|kn|kc|nf|nc)">', page), name  # pygments' spans
    assert 'class="paper-ref">Fig. 2' in (site / CORE_PAGE).read_text("utf-8")


def _executed(site: Path) -> dict[str, nbformat.NotebookNode]:
    """The notebooks as the site's build ran them."""
    return {
        stem: nbformat.read(site.parent / "executed" / f"{stem}.ipynb", as_version=4)
        for stem in SITE_NOTEBOOKS
    }


def _results_rows(page: str) -> list[dict]:
    """The results page's rows: lesson, claim, paper and, per mode, ``(measured, verdict)`` as
    Markdown, or the words of a cell that has none."""
    rows = []
    for match in re.finditer(
        r'<tr data-lesson="([^"]*)" data-claim="([^"]*)" data-paper="([^"]*)">(.*?)</tr>',
        page,
        re.DOTALL,
    ):
        names = ("lesson", "claim", "paper")
        row = dict(zip(names, map(html.unescape, match.groups()[:3]), strict=True))
        for mode, attributes, text in re.findall(
            r'<td class="site-mode-(\w+)(?: site-missing)?"([^>]*)>(.*?)</td>', match[4], re.DOTALL
        ):
            found = re.findall(r'data-(measured|verdict)="([^"]*)"', attributes)
            values = {k: html.unescape(v) for k, v in found}
            row[mode] = (values["measured"], values["verdict"]) if values else text
        rows.append(row)
    return rows


def test_results_page_rows_are_the_notebooks_claims(site: Path) -> None:
    """Every row of every claims table the executed notebooks printed, and no other, in the
    fast column; the full column says that no full build was saved."""
    expected = [
        {
            "lesson": row.lesson,
            "claim": row.claim,
            "paper": row.paper,
            "fast": (row.measured, row.verdict),
            "full": make_site.site_results.NOT_BUILT,
        }
        for row in make_site.site_results.claims(_executed(site))
    ]
    assert expected, "the lessons built print no claims table"
    page = (site / "results.html").read_text("utf-8")
    assert _results_rows(page) == expected
    assert f"fast mode: this build, of {make_site.site_results.today()}." in page
    assert f"full mode: {make_site.site_results.NOT_BUILT}" in page
    assert (site / "results_psnr.png").stat().st_size > 0
    assert not (site.parent / "claims").exists()  # a partial build saves no claims


def test_results_page_reads_the_other_mode_from_its_file(site: Path, tmp_path: Path) -> None:
    """The full column is the saved full build's (``claims_full.json``), claim by claim, with its
    date; a claim that build lacks, or that only it has, says so. The build saves its own
    rows (``claims_fast.json``) when asked, and the README's table shows both files."""
    results = make_site.site_results
    fast = results.claims(_executed(site))
    full = [
        {**vars(row), "measured": f"{k} in full", "verdict": f"verdict {k}", "mode": "full"}
        for k, row in enumerate(fast[1:])  # the first claim is not in the full build
    ]
    full.append({**full[0], "claim": "a claim only the full build has"})
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    saved = {"mode": "full", "built": "2026-01-02", "rows": full}
    (claims_dir / "claims_full.json").write_text(json.dumps(saved), encoding="utf-8")
    notebooks = [ROOT / "notebooks" / f"{stem}.ipynb" for stem in SITE_NOTEBOOKS]
    out = tmp_path / "site"
    make_site.build(
        notebooks,
        out,
        "fast",
        executed=site.parent / "executed",
        claims_dir=claims_dir,
        save_claims=True,
    )
    page = (out / "results.html").read_text("utf-8")
    assert "full mode: the site build of 2026-01-02." in page
    shown = {(row["lesson"], row["claim"]): row for row in _results_rows(page)}
    assert len(shown) == len(fast) + 1
    assert shown[(fast[0].lesson, fast[0].claim)]["full"] == results.NOT_MEASURED
    for row in full:
        assert shown[(row["lesson"], row["claim"])]["full"] == (row["measured"], row["verdict"])
    assert shown[(full[-1]["lesson"], full[-1]["claim"])]["fast"] == results.NOT_MEASURED
    kept = results.load_claims("fast", claims_dir)
    assert kept.built == results.today() and list(kept.rows) == results.claims(
        _executed(site), "fast"
    )
    readme = results.readme_section([kept, results.load_claims("full", claims_dir)])
    assert f"| {full[0]['claim']} | {full[0]['paper']} | " in readme
    assert "| verdict 0 (0 in full) |" in readme


def test_readme_claims_are_the_saved_builds() -> None:
    """The README's claims section is what docs/claims_fast.json and claims_full.json give."""
    results = make_site.site_results
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split(results.CLAIMS_BEGIN, 1)[1].split(results.CLAIMS_END, 1)[0]
    expected = results.readme_section([results.load_claims(m) for m in results.MODES])
    assert results.CLAIMS_BEGIN + section + results.CLAIMS_END == expected, (
        "README.md's claims are stale: python tools/site_results.py --readme"
    )


def test_zoom_widget_copy_is_described(site: Path) -> None:
    """The zoom widget's picture on the page (before its script runs, or without scripts) has
    an alt text that says what it shows, not the object's repr."""
    page = (site / f"{SITE_NOTEBOOKS[0]}.html").read_text("utf-8")
    alts = re.findall(r'<div class="edsr-zoom-static".*?<img [^>]*alt="([^"]*)"', page, re.DOTALL)
    assert alts and all(alt.startswith("Zoomed crops (") for alt in alts), alts
    assert any(" dB" in alt for alt in alts), alts  # the crops' PSNR, where there is a reference


def test_glossary_links_name_what_they_point_at() -> None:
    """Each link of docs/glossary.md into the core (``[`psnr`](../edsr_lite/core/metrics.py#L102)``)
    lands on the line that defines the name it shows."""
    glossary = (ROOT / "docs" / "glossary.md").read_text("utf-8")
    links = re.findall(r"\[`(\w+)`\]\(\.\./(edsr_lite/core/\w+\.py)#L(\d+)\)", glossary)
    assert len(links) >= 15
    for name, path, line in links:
        text = (ROOT / path).read_text("utf-8").splitlines()[int(line) - 1]
        assert re.match(rf"(def|class) {name}\b", text), f"docs/glossary.md: {path}#L{line} {name}"


def test_lessons_glossary_links_name_its_terms() -> None:
    """Every ``glossary.md#term`` link of a lesson names a ``## Term`` heading of the glossary
    (GitHub's anchors, which the site's glossary page gives its headings too)."""
    glossary = (ROOT / "docs" / "glossary.md").read_text("utf-8")
    page = make_site.github_anchors(make_site.markdown2html(glossary))
    terms = set(re.findall(r'<h2 id="([^"]+)"', page))
    used = {
        anchor
        for path in (ROOT / "notebooks").glob("*.ipynb")
        for anchor in re.findall(r"glossary\.md#([\w-]+)", path.read_text("utf-8"))
    }
    assert used - terms == set(), f"docs/glossary.md has no heading for {sorted(used - terms)}"


def test_every_link_leads_to_a_page(site: Path) -> None:
    """Every relative ``href``/``src`` of every page names a file of the site; only a lesson
    that this partial build leaves out keeps its notebook link (``01_bn_removal.ipynb``)."""
    assert (site / "files" / "README.md.html").is_file()
    assert (site / CORE_PAGE).is_file()
    assert (site / "files" / "docs" / "glossary.md.html").is_file()
    dead = []
    for page in _pages(site):
        for address in re.findall(r'(?:href|src)="([^"#][^"]*)"', page.read_text("utf-8")):
            link = make_site.split_link(html.unescape(address))
            if link is None or (page.parent / link[0]).is_file():
                continue
            if not (
                link[0].endswith(".ipynb") and (ROOT / "notebooks" / Path(link[0]).name).is_file()
            ):
                dead.append(f"{page.relative_to(site)}: {address}")
    assert dead == []


def _handmade(folder: Path, links: str) -> Path:
    """A notebook ``99_links.ipynb`` in ``folder`` whose markdown holds ``links``; the path it
    would have in notebooks/ (the site's links are resolved from there)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Links\n\n{links}")]
    nbformat.write(nb, folder / "99_links.ipynb")
    return ROOT / "notebooks" / "99_links.ipynb"


def test_repository_links(tmp_path: Path) -> None:
    links = (
        "The [README](../README.md#quick-start), [the models](../edsr_lite/core/models.py#L3), "
        "[the paper](https://arxiv.org/abs/1707.02921), [the tour](00_tour.ipynb)."
    )
    notebook = _handmade(tmp_path, links)
    out = tmp_path / "site"
    make_site.build([notebook], out, "fast", executed=tmp_path)
    lesson = (out / "99_links.html").read_text("utf-8")
    assert 'href="files/README.md.html#quick-start"' in lesson
    assert f'href="{CORE_PAGE}#L3"' in lesson
    assert 'href="https://arxiv.org/abs/1707.02921"' in lesson
    assert 'href="00_tour.ipynb"' in lesson  # a lesson not built: its link is left alone
    readme = (out / "files" / "README.md.html").read_text("utf-8")
    assert 'id="quick-start"' in readme  # GitHub's anchors, as the notebooks link them
    for image in re.findall(r'src="([^"]+)"', readme):
        assert (out / "files" / image).is_file(), image
    source = (out / CORE_PAGE).read_text("utf-8")
    assert 'id="L3"' in source and f"<title>{SOURCE}: edsr-lite</title>" in source
    other = _handmade(tmp_path, "See [the Makefile](../Makefile#L2).")
    make_site.build([other], tmp_path / "other", "fast", executed=tmp_path)
    page = (tmp_path / "other" / "files" / "Makefile.html").read_text("utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page.split("<pre", 1)[1].split(">", 1)[1]))
    assert 'id="L2"' in page and text.startswith((ROOT / "Makefile").read_text("utf-8"))

    _handmade(tmp_path, "See [the results](../data/NO_SUCH_FILE.md).")
    with pytest.raises(make_site.DeadLink, match=r"notebooks/99_links\.ipynb.*NO_SUCH_FILE"):
        make_site.build([notebook], tmp_path / "dead", "fast", executed=tmp_path)


def crops_beside_overview(widget) -> None:
    """Every crop panel of the widget sits right of its overview (none wrapped under it); as
    tests/test_browser.py checks it, for one widget of a page that has two."""
    overview = widget.locator(".edsr-zoom-overview").bounding_box()
    for panel in widget.locator(".edsr-zoom-panel").all():
        box = panel.bounding_box()
        assert box["x"] >= overview["x"] + overview["width"], (overview, box)


def crops_in_one_row(widget) -> None:
    """The zoom widget's crops side by side in one row, all of one size."""
    boxes = [panel.bounding_box() for panel in widget.locator(".edsr-zoom-panel canvas").all()]
    assert len(boxes) >= 2
    assert len({round(box["y"]) for box in boxes}) == 1, boxes
    assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) <= 2, boxes


def _raw_dollars(page) -> list[str]:
    """Texts of rendered markdown that still hold a ``$`` (code spans aside)."""
    return page.eval_on_selector_all(
        ".jp-RenderedMarkdown, .jp-RenderedHTMLCommon",
        """nodes => nodes.map(node => {
            const copy = node.cloneNode(true);
            copy.querySelectorAll('code, pre, script').forEach(c => c.remove());
            return copy.textContent;
        }).filter(text => text.includes('$'))""",
    )


def _wait_for_math(page) -> None:
    """Until MathJax has typeset the page and fetched its fonts (leaving earlier would cut
    those requests off: failures of the test, not of the site)."""
    page.wait_for_function("() => window.MathJax?.Hub?.queue?.pending === 0")
    page.wait_for_load_state("networkidle")


@dataclass
class Browsing:
    """A Chromium page on the served site, and what went wrong while it was read."""

    page: object  # playwright's Page
    site: str  # the site's address
    problems: list[str]  # requests to another host, failed requests, script and console errors


@pytest.fixture
def browsing(served: str) -> Iterator[Browsing]:
    """Headless Chromium on the site (1280 x 900), every request to another host aborted and
    noted, as are failed requests (but those cut off by leaving the page), responses of 400 and
    more, script errors and console errors.
    A test reads ``problems`` at its end."""
    chromium, sync_playwright = _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    origin = urllib.parse.urlsplit(served).netloc
    problems: list[str] = []

    def only_this_host(route) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc in (origin, ""):
            route.continue_()
        else:
            problems.append(f"blocked {route.request.url}")
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.route("**/*", only_this_host)
        # A request cut off because the test moved to another page (MathJax fetching a font
        # late, on a loaded machine) is not the site's fault; a missing file is a 404 below.
        page.on(
            "requestfailed",
            lambda r: r.failure != "net::ERR_ABORTED" and problems.append(f"{r.url}: {r.failure}"),
        )
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.url}: {r.status}"))
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: {m.text}"))
        try:
            yield Browsing(page, served, problems)
        finally:
            browser.close()


def test_site_reads_offline_in_chromium(browsing: Browsing) -> None:
    page, served = browsing.page, browsing.site
    page.goto(f"{served}/index.html")
    links = page.locator(".site-lessons a")
    assert links.count() == len(SITE_NOTEBOOKS)
    page.screenshot(path=str(ARTIFACTS / "site_index.png"), full_page=True)

    page.locator(".site-readme a").click()
    page.wait_for_url("**/files/README.md.html")
    page.wait_for_load_state("networkidle")
    images = page.eval_on_selector_all("img", "i => i.map(i => i.naturalWidth)")
    assert images and all(width > 0 for width in images), images
    page.go_back()
    page.wait_for_url("**/index.html")

    links.first.click()
    page.wait_for_url(f"**/{SITE_NOTEBOOKS[0]}.html")
    _wait_for_math(page)
    assert page.locator(".MathJax, .MathJax_Display").count() > 0, "no math typeset"
    assert _raw_dollars(page) == []

    widget = page.locator('.edsr-zoom[data-ready="true"]').first  # the tour's first
    widget.wait_for()
    widget.scroll_into_view_if_needed()
    before = widget.get_attribute("data-box")
    widget.locator(".edsr-zoom-overview").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('.edsr-zoom').dataset.box !== '{before}'")
    captions = widget.locator(".edsr-zoom-panel figcaption").all_text_contents()
    assert any(c.endswith(" dB") for c in captions), captions
    crops_beside_overview(widget)
    page.set_viewport_size({"width": 1024, "height": 800})
    crops_beside_overview(widget)
    widget.screenshot(path=str(ARTIFACTS / "site_widget_1024.png"))
    page.set_viewport_size({"width": 700, "height": 800})
    crops_in_one_row(widget)
    widget.screenshot(path=str(ARTIFACTS / "site_widget_700.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "site_lesson.png"))

    _wait_for_math(page)  # the resize typesets again: let its fonts arrive first
    page.locator(f'a[href="{CORE_PAGE}"]').first.click()
    page.wait_for_url(f"**/{CORE_PAGE}")
    assert page.locator(".ann-code .highlight span.k").count() > 0
    page.go_back()
    page.wait_for_url(f"**/{SITE_NOTEBOOKS[0]}.html")
    _wait_for_math(page)

    page.locator(".site-nav-top a[rel=next]").click()
    page.wait_for_url(f"**/{SITE_NOTEBOOKS[1]}.html")
    page.locator(".site-nav-top a[rel=prev]").wait_for()
    _wait_for_math(page)
    page.locator(".site-nav-top .site-nav-index").click()
    page.wait_for_url("**/index.html")
    assert browsing.problems == [], browsing.problems


def _targeted(page, anchor: str) -> dict:
    """After following a link to ``#anchor``: the ``:target`` element's id and its top in the
    window (px)."""
    page.wait_for_function(f"() => location.hash === '#{anchor}'")
    return page.evaluate(
        """() => {
            const target = document.querySelector(':target');
            return target && {id: target.id, top: target.getBoundingClientRect().top};
        }"""
    )


def test_site_pages_in_chromium(browsing: Browsing) -> None:
    """The core's annotated page, a lesson's folded solutions, table of contents and alt texts,
    the results page and the glossary, read as a student would, with no console error."""
    page, served = browsing.page, browsing.site
    # The core's model page: highlighted code, numbered lines, a line anchor that works.
    page.goto(f"{served}/index.html")
    page.locator('.site-more a[href="core/index.html"]').click()
    page.locator(f'.core-list a[href="{Path(CORE_PAGE).name}"]').click()
    page.wait_for_url(f"**/{CORE_PAGE}")
    assert page.locator(".ann-code .highlight span.k").count() > 10
    page.screenshot(path=str(ARTIFACTS / "site_core_models.png"))
    line = page.locator(".ann-line").nth(40).get_attribute("id")
    page.locator(f'a.ann-ln[href="#{line}"]').click()
    target = _targeted(page, line)
    assert target["id"] == line and 0 <= target["top"] < 900, target
    page.goto(f"{served}/{CORE_PAGE}#L10")
    assert _targeted(page, "L10")["id"] == "L10"

    # A lesson: its solutions folded, its table of contents, its figures described.
    for stem in SITE_NOTEBOOKS:
        page.goto(f"{served}/{stem}.html")
        _wait_for_math(page)
        alts = page.eval_on_selector_all("img", "i => i.map(i => i.alt)")
        assert alts and all(a.strip() and a != NO_ALT for a in alts), (stem, alts)
    styles = page.eval_on_selector_all(
        ".jp-OutputArea-output pre",
        "p => p.map(p => [getComputedStyle(p).whiteSpace, getComputedStyle(p).wordBreak])",
    )
    assert styles and set(map(tuple, styles)) == {("pre", "normal")}, styles  # no mid-word
    solution = page.locator("details.site-solution").first
    assert solution.get_attribute("open") is None
    assert not solution.locator(".jp-InputArea").is_visible()
    solution.locator("summary").click()
    assert solution.get_attribute("open") is not None
    assert solution.locator(".jp-InputArea").is_visible()
    link = page.locator(".site-toc a").nth(2)
    anchor = link.get_attribute("href")[1:]
    link.click()
    target = _targeted(page, anchor)
    assert target["id"] == anchor and -2 <= target["top"] < 100, target
    page.screenshot(path=str(ARTIFACTS / "site_lesson_toc.png"))

    # The results page: a row per claim, each linked to its lesson; the figure.
    page.goto(f"{served}/index.html")
    page.locator('.site-more a[href="results.html"]').click()
    page.wait_for_url("**/results.html")
    assert page.locator(".site-claims tbody tr").count() > 0
    assert page.eval_on_selector_all("img", "i => i.map(i => i.naturalWidth)")[0] > 0
    page.screenshot(path=str(ARTIFACTS / "site_results.png"), full_page=True)
    row = page.locator(".site-claims tbody tr").first
    lesson = row.get_attribute("data-lesson")
    row.locator("a").click()
    page.wait_for_url(f"**/{lesson}.html")

    # The glossary: a term's link lands on its heading; its links into the core work.
    page.goto(f"{served}/index.html")
    page.locator('.site-more a[href$="glossary.md.html"]').click()
    page.wait_for_url("**/glossary.md.html")
    page.locator('a[href="#y-channel"]').first.click()
    assert _targeted(page, "y-channel")["id"] == "y-channel"
    page.locator('a[href$="core/metrics.html#L102"]').first.click()
    page.wait_for_url("**/core/metrics.html#L102")
    assert _targeted(page, "L102")["id"] == "L102"
    assert browsing.problems == [], browsing.problems

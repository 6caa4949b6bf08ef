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
  load), the tour opens the page of ``edsr_lite/core/models.py``, which shows the file's text, and
  every relative link or image of every page leads to a file of the site.

``test_repository_links`` checks the link rewriting alone on a handmade notebook (exported as it
is, nothing run): Markdown and source pages, ``#anchors``, web addresses left alone, and a link
to a missing file stopping the build with the notebook and the link named.

Screenshots go to ``build/test-artifacts/site_*.png``.
"""

from __future__ import annotations

import functools
import html
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM_ARGS, TIMEOUT_MS, _require_browser, crops_beside_overview

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
SITE_NOTEBOOKS = ("00_tour", "02_residual_scaling")
BUILD_TIMEOUT_S = 900
#: A source file that the tour links to: its page shows its text.
SOURCE = "edsr_lite/core/models.py"

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


def test_every_link_leads_to_a_page(site: Path) -> None:
    """Every relative ``href``/``src`` of every page names a file of the site; only a lesson
    that this partial build leaves out keeps its notebook link (``01_bn_removal.ipynb``)."""
    assert (site / "files" / "README.md.html").is_file()
    assert (site / "files" / f"{SOURCE}.html").is_file()
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
    assert f'href="files/{SOURCE}.html#L3"' in lesson
    assert 'href="https://arxiv.org/abs/1707.02921"' in lesson
    assert 'href="00_tour.ipynb"' in lesson  # a lesson not built: its link is left alone
    readme = (out / "files" / "README.md.html").read_text("utf-8")
    assert 'id="quick-start"' in readme  # GitHub's anchors, as the notebooks link them
    for image in re.findall(r'src="([^"]+)"', readme):
        assert (out / "files" / image).is_file(), image
    source = (out / "files" / f"{SOURCE}.html").read_text("utf-8")
    assert 'id="L3"' in source and f"<title>{SOURCE}: edsr-lite</title>" in source
    text = html.unescape(re.sub(r"<[^>]+>", "", source.split("<pre", 1)[1].split(">", 1)[1]))
    assert text.startswith((ROOT / SOURCE).read_text("utf-8"))

    _handmade(tmp_path, "See [the results](../data/NO_SUCH_FILE.md).")
    with pytest.raises(make_site.DeadLink, match=r"notebooks/99_links\.ipynb.*NO_SUCH_FILE"):
        make_site.build([notebook], tmp_path / "dead", "fast", executed=tmp_path)


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


def test_site_reads_offline_in_chromium(served: str) -> None:
    chromium, sync_playwright = _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    origin = urllib.parse.urlsplit(served).netloc
    blocked, failed, errors = [], [], []

    def only_this_host(route) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc in (origin, ""):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.route("**/*", only_this_host)
        page.on(
            "requestfailed",
            lambda r: r.url.startswith("http") and failed.append(f"{r.url}: {r.failure}"),
        )
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url}: {r.status}"))
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
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

            widget = page.locator('.edsr-zoom[data-ready="true"]')
            widget.wait_for()
            widget.scroll_into_view_if_needed()
            before = widget.get_attribute("data-box")
            page.locator(".edsr-zoom-overview").focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"() => document.querySelector('.edsr-zoom').dataset.box !== '{before}'"
            )
            captions = page.locator(".edsr-zoom-panel figcaption").all_text_contents()
            assert any(c.endswith(" dB") for c in captions), captions
            crops_beside_overview(page)
            page.set_viewport_size({"width": 1024, "height": 800})
            crops_beside_overview(page)
            widget.screenshot(path=str(ARTIFACTS / "site_widget_1024.png"))
            page.screenshot(path=str(ARTIFACTS / "site_lesson.png"))

            _wait_for_math(page)  # the resize typesets again: let its fonts arrive first
            page.locator(f'a[href="files/{SOURCE}.html"]').first.click()
            page.wait_for_url(f"**/files/{SOURCE}.html")
            shown = page.locator("pre.site-source").text_content()
            assert shown == (ROOT / SOURCE).read_text(encoding="utf-8")
            page.go_back()
            page.wait_for_url(f"**/{SITE_NOTEBOOKS[0]}.html")
            _wait_for_math(page)

            page.locator(".site-nav-top a[rel=next]").click()
            page.wait_for_url(f"**/{SITE_NOTEBOOKS[1]}.html")
            page.locator(".site-nav-top a[rel=prev]").wait_for()
            _wait_for_math(page)
            page.locator(".site-nav-top .site-nav-index").click()
            page.wait_for_url("**/index.html")
        finally:
            browser.close()
    assert blocked == [], blocked
    assert failed == [], failed
    assert errors == [], errors

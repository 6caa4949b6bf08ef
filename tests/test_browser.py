"""ZoomCompare in a real browser: JupyterLab 4 in headless Chromium, driven by Playwright.

The test serves ``tests/fixtures/widget_demo.ipynb`` from a temporary folder with JupyterLab
(127.0.0.1, a token, no announcements pop-up, Jupyter's config/data/runtime folders in the
temporary folder so that no user settings leak in), opens it in Chromium, runs all cells,
then moves the zoom box: by dragging it, with the arrow keys, with a slider, and from Python.
It checks that

* the crops on screen changed (element screenshots before and after differ);
* the kernel received the new box (read back from the kernel through its connection file),
  in one or two messages for a drag across many pixels, not one per mouse move;
* what the browser drew is what Python computes for that box: the crop pixels, bit for bit,
  and the PSNR labels, to 0.01 dB;
* the crops stay beside the overview (right of it, not wrapped under it) in 1280 and 1024 px
  wide windows.

A screenshot is saved as ``build/test-artifacts/zoom_compare.png``.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``, or the executable named by
``EDSR_LITE_CHROMIUM``; Playwright's own browser download is not used), started with a fresh
profile and the flags in ``CHROMIUM_ARGS``. Without Chromium or the ``playwright`` package
the test is skipped, unless ``EDSR_LITE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns
that into a failure.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "fixtures" / "widget_demo.ipynb"
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000  # for any one wait in the browser; the whole test takes ~30-60 s
START_TIMEOUT_S = 60


def _find_chromium() -> str | None:
    for candidate in (os.environ.get("EDSR_LITE_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _require_browser() -> tuple[str, object]:
    """The Chromium executable and Playwright's sync_playwright; skip (or fail in CI) if absent."""
    chromium = _find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [
        what
        for what, ok in (
            ("Chromium (apt-get install chromium)", chromium),
            ("the playwright package (pip install playwright)", sync_playwright),
        )
        if not ok
    ]
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("EDSR_LITE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (EDSR_LITE_REQUIRE_BROWSER=1 makes this an error)")
        pytest.skip(message)
    return chromium, sync_playwright


# --------------------------------------------------------------------------------- JupyterLab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter_env(home: Path) -> dict[str, str]:
    """Environment with every Jupyter/IPython folder under ``home`` and announcements off."""
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "config" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "config" / "lab" / "workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    # JupyterLab 4 asks in a pop-up whether to fetch Jupyter news; answer "never" up front.
    notification = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextmanager
def jupyterlab(tmp_path: Path) -> Iterator[dict]:
    """Run a JupyterLab server on 127.0.0.1 serving a copy of the demo notebook."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOK, notebooks / NOTEBOOK.name)
    env = _jupyter_env(tmp_path / "jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, no menu clicks
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(server, f"{url}/api/status?token={token}", tmp_path / "jupyterlab.log")
        yield {"url": url, "token": token, "runtime": Path(env["JUPYTER_RUNTIME_DIR"])}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_for_server(server: subprocess.Popen, status_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(status_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a server, not the page: nothing to wait on but time
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


class Kernel:
    """A second client of the notebook's kernel: evaluates expressions, prints nothing."""

    def __init__(self, runtime_dir: Path) -> None:
        from jupyter_client import BlockingKernelClient

        (connection_file,) = runtime_dir.glob("kernel-*.json")
        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()

    def eval(self, expression: str):
        """The value of a Python expression in the kernel (one JSON can represent)."""
        as_json = f"__import__('json').dumps({expression})"
        reply = self.client.execute_interactive(
            "", silent=True, user_expressions={"value": as_json}, timeout=30
        )
        value = reply["content"]["user_expressions"]["value"]
        assert value["status"] == "ok", value
        return json.loads(ast.literal_eval(value["data"]["text/plain"]))  # repr of a str

    def run(self, code: str) -> None:
        """Run a statement in the kernel, silently (the notebook shows nothing)."""
        reply = self.client.execute_interactive(code, silent=True, timeout=30)
        assert reply["content"]["status"] == "ok", reply["content"]

    def close(self) -> None:
        self.client.stop_channels()


# --------------------------------------------------------------------------------- the test


def _canvas_rgb(page, name: str) -> np.ndarray:
    """The pixels of one panel's canvas, as uint8 H x W x 3."""
    data_url = page.eval_on_selector(
        f'.edsr-zoom-panel[data-name="{name}"] canvas', "c => c.toDataURL('image/png')"
    )
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).hexdigest()


def _captions(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".edsr-zoom-panel",
        "fs => Object.fromEntries(fs.map(f => [f.dataset.name, f.querySelector('figcaption')"
        ".textContent]))",
    )


def _psnr_of(caption: str) -> float | None:
    if not caption.endswith(" dB"):
        return None
    return float(caption.rsplit(":", 1)[1].removesuffix(" dB"))


def _page_box(page) -> list[int]:
    """The box the page shows, once the page has drawn its latest state (two frames later)."""
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return [int(v) for v in page.get_attribute(".edsr-zoom", "data-box").split(",")]


def _wait_for_kernel_box(page, kernel: Kernel, timeout_s: float = 20) -> list[int]:
    """Wait until the kernel's ``widget.box`` is the box on the page (sent after a pause)."""
    deadline = time.monotonic() + timeout_s
    while (shown := _page_box(page)) != (current := kernel.eval("widget.box")):
        if time.monotonic() > deadline:
            pytest.fail(f"the kernel's widget.box is {current}, the page shows {shown}")
        time.sleep(0.1)  # the sync is debounced by 150 ms; the kernel has no event to wait on
    return shown


def _check_page_matches_kernel(page, kernel: Kernel) -> list[int]:
    """The box on the page reached the kernel, and the kernel computes what the page shows."""
    box = _wait_for_kernel_box(page, kernel)
    hashes = kernel.eval(
        "{k: __import__('hashlib').sha256(v.tobytes()).hexdigest()"
        " for k, v in widget.crops().items()}"
    )
    for name, expected in hashes.items():
        assert _sha256(_canvas_rgb(page, name)) == expected, f"panel {name} differs from Python"
    labels = kernel.eval("widget.labels()")
    captions = _captions(page)
    assert captions.keys() == labels.keys()
    for name, label in labels.items():
        ours, theirs = _psnr_of(captions[name]), _psnr_of(label)
        if theirs is None:
            assert captions[name] == label
        else:
            assert ours == pytest.approx(theirs, abs=0.011), (captions[name], label)
    return box


def _box_messages(frames: list[str | bytes]) -> int:
    """How many of these websocket frames (browser -> server) carry a new box to the kernel."""
    return sum(b'"box"' in (f if isinstance(f, bytes) else f.encode()) for f in frames)


def _drag(page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press the mouse at ``start`` and release it at ``end`` (fractions of the element's
    width and height), passing through 8 points on the way."""
    rect = page.locator(selector).bounding_box()
    x, y = rect["x"], rect["y"]
    page.mouse.move(x + start[0] * rect["width"], y + start[1] * rect["height"])
    page.mouse.down()
    page.mouse.move(x + end[0] * rect["width"], y + end[1] * rect["height"], steps=8)
    page.mouse.up()


def crops_beside_overview(page) -> None:
    """Every crop panel of the widget sits right of the overview (none wrapped under it)."""
    overview = page.locator(".edsr-zoom-overview").bounding_box()
    for panel in page.locator(".edsr-zoom-panel").all():
        box = panel.bounding_box()
        assert box["x"] >= overview["x"] + overview["width"], (overview, box)


def _wait_for_page_box(page, box: tuple[int, int, int, int]) -> None:
    page.wait_for_selector(f'.edsr-zoom[data-box="{",".join(map(str, box))}"]')


def _open_and_run_notebook(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(  # the notebook is open and its kernel is idle
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session"
        "?.kernel?.status === 'idle'",
        polling=100,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector('.edsr-zoom[data-ready="true"]')


def test_zoom_compare_in_jupyterlab(tmp_path: Path) -> None:
    chromium, sync_playwright = _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(tmp_path) as lab, sync_playwright() as playwright:
        lab_url = f"{lab['url']}/lab/tree/{NOTEBOOK.name}?token={lab['token']}"
        browser = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),  # fresh: no user data
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        frames: list[str | bytes] = []  # everything the page sends through websockets
        page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(f)))
        kernel = None
        try:
            _open_and_run_notebook(page, lab_url)
            kernel = Kernel(lab["runtime"])
            x0, y0, w, h = _check_page_matches_kernel(page, kernel)
            step = kernel.eval("widget.step")
            panel = page.locator('.edsr-zoom-panel[data-name="bicubic"] canvas')
            shot_before = panel.screenshot()

            # Drag the box from the centre of the overview towards its top-left corner: the
            # box moves at every one of the 8 mouse moves, but the kernel hears of it once
            # or twice (after the box stops), not at every move.
            sent_before = len(frames)
            _drag(page, ".edsr-zoom-overview", (0.5, 0.5), (0.25, 0.3))
            x1, y1, *_ = _check_page_matches_kernel(page, kernel)
            assert x1 < x0 and y1 < y0
            assert panel.screenshot() != shot_before, "the crops did not change on screen"
            assert 1 <= _box_messages(frames[sent_before:]) <= 3

            # The keyboard moves it one grid step per arrow key...
            page.locator(".edsr-zoom-overview").focus()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowDown")
            _wait_for_page_box(page, (x1 + step, y1 + step, w, h))
            _check_page_matches_kernel(page, kernel)
            # ... and so do the sliders (Home: to the left edge).
            page.locator(".edsr-zoom-slider input").first.focus()
            page.keyboard.press("Home")
            _wait_for_page_box(page, (0, y1 + step, w, h))
            _check_page_matches_kernel(page, kernel)

            # At common window widths the crops shrink to stay beside the overview.
            for width in (1280, 1024):
                page.set_viewport_size({"width": width, "height": 900})
                _page_box(page)  # two frames: the layout has followed
                crops_beside_overview(page)
            page.set_viewport_size({"width": 1400, "height": 900})

            # A box set in Python moves on the page.
            kernel.run("widget.box = (120, 60, 48, 48)")
            _wait_for_page_box(page, (120, 60, 48, 48))
            _check_page_matches_kernel(page, kernel)
            assert errors == [], errors
        finally:
            page.screenshot(path=str(ARTIFACTS / "zoom_compare.png"), full_page=True)
            if kernel is not None:
                kernel.close()
            browser.close()

"""A local HTTP server on 127.0.0.1 for the download tests: no test ever reaches the internet.

``LocalServer(files)`` serves ``{name: bytes}`` at ``http://127.0.0.1:<port>/<name>`` from a
thread, honouring ``Range: bytes=N-`` requests (206 with a Content-Range); ``cut_after = n``
sends only ``n`` bytes of the body and closes the connection (an interrupted download);
``ranges`` records the Range header of every request (``None`` when absent). Hostile servers:
``pause = s`` sends the body in pieces of ``piece`` bytes with ``s`` seconds between them (a
trickle, or a slow line); ``endless = True`` sends no Content-Length and zeros without end.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading


def hashed_name(stem: str, payload: bytes, suffix: str = ".pt") -> str:
    """torch.hub's file name: ``<stem>-<first 8 hex digits of the sha256>.pt``."""
    return f"{stem}-{hashlib.sha256(payload).hexdigest()[:8]}{suffix}"


class LocalServer:
    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.cut_after: int | None = None
        self.pause: float = 0.0
        self.piece: int = 1
        self.endless = False
        self.ranges: list[str | None] = []
        self.closing = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server looks for)
                name = self.path.lstrip("/")
                if name not in server.files:
                    self.send_error(404)
                    return
                payload = server.files[name]
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                if server.endless:
                    self.send_response(200)
                    self.end_headers()
                    while not server.closing.is_set():  # until the client hangs up
                        self.wfile.write(bytes(1 << 16))
                    return
                start = 0
                if requested:
                    start = int(requested.removeprefix("bytes=").split("-")[0])
                    if start >= len(payload):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}"
                    )
                else:
                    self.send_response(200)
                body = payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body = body[: server.cut_after]
                    self.close_connection = True
                if not server.pause:
                    self.wfile.write(body)
                for i in range(0, len(body) if server.pause else 0, server.piece):
                    if server.closing.wait(server.pause):
                        return
                    self.wfile.write(body[i : i + server.piece])
                    self.wfile.flush()

            def handle(self):
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()  # a client that gives up early is no error here

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def no_proxy(monkeypatch) -> None:
    """Requests to 127.0.0.1 go straight to the local server, whatever proxy is configured."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")

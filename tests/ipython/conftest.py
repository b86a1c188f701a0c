"""A real IPython shell with nbcreds' magics, a helper running cells in it, a small
JSON API on 127.0.0.1 for %%http and the local OAuth server for credentials."""

from __future__ import annotations

import atexit
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output

from nbcreds.ipython import _magics


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    """A fresh InteractiveShell with the magics registered (and removed after)."""
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    _magics.register(shell)
    try:
        yield shell
    finally:
        _magics.unregister(shell)
        # each shell registers an atexit reset that runs gc.collect(); hundreds of
        # them made the test process take minutes to exit
        atexit.unregister(shell.atexit_operations)
        InteractiveShell.clear_instance()


def run_cell(ip: InteractiveShell, code: str) -> tuple[ExecutionResult, str]:
    """Run ``code`` as a cell; return the result and all output text (streams, every
    mime type of displays and of the cell's result), for leak scans."""
    with capture_output(display=True) as cap:
        result = ip.run_cell(code, store_history=True)
    parts: list[str] = [cap.stdout, cap.stderr]
    for out in cap.outputs:
        parts.extend(str(v) for v in out.data.values())
    if result.result is not None:
        data, _ = ip.display_formatter.format(result.result)
        parts.extend(str(v) for v in data.values())
    return result, "\n".join(parts)


@pytest.fixture
def cell(ip: InteractiveShell) -> Any:
    """``cell(code) -> (ExecutionResult, all output text)`` in the shell ``ip``."""
    return lambda code: run_cell(ip, code)


class _Handler(BaseHTTPRequestHandler):
    """Routes: /echo (JSON of the request), /cookie, /text, /binary, /slow, /status/NNN."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path = urlsplit(self.path).path
        if path.startswith("/echo"):
            data = {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": body,
            }
            self._send(200, json.dumps(data).encode(), "application/json")
        elif path == "/cookie":
            self._send(
                200,
                b'{"ok": true}',
                "application/json",
                {"Set-Cookie": "sid=cookie-value-123; Path=/; HttpOnly", "X-Plain": "visible"},
            )
        elif path == "/text":
            self._send(200, b"plain text body", "text/plain; charset=utf-8")
        elif path == "/binary":
            self._send(200, bytes(range(256)), "application/octet-stream")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b"{}", "application/json")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, json.dumps({"error": "nope"}).encode(), "application/json")
        elif path == "/nested":
            data = {"items": [{"id": i, "tags": ["a", "b"]} for i in range(3)], "n": 3}
            self._send(200, json.dumps(data).encode(), "application/json")
        else:
            self._send(404, b'{"error": "not found"}', "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Never print a request (it may carry a test secret); a client hanging up
        on /slow is expected."""


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    """Base URL of a small JSON API on 127.0.0.1 (a free port)."""
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

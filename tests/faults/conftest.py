"""Fault fixtures: the session's real servers (tests/conftest.py), misbehaving TCP
proxies in front of them, a scripted token server, and the time each fault took.

Each test records how long its fault took to fail (``fault_clock``); the table is
printed at the end of the run (and written to ``$NBCREDS_FAULT_TIMINGS`` if set).
No test asserts a duration: a fault that is not bounded hangs until pytest-timeout.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nbcreds._session import session
from nbcreds.testing._proxy import TcpProxy
from nbcreds.testing.leaks import assert_no_leak, assert_no_leak_in_exception

TIMINGS: list[tuple[str, str, float]] = []


@dataclass
class FaultClock:
    """Times one fault: ``with clock: <the call that fails>``."""

    case: str
    seconds: float = 0.0
    outcome: str = ""
    _start: float = field(default=0.0, repr=False)

    def __enter__(self) -> FaultClock:
        self._start = time.monotonic()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.seconds = time.monotonic() - self._start
        self.outcome = type(exc).__name__ if exc is not None else "no error"
        TIMINGS.append((self.case, self.outcome, self.seconds))


@pytest.fixture
def fault_clock(request: pytest.FixtureRequest) -> FaultClock:
    return FaultClock(request.node.name.removeprefix("test_"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("time each fault took to fail")
    width = max(len(case) for case, _, _ in TIMINGS)
    for case, outcome, seconds in TIMINGS:
        terminalreporter.write_line(f"{case:<{width}}  {seconds:7.2f} s  {outcome}")
    target = os.environ.get("NBCREDS_FAULT_TIMINGS")
    if target:
        with open(target, "w") as out:
            json.dump([{"case": c, "error": o, "seconds": round(s, 3)} for c, o, s in TIMINGS], out)


# --- checks every fault test makes --------------------------------------------------------


def no_secret_anywhere(exc: BaseException, values: list[str], *texts: str) -> None:
    """No value (or encoding) in the exception graph, its message or the other texts."""
    assert_no_leak_in_exception(exc, values)
    for text in texts:
        assert_no_leak(text, values)


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the kernel's side logged (the in-process test servers' own logs, authlib's,
    show what they received and are not output of nbcreds)."""
    return "\n".join(
        f"{r.name}: {r.getMessage()}" for r in caplog.records if not r.name.startswith("authlib")
    )


def says_what_to_do(message: str, *hints: str) -> None:
    for hint in hints:
        assert hint in message, f"the message does not mention {hint!r}: {message}"


# --- Vault ---------------------------------------------------------------------------------


@pytest.fixture
def vault_prefix(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"f-{name}-{secrets.token_hex(3)}"


@pytest.fixture
def proxy_to(request: pytest.FixtureRequest) -> Iterator[Callable[..., TcpProxy]]:
    """``proxy_to(port, mode=..., rate=...)``: a started proxy, stopped after the test."""
    started: list[TcpProxy] = []

    def make(port: int, **kwargs: Any) -> TcpProxy:
        proxy = TcpProxy("127.0.0.1", port, **kwargs).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
    session().reset()  # close clients holding connections to the proxies


# --- a scripted token server -----------------------------------------------------------------


class ScriptedTokenServer:
    """A token endpoint on 127.0.0.1 whose answer a test scripts: ``answer(request)``
    returns (status, JSON body). Sees the request as sent: headers and form body."""

    def __init__(self) -> None:
        self.answer: Callable[[dict[str, Any]], tuple[int, Any]] = lambda r: (500, {})
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                owner.requests += 1
                status, payload = owner.answer({"headers": dict(self.headers), "body": body})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def token_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedTokenServer]:
    server = ScriptedTokenServer()
    yield server
    server.close()


@pytest.fixture
def token_server(scripted_server: ScriptedTokenServer) -> ScriptedTokenServer:
    scripted_server.requests = 0
    return scripted_server


@pytest.fixture(autouse=True)
def _fresh_engine(fresh_engine: None) -> None:
    """Every fault test starts with no cached token (tests/conftest.py)."""

"""A real IPython shell with nbcreds' magics, and a helper running cells in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def _oauth_server() -> Iterator[Any]:
    from nbcreds.testing.oauth import OAuthServer

    with OAuthServer() as server:
        yield server


@pytest.fixture
def oauth(_oauth_server: Any) -> Iterator[Any]:
    """The session's local OAuth server (authlib), counters cleared; no cached token
    survives a test."""
    from nbcreds.credentials import engine

    engine.reset()
    _oauth_server.reset()
    _oauth_server.token_lifetime = 3600
    yield _oauth_server
    engine.reset()
    _oauth_server.reset()

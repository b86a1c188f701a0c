"""The KV store's change marker (what a live sidebar polls): it moves when another
process writes the store -- SQLite's ``PRAGMA data_version``, PostgreSQL's LISTEN/NOTIFY
-- and stays put when nothing was written."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

import nbcreds
import nbcreds.kvstore

from .conftest import Backend


def _markers_around(write: Callable[[], object]) -> list[object]:
    """The marker read twice by a watcher thread on its own connection (as the comm's
    and the widgets' watchers read it), then ``write()`` on this thread, then read again."""
    markers: list[object] = []
    first, written = threading.Event(), threading.Event()

    def watcher() -> None:
        markers.append(nbcreds.kvstore.kv_change_marker())
        markers.append(nbcreds.kvstore.kv_change_marker())  # nothing written in between
        first.set()
        written.wait(60)
        markers.append(nbcreds.kvstore.kv_change_marker())

    thread = threading.Thread(target=watcher)
    thread.start()
    assert first.wait(60)
    write()
    written.set()
    thread.join(60)
    return markers


def test_the_marker_moves_when_another_process_writes(backend: Backend, ns: str) -> None:
    nbcreds.set_kv("seed", 1)
    code = f"import nbcreds as nc; nc.use_namespace({ns!r}); nc.set_kv('outside', 2)"
    markers = _markers_around(
        lambda: subprocess.run(
            [sys.executable, "-c", code], env=backend.child_env(), check=True, timeout=120
        )
    )
    assert markers[0] is not None
    assert markers[0] == markers[1]
    assert markers[1] != markers[2]
    assert nbcreds.kv("outside") == 2


def test_the_marker_moves_when_another_thread_of_this_process_writes(
    backend: Backend, ns: str
) -> None:
    """The comm's and the widgets' watcher threads poll on their own connection: a write
    made by the kernel's main thread moves their marker too; reading twice does not."""
    nbcreds.set_kv("seed", 1)
    markers = _markers_around(lambda: nbcreds.set_kv("seed", 2))
    assert markers[0] is not None
    assert markers[0] == markers[1]
    assert markers[1] != markers[2]


def test_the_polled_marker_is_the_marker_while_a_namespace_is_current(
    backend: Backend, ns: str
) -> None:
    nbcreds.set_kv("seed", 1)
    assert nbcreds.kvstore.kv_poll_marker() == nbcreds.kvstore.kv_change_marker()
    nbcreds.use_namespace(None)  # the tenant level: a live view shows no KV
    assert nbcreds.kvstore.kv_poll_marker() is None


def test_the_polled_marker_of_a_store_that_fails_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poller never raises: the view shows the store's error from its own read."""
    import nbcreds.kvstore._api as api

    def broken() -> object:  # fault injection: the store fails while asked
        raise nbcreds.KVBackendError("the KV store at x is down")

    monkeypatch.setattr(api, "kv_change_marker", broken)
    nbcreds.use_namespace("acme")
    assert nbcreds.kvstore.kv_poll_marker() is None

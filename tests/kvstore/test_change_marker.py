"""The KV store's change marker (what a live sidebar polls): it moves when another
process writes the store -- SQLite's ``PRAGMA data_version``, PostgreSQL's LISTEN/NOTIFY
-- and stays put when nothing was written."""

from __future__ import annotations

import subprocess
import sys
import threading

import nbcreds
import nbcreds.kvstore

from .conftest import Backend


def test_the_marker_moves_when_another_process_writes(backend: Backend, ns: str) -> None:
    nbcreds.set_kv("seed", 1)
    markers: list[object] = []
    first, written = threading.Event(), threading.Event()

    def watcher() -> None:  # its own thread and connection, as the comm's watcher
        markers.append(nbcreds.kvstore.kv_change_marker())
        markers.append(nbcreds.kvstore.kv_change_marker())  # nothing written in between
        first.set()
        written.wait(60)
        markers.append(nbcreds.kvstore.kv_change_marker())

    thread = threading.Thread(target=watcher)
    thread.start()
    assert first.wait(60)
    code = f"import nbcreds as nc; nc.use_namespace({ns!r}); nc.set_kv('outside', 2)"
    subprocess.run([sys.executable, "-c", code], env=backend.child_env(), check=True, timeout=120)
    written.set()
    thread.join(60)
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
    markers: list[object] = []
    first, written = threading.Event(), threading.Event()

    def watcher() -> None:
        markers.append(nbcreds.kvstore.kv_change_marker())
        markers.append(nbcreds.kvstore.kv_change_marker())
        first.set()
        written.wait(60)
        markers.append(nbcreds.kvstore.kv_change_marker())

    thread = threading.Thread(target=watcher)
    thread.start()
    assert first.wait(60)
    nbcreds.set_kv("seed", 2)  # the main thread's connection commits
    written.set()
    thread.join(60)
    assert markers[0] is not None
    assert markers[0] == markers[1]
    assert markers[1] != markers[2]

"""Live widgets: every open nbcreds widget follows the core's change events.

One hub serves all open widgets of the kernel. It adds one listener to the core
(:func:`nbcreds.add_change_listener`) while any widget is open; the listener only
notes the kind of change and wakes the hub's thread (it runs on whichever thread
made the change, so it must be cheap). The thread then asks each open widget
interested in that kind to re-read what it shows (:meth:`Panel.follow`), under the
widget's own lock, so an update never interleaves with a click being handled.
Trait changes made on that thread reach the frontend through the kernel's iopub
channel, so a widget follows a change made by code, by another widget, by the
sidebar (its comm calls the same facade) -- even while a cell is still running.

Every :data:`POLL_SECONDS` the thread also compares the KV store's change marker
(``PRAGMA data_version`` for SQLite, notices for PostgreSQL): another kernel
wrote the store, so the widgets showing KV state re-read it.

The hub keeps widgets in a :class:`weakref.WeakSet`: a widget closed leaves it at
once, one garbage collected leaves it by itself; with the last one gone the
thread ends and removes the core listener, so nothing outlives the widgets.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Final

__all__ = ["HUB", "POLL_SECONDS", "THREAD_NAME", "Hub"]

#: how often the thread looks at the KV store's change marker (another kernel's writes)
POLL_SECONDS: Final = 0.5
THREAD_NAME: Final = "nbcreds-widgets-live"


def _kv_marker() -> object | None:
    """The KV store's change marker, or None (no namespace, so no KV shown; or a store
    that cannot tell or is down -- the widget shows that error itself)."""
    import nbcreds.kvstore

    return nbcreds.kvstore.kv_poll_marker()


class Hub:
    """The open widgets, the one core listener and the one thread that updates them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._panels: weakref.WeakSet[Any] = weakref.WeakSet()
        self._heard: set[str] = set()
        self._thread: threading.Thread | None = None
        self._held = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Collect changes without delivering them until the block ends (then they are
        delivered at once): tests that render at a chosen time use it."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
            self._wake.set()

    # -- membership ------------------------------------------------------------------
    def join(self, panel: Any) -> None:
        """``panel`` follows changes from now on (its :attr:`LIVE` kinds)."""
        import nbcreds

        with self._lock:
            self._panels.add(panel)
            if self._thread is None:
                nbcreds.add_change_listener(self.hear)
                self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                self._thread.start()

    def leave(self, panel: Any) -> None:
        """``panel`` closed: it follows nothing any more (the last one ends the thread)."""
        with self._lock:
            self._panels.discard(panel)
        self._wake.set()

    @property
    def panels(self) -> list[Any]:
        with self._lock:
            return list(self._panels)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def wait_stopped(self, timeout: float = 10.0) -> bool:
        """Wait for the thread to end (after the last widget closed); True when it has."""
        with self._lock:
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # -- the core's listener -----------------------------------------------------------
    def hear(self, what: str) -> None:
        """Note that ``what`` changed and wake the thread (any thread; never blocks long)."""
        with self._lock:
            self._heard.add(what)
        self._wake.set()

    # -- delivery ------------------------------------------------------------------------
    def deliver(self, heard: Iterable[str], panels: Iterable[Any] | None = None) -> None:
        """Ask each open panel interested in one of ``heard`` to follow it."""
        kinds = set(heard)
        for panel in list(self.panels if panels is None else panels):
            if getattr(panel, "comm", None) is None:  # closed meanwhile
                continue
            wanted = kinds & set(getattr(panel, "LIVE", ()))
            if wanted:
                try:
                    panel.follow(wanted)
                except Exception:  # noqa: S112 - one widget's failure must not stop the others
                    continue  # (widgets show their own errors; the next change retries)

    def _wants_kv(self) -> bool:
        return any("kv" in getattr(p, "LIVE", ()) for p in self.panels)

    def _run(self) -> None:
        import nbcreds

        marker = _kv_marker() if self._wants_kv() else None
        try:
            while True:
                with self._lock:  # leave()/join() and this exit decide under one lock
                    if not self._panels:
                        self._thread = None
                        nbcreds.remove_change_listener(self.hear)
                        return
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                with self._lock:
                    if self._held:
                        continue
                    heard, self._heard = self._heard, set()
                if self._wants_kv():
                    now = _kv_marker()
                    if now != marker and marker is not None:
                        heard.add("kv")  # another kernel (or connection) wrote the store
                    marker = now
                if heard:
                    self.deliver(heard)
        except BaseException:  # pragma: no cover - never leave a dead thread registered
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
            nbcreds.remove_change_listener(self.hear)
            raise


#: the one hub of this process
HUB: Final = Hub()

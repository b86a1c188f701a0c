"""One database connection per thread, for the SQL backends.

Neither ``sqlite3`` nor psycopg connections may be used by two threads at once,
and none may cross a ``fork``: each backend keeps one connection per thread
(opened on first use), remembers them all so :meth:`close` can close them, and
forgets them in a forked child, which opens its own.
"""

from __future__ import annotations

import os
import threading
import weakref
from abc import abstractmethod
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["ConnectionPerThread"]


class _Closable(Protocol):
    def close(self) -> None: ...


ConnT = TypeVar("ConnT", bound=_Closable)


class ConnectionPerThread(Generic[ConnT]):
    """Mixin: ``self._local.conn`` is this thread's connection (hot paths read it directly)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[ConnT] = []
        self._ready = False  # the schema is current (checked on the first connection)
        self._setup_lock = threading.Lock()  # one thread sets the schema up, others wait
        _open.add(self)

    @abstractmethod
    def _connect(self) -> ConnT:
        """Open a connection and hand it to :meth:`_keep`."""

    def _keep(self, conn: ConnT) -> ConnT:
        """Make ``conn`` this thread's connection, remembered for :meth:`close`."""
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _conn(self) -> ConnT:
        """This thread's connection, opened on first use."""
        # not try/except AttributeError: a failing connect would carry it as __context__
        conn = getattr(self._local, "conn", None)
        return conn if conn is not None else self._connect()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()


_open: weakref.WeakSet[ConnectionPerThread[Any]] = weakref.WeakSet()


def _after_fork() -> None:
    # a connection must never cross a fork: the child opens its own
    for store in list(_open):
        store._local = threading.local()
        store._connections = []


os.register_at_fork(after_in_child=_after_fork)

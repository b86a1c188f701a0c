"""One overall deadline per network operation, whatever the server does.

A client library's ``timeout`` bounds each socket read: a server trickling a few
bytes a second never trips it, and holds the kernel for as long as it likes.
A :class:`Deadline` bounds the whole operation (a token request with its
retries, a Vault login or read):

- **httpx** (token endpoints): :func:`deadline_transport` gives a transport whose
  every socket read and write waits at most the time left (an httpcore network
  backend, httpcore's public extension point), so the read that would cross the
  deadline times out.
- **requests** (hvac, Vault): :func:`deadline_session` gives a session whose
  connections register their socket with the deadline in force; when it passes, a
  watchdog thread shuts the socket down, which wakes the blocked read at once.

The deadline in force is a context variable set by :meth:`Deadline.watching`;
outside it nothing changes. After a failure, :attr:`Deadline.expired` tells the
caller that the deadline, not the server, ended the request.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    import requests

__all__ = ["Deadline", "current", "deadline_session", "deadline_transport"]

_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "nbcreds_deadline", default=None
)


def current() -> Deadline | None:
    """The deadline in force in this thread / task, if any."""
    return _current.get()


class Deadline:
    """``seconds`` from now, for one whole operation (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.expires = time.monotonic() + self.seconds
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._fired = False
        self._active = 0

    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._fired or time.monotonic() >= self.expires

    @property
    def fired(self) -> bool:
        """True once the deadline passed while the operation ran (its sockets were shut
        down: whatever a library made of the cut answer is not to be trusted)."""
        return self._fired

    def httpx_timeout(self) -> float:
        """The time left, as the per-phase timeout of one httpx request (at least 1 ms:
        httpx takes 0 as 'no timeout' in places)."""
        return max(self.remaining(), 0.001)

    @contextlib.contextmanager
    def watching(self) -> Iterator[Deadline]:
        """Put this deadline in force for the block (nested blocks may reuse it)."""
        token = _current.set(self)
        with self._lock:
            self._active += 1
        _watchdog.add(self)
        try:
            yield self
        finally:
            with self._lock:
                self._active -= 1
                if not self._active:
                    self._sockets.clear()
            _current.reset(token)

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.add(sock)
            fire = self._fired
        if fire or time.monotonic() >= self.expires:
            self._fire()

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            sockets, self._sockets = list(self._sockets), set()
            active = self._active
        if not active:
            return
        for sock in sockets:
            with contextlib.suppress(OSError, ValueError):
                # the plain socket's shutdown, also for an SSLSocket: it wakes a reader
                # blocked inside the TLS layer without touching that layer's state
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread firing deadlines in time order (started on first use)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.expires, next(self._counter), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="nbcreds-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            due: list[Deadline] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(wait)
                    continue
            for deadline in due:
                deadline._fire()


_watchdog = _Watchdog()


# --- httpx ------------------------------------------------------------------------------


def deadline_transport(**kwargs: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (``kwargs`` as its own) whose socket reads and writes
    each wait at most the time left of the deadline in force."""
    import httpcore
    import httpx

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, stream: httpcore.NetworkStream) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.NetworkStream:
            inner = self._stream.start_tls(
                ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
            )
            return DeadlineStream(inner)

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._backend = httpcore.SyncBackend()

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            stream = self._backend.connect_tcp(
                host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
            )
            return DeadlineStream(stream)

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.NetworkStream:
            stream = self._backend.connect_unix_socket(
                path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
            )
            return DeadlineStream(stream)

        def sleep(self, seconds: float) -> None:
            self._backend.sleep(seconds)

    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool
    # httpx builds its pool without a way to pass a network backend: build the same
    # pool again with ours (checked by tests/faults: a trickling server fails in time)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=pool._ssl_context,
        max_connections=pool._max_connections,
        max_keepalive_connections=pool._max_keepalive_connections,
        keepalive_expiry=pool._keepalive_expiry,
        http1=pool._http1,
        http2=pool._http2,
        retries=pool._retries,
        local_address=pool._local_address,
        uds=pool._uds,
        socket_options=pool._socket_options,
        network_backend=DeadlineBackend(),
    )
    return transport


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _current.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        deadline._fired = True
        raise error("the operation's deadline passed")
    return left if timeout is None else min(timeout, left)


# --- requests ---------------------------------------------------------------------------


def deadline_session() -> requests.Session:
    """A ``requests.Session`` whose connections are shut down when the deadline in
    force passes (a blocked read then fails at once)."""
    import requests
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def watched(sock: Any) -> None:
        deadline = _current.get()
        if deadline is not None and isinstance(sock, socket.socket):
            deadline.watch(sock)

    class WatchedHTTPConnection(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            watched(self.sock)

        def getresponse(self) -> Any:
            watched(self.sock)
            return super().getresponse()

    class WatchedHTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            watched(self.sock)

        def getresponse(self) -> Any:
            watched(self.sock)
            return super().getresponse()

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    class WatchedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": WatchedHTTPPool,
                "https": WatchedHTTPSPool,
            }

    session = requests.Session()
    session.mount("http://", WatchedAdapter())
    session.mount("https://", WatchedAdapter())
    return session

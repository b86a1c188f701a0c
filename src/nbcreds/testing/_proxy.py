"""A TCP proxy on 127.0.0.1 that misbehaves on purpose, for fault tests.

Put it between a client and a real server (OpenBao, PostgreSQL, a token server)
and choose how it treats the server's answers, per connection, at any time::

    with TcpProxy("127.0.0.1", bao.port) as proxy:
        proxy.mode = "trickle"          # 'pass' | 'delay' | 'trickle' | 'swallow' | 'reset'
        url = proxy.url()               # http://127.0.0.1:<port>

- ``pass``: forward both ways.
- ``delay``: hold the server's answer ``delay`` seconds, then forward it.
- ``trickle``: forward the answer ``rate`` bytes per second (a slow-loris server:
  every read gets a byte well within any per-read timeout).
- ``swallow``: accept and read the request, never answer (the upstream is never
  contacted).
- ``reset``: accept, then close at once.

Threads only, no dependency; :meth:`stop` closes every connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self

from ._process import ManagedServer

__all__ = ["TcpProxy"]

MODES = ("pass", "delay", "trickle", "swallow", "reset")


class TcpProxy(ManagedServer):
    """A misbehaving TCP proxy to ``upstream_host:upstream_port`` (see the module doc)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        mode: str = "pass",
        delay: float = 10.0,
        rate: float = 2.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.upstream = (upstream_host, upstream_port)
        self.mode = mode
        self.delay = delay
        self.rate = rate
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.port = 0
        #: connections accepted so far
        self.accepted = 0

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def close_connections(self) -> None:
        """Drop every open connection (the listener stays)."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)

    def __repr__(self) -> str:
        return (
            f"<TcpProxy 127.0.0.1:{self.port} -> {self.upstream[0]}:{self.upstream[1]} {self.mode}>"
        )

    # --- work ---------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._track(client)
            self._spawn(self._serve, client, self.mode)

    def _serve(self, client: socket.socket, mode: str) -> None:
        if mode == "reset":
            with contextlib.suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            _close(client)
            return
        if mode == "swallow":
            with contextlib.suppress(OSError):
                while not self._stopping.is_set() and client.recv(65536):
                    pass
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        self._track(upstream)
        self._spawn(self._pump, client, upstream, "pass")
        self._pump(upstream, client, mode)

    def _pump(self, source: socket.socket, sink: socket.socket, mode: str) -> None:
        first = True
        try:
            while not self._stopping.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if mode == "delay" and first:
                    self._stopping.wait(self.delay)
                first = False
                if mode == "trickle":
                    for i in range(len(data)):
                        if self._stopping.wait(1.0 / self.rate):
                            return
                        sink.sendall(data[i : i + 1])
                else:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()

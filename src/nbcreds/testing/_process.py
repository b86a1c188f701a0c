"""What every test server shares: start a subprocess, wait until it is ready within a
bounded deadline, stop it by PID (SIGTERM, then SIGKILL), remove its temporary dir.

- :class:`ServerProcess`: one subprocess, its output appended to a log file.
- :func:`wait_until`: poll a probe until it says ready, the process exits, or the
  deadline passes (each of the last two raises the caller's own error).
- :class:`ManagedServer`: the lifecycle of a server object (``start`` / ``stop`` /
  ``close``, ``with`` that cleans up when ``start`` fails) and its temporary directory.

By PID (or by the process group a server started with ``start_new_session``
shares with its children), never by name, so nothing else on the machine is
touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = [
    "ManagedServer",
    "ServerProcess",
    "kill_process",
    "port_open",
    "stop_process",
    "wait_until",
]


def stop_process(
    process: subprocess.Popen[Any],
    *,
    timeout: float,
    kill_timeout: float = 10.0,
    group: bool = False,
) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then :func:`kill_process`.

    ``group``: signal the whole process group led by ``process``.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        _signal(process, signal.SIGTERM, group)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process(process, timeout=kill_timeout, group=group)


def kill_process(
    process: subprocess.Popen[Any], *, timeout: float = 10.0, group: bool = False
) -> None:
    """SIGKILL and reap, waiting up to ``timeout`` seconds.

    A lone process is signalled only while it has not been reaped (after that its
    PID may belong to another process); a group always, since its other members
    may outlive the leader.
    """
    if group or process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            _signal(process, signal.SIGKILL, group)
        process.wait(timeout=timeout)


def _signal(process: subprocess.Popen[Any], signum: signal.Signals, group: bool) -> None:
    if group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    on_timeout: Callable[[], BaseException],
    process: subprocess.Popen[Any] | None = None,
    on_exit: Callable[[int], BaseException] | None = None,
    interval: float = 0.05,
    backoff: float = 1.0,
    max_interval: float = 0.5,
) -> None:
    """Call ``ready()`` until it returns true, at most ``timeout`` seconds.

    Before each try: when ``process`` has exited, raise ``on_exit(returncode)``. After
    the deadline, raise ``on_timeout()``. Between tries sleep ``interval`` seconds,
    multiplied by ``backoff`` each time up to ``max_interval``.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        if process is not None and process.poll() is not None:
            if on_exit is None:
                raise on_timeout()
            raise on_exit(process.returncode)
        if ready():
            return
        if time.monotonic() > deadline:
            raise on_timeout()
        time.sleep(delay)
        delay = min(delay * backoff, max(max_interval, interval))


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ServerProcess:
    """One server subprocess, started with its output appended to ``log`` (or to
    ``stdout`` when there is no log), stopped by PID.

    ``group=True`` starts it in a new session and signals its whole process group
    (a Jupyter server and the kernels it started).
    """

    def __init__(self, *, group: bool = False) -> None:
        self.group = group
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(
        self,
        args: Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``args``; the log file is opened for appending (a restart keeps the
        earlier runs' output) and closed in this process once the child holds it."""
        out: IO[bytes] | None = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            out = log.open("ab")
        try:
            self.process = subprocess.Popen(
                list(args),
                stdin=stdin,
                stdout=out if out is not None else stdout,
                stderr=subprocess.STDOUT if out is not None else subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=self.group,
            )
        finally:
            if out is not None:
                out.close()
        return self.process

    def wait_ready(
        self,
        ready: Callable[[], bool],
        *,
        timeout: float,
        on_timeout: Callable[[], BaseException],
        on_exit: Callable[[int], BaseException] | None = None,
        interval: float = 0.05,
        backoff: float = 1.0,
        max_interval: float = 0.5,
    ) -> None:
        """:func:`wait_until` ``ready()``, failing early when this process exits."""
        wait_until(
            ready,
            timeout=timeout,
            on_timeout=on_timeout,
            process=self.process,
            on_exit=on_exit,
            interval=interval,
            backoff=backoff,
            max_interval=max_interval,
        )

    def stop(self, *, timeout: float = 10.0, kill_timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; closes its pipes."""
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, timeout=timeout, kill_timeout=kill_timeout, group=self.group)
            _close_pipes(process)

    def kill(self, *, timeout: float = 10.0) -> None:
        """SIGKILL at once (a start that failed)."""
        process, self.process = self.process, None
        if process is not None:
            kill_process(process, timeout=timeout, group=self.group)
            _close_pipes(process)


def _close_pipes(process: subprocess.Popen[Any]) -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class ManagedServer:
    """The lifecycle of a test server: :meth:`start` (returns ``self``), :meth:`stop`,
    :meth:`close` (stop and remove the temporary directory).

    ``with server:`` starts it and closes it afterwards, and also when ``start``
    fails half-way (a process started, a directory made), so nothing is left behind.
    """

    _workdir: Path | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server and remove its temporary directory."""
        self.stop()
        self._remove_workdir()

    def _make_workdir(self, prefix: str, mode: int | None = None) -> Path:
        """The server's own temporary directory (made once; :meth:`close` removes it)."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=prefix))
            if mode is not None:
                self._workdir.chmod(mode)
        return self._workdir

    def _remove_workdir(self) -> None:
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

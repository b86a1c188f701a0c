"""Stopping the test servers' subprocesses by PID: SIGTERM, then SIGKILL.

By PID (or by the process group a server started with ``start_new_session``
shares with its children), never by name, so nothing else on the machine is
touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

__all__ = ["kill_process", "stop_process"]


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

"""``nbcreds.comm`` in a real ipykernel, spoken to over ZMQ like JupyterLab does."""

from __future__ import annotations

import os
import queue
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from nbcreds.testing.leaks import assert_no_leak

SECRET_VALUE = "kernel-side-secret-4b7c1a"
TIMEOUT = 60


@pytest.fixture
def kernel(isolated_nbcreds: Path) -> Iterator[tuple[KernelManager, Any]]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(isolated_nbcreds), env=dict(os.environ))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _execute(kc: Any, code: str) -> list[dict[str, Any]]:
    """Run code; return the iopub messages it caused (until the kernel is idle)."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:  # e.g. kernel_info's reply
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"]["status"] == "ok", reply["content"].get("evalue")
    return _iopub_until_idle(kc, msg_id)


def _iopub_until_idle(kc: Any, parent_id: str) -> list[dict[str, Any]]:
    messages = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != parent_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError("the kernel did not become idle")


def _comm_open(kc: Any, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    comm_id = uuid.uuid4().hex
    msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "nbcreds.comm", "data": data}
    )
    kc.shell_channel.send(msg)
    return comm_id, _iopub_until_idle(kc, msg["header"]["msg_id"])


def _comm_send(kc: Any, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    kc.shell_channel.send(msg)
    return _iopub_until_idle(kc, msg["header"]["msg_id"])


def _reply(msgs: list[dict[str, Any]]) -> dict[str, Any]:
    """The reply among a request's messages (live events may come in between)."""
    found: dict[str, Any] = next(
        m["content"]["data"]
        for m in msgs
        if m["msg_type"] == "comm_msg" and "id" in m["content"]["data"]
    )
    return found


def _events_until(kc: Any, comm_id: str, what: str) -> list[dict[str, Any]]:
    """Read iopub (any parent) until a live ``changed`` event naming ``what`` reaches
    ``comm_id``; the events seen. Bounded by TIMEOUT."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["msg_type"] != "comm_msg" or msg["content"].get("comm_id") != comm_id:
            continue
        data = msg["content"]["data"]
        if data.get("event") == "changed":
            seen.append(data)
            if what in data.get("what", []):
                return seen
    raise AssertionError(f"no live 'changed' event naming {what!r}; saw {seen}")


def _drain(kc: Any) -> None:
    try:
        while True:
            kc.get_iopub_msg(timeout=0.5)
    except queue.Empty:
        pass


@pytest.mark.slow
def test_comm_target_in_a_real_kernel(kernel: tuple[KernelManager, Any]) -> None:
    _km, kc = kernel
    _drain(kc)

    # Before %load_ext: the kernel has no such target and closes the comm.
    _, msgs = _comm_open(kc, {"v": 1, "id": 1, "op": "state"})
    assert "comm_close" in [m["msg_type"] for m in msgs]

    # %load_ext announces nbcreds with a kernel-opened comm carrying the state.
    msgs = _execute(
        kc,
        f"%load_ext nbcreds\nimport nbcreds as nc\nnc.use_namespace('acme')\n"
        f"nc.bind_secret('KERNEL_SECRET', {SECRET_VALUE!r})\nnc.set_kv('cursor', 41)",
    )
    opens = [m for m in msgs if m["msg_type"] == "comm_open"]
    assert len(opens) == 1
    assert opens[0]["content"]["target_name"] == "nbcreds.comm"
    assert opens[0]["content"]["data"] == {"v": 1, "event": "loaded"}

    # The panel's own comm: the open data is a state request, answered at once.
    comm_id, msgs = _comm_open(kc, {"v": 1, "id": 1, "op": "state"})
    replies = [
        m["content"]["data"]
        for m in msgs
        if m["msg_type"] == "comm_msg" and "id" in m["content"]["data"]
    ]
    assert [r["id"] for r in replies] == [1]
    state = replies[0]["result"]
    assert state["namespace"] == "acme"
    assert [s["name"] for s in state["secrets"]] == ["KERNEL_SECRET"]
    assert [k["key"] for k in state["kv"]] == ["cursor"]

    msgs = _comm_send(
        kc,
        comm_id,
        {"v": 1, "id": 2, "op": "kv_set", "key": "cursor", "value": 42, "type": "NUMBER"},
    )
    reply = _reply(msgs)
    assert reply["ok"] is True
    out = _execute(kc, "print(nc.kv('cursor') + 1)")
    assert [m["content"]["text"] for m in out if m["msg_type"] == "stream"] == ["43\n"]

    msgs = _comm_send(kc, comm_id, {"v": 1, "id": 3, "op": "kv_get", "key": 5})
    reply = _reply(msgs)
    assert reply["ok"] is False
    assert reply["error"]["type"] == "BadRequest"

    # Watching: after a cell, the panel is told to refresh; its state request
    # then sees what the cell did.
    _comm_send(kc, comm_id, {"v": 1, "id": 4, "op": "watch", "enabled": True})
    out = _execute(kc, f"nc.bind_secret('SECOND', {SECRET_VALUE + '2'!r})")
    pushed = [
        m["content"]["data"]
        for m in out
        if m["msg_type"] == "comm_msg" and m["content"].get("comm_id") == comm_id
    ]
    assert {"v": 1, "event": "changed"} in pushed  # the cell ended
    msgs = _comm_send(kc, comm_id, {"v": 1, "id": 5, "op": "state"})
    state = _reply(msgs)["result"]
    assert {s["name"] for s in state["secrets"]} == {"KERNEL_SECRET", "SECOND"}

    # %unload_ext closes the panel's comm; nothing on the wire held a value.
    out = _execute(kc, "%unload_ext nbcreds")
    assert comm_id in [m["content"]["comm_id"] for m in out if m["msg_type"] == "comm_close"]
    everything = repr(msgs) + repr(out) + repr(replies) + repr(pushed)
    assert_no_leak(everything, [SECRET_VALUE, SECRET_VALUE + "2"])


@pytest.mark.slow
def test_live_events_from_this_kernel_and_from_another_process(
    kernel: tuple[KernelManager, Any], isolated_nbcreds: Path
) -> None:
    """A watching panel hears a change at once, with no cell ending and no request of its
    own: a KV write from a thread of this kernel, a namespace switch, and a KV write by
    another process on the same SQLite file (``PRAGMA data_version``)."""
    import subprocess
    import sys

    _km, kc = kernel
    _drain(kc)
    _execute(kc, "%load_ext nbcreds\nimport nbcreds as nc\nnc.use_namespace('acme')")
    comm_id, msgs = _comm_open(kc, {"v": 1, "id": 1, "op": "watch", "enabled": True})
    assert _reply(msgs)["result"] == {"watching": True}
    _drain(kc)

    # a background thread writes: no cell ends, the event still comes
    _execute(
        kc,
        "import threading; threading.Timer(1.0, lambda: nc.set_kv('from_thread', 1)).start()",
    )
    events = _events_until(kc, comm_id, "kv")
    # each event carries the state, so the panel sends no request (names, never values)
    assert all(set(e) == {"v", "event", "what", "state"} for e in events)
    assert "from_thread" in {k["key"] for k in events[-1]["state"]["kv"]}

    # another process writes the same store: the watcher's poll sees it
    code = "import nbcreds as nc; nc.use_namespace('acme'); nc.set_kv('from_outside', 7)"
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=isolated_nbcreds,
        env=dict(os.environ),
        check=True,
        timeout=TIMEOUT,
    )
    events = _events_until(kc, comm_id, "kv")
    assert "from_outside" in {k["key"] for k in events[-1]["state"]["kv"]}
    msgs = _comm_send(kc, comm_id, {"v": 1, "id": 2, "op": "state"})
    assert {"from_thread", "from_outside"} <= {k["key"] for k in _reply(msgs)["result"]["kv"]}

    # a namespace switch from a thread, then closing the comm ends the watcher thread
    _execute(kc, "threading.Timer(0.5, lambda: nc.use_namespace('acme.team')).start()")
    _events_until(kc, comm_id, "namespace")
    out = _execute(
        kc,
        "%unload_ext nbcreds\nimport time; time.sleep(1.5)\n"
        "print(sorted(t.name for t in threading.enumerate() "
        "if t.name.startswith('nbcreds-comm')))",
    )
    assert [m["content"]["text"] for m in out if m["msg_type"] == "stream"] == ["[]\n"]


def _pushed_state_until(
    kc: Any, comm_id: str, cell_id: str, wanted: Any, what: str
) -> dict[str, Any]:
    """Read iopub (any parent) until a live event to ``comm_id`` carries a state for
    which ``wanted(state)`` holds; that state. Fails if the cell ``cell_id`` ended
    first (its ``idle`` status came): the state must arrive while the cell runs."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        content = msg["content"]
        if msg["parent_header"].get("msg_id") == cell_id:
            assert msg["msg_type"] != "error", content
            assert content.get("execution_state") != "idle", f"the cell ended before {what}"
        if msg["msg_type"] != "comm_msg" or content.get("comm_id") != comm_id:
            continue
        state = content["data"].get("state")
        if state is not None and wanted(state):
            found: dict[str, Any] = state
            return found
    raise AssertionError(f"no pushed state with {what}")


#: a cell that makes one change, waits for the test to open its gate, and so on: the
#: kernel is busy (shell channel blocked) for as long as the test looks
BUSY_CELL = """\
import pathlib, time
def wait(gate):
    end = time.monotonic() + {bound}
    while not pathlib.Path(gate).exists() and time.monotonic() < end:
        time.sleep(0.05)
nc.set_kv('while_busy', 1); wait('go1')
nc.bind_secret('BUSY_SECRET', {secret!r}); wait('go2')
nc.use_namespace('acme.team'); wait('go3')
"""


@pytest.mark.slow
def test_a_running_cell_s_changes_reach_the_panel_with_the_state(
    kernel: tuple[KernelManager, Any], isolated_nbcreds: Path
) -> None:
    """Issue 15: a cell that changes a KV key, a binding, the namespace and then keeps
    running -- each change reaches a watching panel as a state while the shell is
    still busy (a state request of the panel's own would wait for the cell's end),
    and so does another process's write to the same store."""
    import subprocess
    import sys

    _km, kc = kernel
    _drain(kc)
    _execute(kc, "%load_ext nbcreds\nimport nbcreds as nc\nnc.use_namespace('acme')")
    comm_id, msgs = _comm_open(kc, {"v": 1, "id": 1, "op": "watch", "enabled": True})
    assert _reply(msgs)["result"] == {"watching": True}
    _drain(kc)

    cell = kc.execute(BUSY_CELL.format(bound=TIMEOUT * 2, secret=SECRET_VALUE))
    states = [
        _pushed_state_until(
            kc, comm_id, cell, lambda s: "while_busy" in {k["key"] for k in s["kv"]}, "the key"
        )
    ]
    (isolated_nbcreds / "go1").touch()
    states.append(
        _pushed_state_until(
            kc,
            comm_id,
            cell,
            lambda s: "BUSY_SECRET" in {r["name"] for r in s["secrets"]},
            "the binding",
        )
    )
    (isolated_nbcreds / "go2").touch()
    states.append(
        _pushed_state_until(
            kc, comm_id, cell, lambda s: s["namespace"] == "acme.team", "the namespace"
        )
    )
    # another process writes the store while this kernel's cell still runs
    code = "import nbcreds as nc; nc.use_namespace('acme.team'); nc.set_kv('outside_busy', 2)"
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=isolated_nbcreds,
        env=dict(os.environ),
        check=True,
        timeout=TIMEOUT,
    )
    states.append(
        _pushed_state_until(
            kc,
            comm_id,
            cell,
            lambda s: "outside_busy" in {k["key"] for k in s["kv"]},
            "another process's key",
        )
    )
    (isolated_nbcreds / "go3").touch()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != cell:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"]["status"] == "ok", reply["content"].get("evalue")
    assert [s["seq"] for s in states] == sorted({s["seq"] for s in states})
    assert_no_leak(repr(states), [SECRET_VALUE])
    _execute(kc, "%unload_ext nbcreds")


@pytest.mark.slow
def test_load_ext_in_a_real_kernel_stays_light(kernel: tuple[KernelManager, Any]) -> None:
    """In a kernel (comm registered, sign-in changes watched) %load_ext imports neither
    the credentials package, the session nor a matcher backend (issue 18 item 7)."""
    _km, kc = kernel
    _drain(kc)
    heavy = ["nbcreds.credentials", "nbcreds._session", "nbcreds.config", "hyperscan"]
    out = _execute(
        kc,
        f"%load_ext nbcreds\nimport sys\nprint(sorted(m for m in {heavy!r} if m in sys.modules))",
    )
    assert [m["content"]["text"] for m in out if m["msg_type"] == "stream"] == ["[]\n"]

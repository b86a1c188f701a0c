"""Live widgets (#15 item 1): every widget follows the core's change events -- from code
on any thread, from the sidebar's comm, from another widget, from another process
writing the same KV store -- without Refresh; a closed widget stops following and
leaves nothing behind (no listener, no thread, no reference)."""

from __future__ import annotations

import gc
import json
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

import nbcreds as nc
import nbcreds._session
from nbcreds.widgets import credential_setup, kv_editor, namespace_picker, secret_binder
from nbcreds.widgets._live import HUB

from .conftest import execute_with_widget_state

#: a bound for a condition to come true on a loaded machine (not a timing threshold:
#: the tests wait for a state, and only fail if it never comes)
BOUND = 30.0


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_kv_editor_follows_a_write_from_another_thread(live: Any) -> None:
    nc.use_namespace("acme")
    editor = kv_editor()
    assert editor.cells == {}
    writer = threading.Thread(target=lambda: nc.set_kv("from_thread", 5))
    writer.start()
    writer.join()
    assert eventually(lambda: editor.cells.get("from_thread", [""])[0] == "NUMBER")
    assert "<td>from_thread</td>" in editor.table.value
    assert editor.pick.value == "from_thread"


def test_widgets_follow_the_sidebar(live: Any) -> None:
    """The sidebar's comm writes through the same facade: the widgets show it."""
    from nbcreds.comm import handle

    nc.use_namespace("acme")
    editor, picker = kv_editor(), namespace_picker()
    reply = handle(
        {"v": 1, "id": 1, "op": "kv_set", "key": "from_sidebar", "value": 3, "type": "NUMBER"}
    )
    assert reply["ok"], reply
    assert eventually(lambda: "from_sidebar" in editor.cells)
    reply = handle({"v": 1, "id": 2, "op": "use_namespace", "namespace": "acme.ops"})
    assert reply["ok"], reply
    assert eventually(lambda: picker.dropdown.value == "acme.ops")
    assert eventually(lambda: "KV of namespace acme.ops" in editor.table.value)
    assert editor.cells == {}  # the other namespace's keys


def test_binder_and_form_follow_a_binding_made_in_code(live: Any) -> None:
    binder, form = secret_binder(), credential_setup()
    nc.bind_secret("FROM_CODE", "c0de-bound-value-1")
    assert eventually(lambda: "FROM_CODE" in binder.listing.value)
    secret = form.fields["client_secret"].input
    assert eventually(lambda: "FROM_CODE" in [v for _, v in secret.options])


def test_a_test_result_is_cleared_when_a_secret_is_bound_again(live: Any) -> None:
    form = credential_setup()
    form.name.value = "c"
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    form.fields["client_id"].input.value = "app"
    nc.bind_secret("S", "first-value-123456")
    assert eventually(lambda: "S" in [v for _, v in form.fields["client_secret"].input.options])
    form.fields["client_secret"].input.value = "S"
    assert form.test() is False
    assert "Test failed" in form.message.value
    nc.bind_secret("S", "second-value-654321")  # the input the result was about changed
    assert eventually(lambda: form.message.value == "")


def test_kv_editor_says_when_the_key_being_edited_changes(live: Any) -> None:
    nc.use_namespace("acme")
    nc.set_kv("k", "a")
    editor = kv_editor()
    editor.start_edit("k")
    nc.set_kv("k", "b")
    assert eventually(lambda: "changed since you opened it" in editor.message.value)
    assert editor.form_open  # what the user typed is kept
    assert editor.save() is False  # and Save still refuses to overwrite
    assert nc.kv("k") == "b"


def test_a_closed_widget_stops_following_and_is_collected(live: Any) -> None:
    nc.use_namespace("acme")
    editor = kv_editor()
    assert editor in HUB.panels
    assert HUB.hear in nbcreds._session._SESSION._listeners
    gone = weakref.ref(editor)
    editor.close()
    assert HUB.panels == []
    del editor
    gc.collect()
    assert gone() is None  # neither the hub nor the core listener kept it
    assert HUB.wait_stopped()
    assert HUB.hear not in nbcreds._session._SESSION._listeners
    nc.set_kv("after", 1)  # nobody listens: nothing to deliver, nothing fails
    assert not HUB.running


def test_held_changes_are_delivered_when_the_hold_ends(live: Any) -> None:
    nc.use_namespace("acme")
    editor = kv_editor()
    with HUB.hold():
        nc.set_kv("held", 1)
        time.sleep(3 * 0.5)  # the thread wakes and polls meanwhile, but delivers nothing
        assert "held" not in editor.cells
    assert eventually(lambda: "held" in editor.cells)


# ------------------------------------------------------------------ a real kernel

SHOW = """
import nbcreds as nc
from nbcreds.widgets import kv_editor, secret_binder
nc.use_namespace("acme")
editor, binder = kv_editor(), secret_binder()
display(editor, binder)
"""

BUSY = """
import threading, time
from nbcreds.comm import handle
from nbcreds.widgets._live import HUB
# while this cell keeps the shell busy: a write from a thread, one the sidebar's comm
# makes, a binding; the widgets update from the hub's thread, over iopub
threading.Timer(0.2, lambda: nc.set_kv("from_thread", 1)).start()
threading.Timer(0.4, lambda: handle({"v": 1, "id": 1, "op": "kv_set", "key": "from_sidebar",
                                     "value": "x", "type": "STRING"})).start()
threading.Timer(0.6, lambda: nc.bind_secret("LIVE_SECRET", "l1ve-kernel-value-1")).start()
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (
    {"from_thread", "from_sidebar"} <= set(editor.cells) and "LIVE_SECRET" in binder.listing.value
):
    time.sleep(0.05)
print("SEEN", sorted(editor.cells), "LIVE_SECRET" in binder.listing.value)
"""

CLOSE = """
import nbcreds._session
editor.close(); binder.close()
print("STOPPED", HUB.wait_stopped(), HUB.hear in nbcreds._session._SESSION._listeners)
"""


@pytest.mark.slow
def test_in_a_real_kernel_updates_reach_the_frontend_during_a_busy_cell(
    isolated_nbcreds: Path,
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SHOW, BUSY, CLOSE)]
    execute_with_widget_state(nb, isolated_nbcreds)
    out = "".join(o.get("text", "") for c in nb.cells for o in c.outputs)
    assert "SEEN ['from_sidebar', 'from_thread'] True" in out, out
    assert "STOPPED True False" in out, out
    # what the frontend received (nbclient keeps the state the kernel sent on iopub)
    state = json.dumps(nb.metadata["widgets"])
    assert "<td>from_thread</td>" in state
    assert "<td>from_sidebar</td>" in state
    assert "LIVE_SECRET" in state
    assert "l1ve-kernel-value-1" not in state

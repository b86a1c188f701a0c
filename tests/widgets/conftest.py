"""Widget test fixtures: a recording comm (every kernel -> frontend message), a
way to play the browser (send a frontend update), the saved widget state, and
a real local OAuth2 server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import comm
import ipywidgets as w
import pytest
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps every message the kernel would send to the frontend."""

    sent: ClassVar[list[dict[str, Any]]] = []

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        RecordingComm.sent.append(
            {
                "msg_type": msg_type,
                "data": data,
                "metadata": metadata,
                "buffers": [bytes(b) for b in buffers or []],
            }
        )


def execute_with_widget_state(nb: Any, path: Path) -> None:
    """Run ``nb`` in a real python3 kernel in ``path``, storing the widget state the way
    a saved notebook holds it (nbclient, as a frontend would)."""
    from nbclient import NotebookClient

    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path)}},
    ).execute()


@pytest.fixture(autouse=True)
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Record comm traffic; close every widget afterwards and check that no timer, no
    live-update thread and no change listener survives them."""
    import nbcreds._session
    from nbcreds.widgets._live import HUB

    RecordingComm.sent = []
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    yield RecordingComm.sent
    w.Widget.close_all()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("nbcreds-dashboard")]
    assert not alive, f"timer threads left running: {alive}"
    assert HUB.panels == []
    assert HUB.wait_stopped(), "the widgets' live-update thread outlived them"
    assert HUB.hear not in nbcreds._session._SESSION._listeners


@pytest.fixture(autouse=True)
def still(request: pytest.FixtureRequest) -> Iterator[None]:
    """Widgets render when the test says, not when a live update lands: changes are
    held for the test (and delivered after it). Tests of live updates ask for ``live``."""
    from nbcreds.widgets._live import HUB

    if "live" in request.fixturenames:
        yield
        return
    with HUB.hold():
        yield


@pytest.fixture
def live() -> Any:
    """Live updates on (as in a kernel): the hub's thread delivers changes at once."""
    from nbcreds.widgets._live import HUB

    return HUB


def frontend_update(widget: Any, **state: Any) -> None:
    """Play the browser: the frontend sends new trait values for ``widget``."""
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": [],
        }
    )


def comm_traffic(sent: list[dict[str, Any]]) -> str:
    """All recorded kernel -> frontend messages as one text (buffers decoded leniently)."""
    parts = [json.dumps(m["data"], default=str) for m in sent]
    parts += [b.decode("utf-8", "replace") for m in sent for b in m["buffers"]]
    return "\n".join(parts)


def saved_widget_state() -> str:
    """The widget state exactly as a notebook saves it in its metadata."""
    state = w.Widget.get_manager_state(drop_defaults=False)
    return json.dumps({"application/vnd.jupyter.widget-state+json": state})


@pytest.fixture
def type_in() -> Any:
    """``type_in(widget, value)``: the user types ``value`` and the browser syncs it."""
    return lambda widget, value: frontend_update(widget, value=value)


@pytest.fixture
def everything_sent(recorded: list[dict[str, Any]]) -> Any:
    """``everything_sent()``: the saved widget state plus all comm traffic, as text."""
    return lambda: saved_widget_state() + "\n" + comm_traffic(recorded)


@pytest.fixture(scope="session")
def openbao(openbao_lab: Any) -> Any:
    """The session's OpenBao dev server (KV v2 at ``secret``), shared with the other tests."""
    return openbao_lab.server

"""``dashboard()``: namespace picker over tabs (credentials, secrets, KV).

The credentials tab lists every credential visible from the current
namespace with its token status and a countdown to expiry. A daemon thread
re-renders the countdowns once a second; it stops when the dashboard is
closed (``close()``, ``Widget.close_all()``) -- it also notices a comm closed
behind its back -- so no thread outlives the widget.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

import nbcreds as nc

from ._common import Panel, close_tree, countdown, error_text, level_label, safe_call, status
from ._credential_setup import CredentialSetup
from ._kv_editor import KVEditor
from ._namespace import NamespacePicker
from ._secret_binder import SecretBinder

__all__ = ["CredentialList", "Dashboard", "dashboard"]

_COLS = {"name": "180px", "type": "200px", "level": "140px", "status": "140px", "expiry": "170px"}


_USER_TYPES = ("oauth2_device_code", "oauth2_authorization_code", "oauth2_refresh_token")


def _login_text(row: Any) -> str | None:
    """A user sign-in's state: the link and code while pending; None for other types."""
    if str(getattr(row, "type", "")) not in _USER_TYPES:
        return None
    try:
        state = nc.login_state(str(row.name))
    except nc.NbcredsError:
        return None
    if state.status == "pending":
        link = state.verification_uri_complete or state.verification_uri or state.authorization_url
        shown = html.escape(link or "")
        parts = [f'sign in: <a href="{shown}" target="_blank" rel="noopener">open</a>']
        if state.user_code:
            parts.append(f"code <code>{html.escape(state.user_code)}</code>")
        return ", ".join(parts)
    if state.status == "signed_in":
        return f"signed in · {row.status}"
    if state.status == "configured":
        return None
    return "not signed in"


def _status_text(row: Any) -> str:
    """The sign-in state for user sign-ins, else the one token vocabulary
    (``valid · expires in 59 min`` / ``expired`` / ``not fetched yet`` / ``failed: …``)."""
    login = _login_text(row)
    if login is not None:
        return login
    return str(row.status)


class _Row:
    """The widgets of one credential row (kept so the timer only touches two HTMLs)."""

    def __init__(self, row: Any, owner: CredentialList) -> None:
        self.name = str(row.name)
        self.level: str | None = row.level
        self.expires_at: Any = getattr(row, "expires_at", None)
        self.status = w.HTML(layout=w.Layout(width=_COLS["status"]))
        self.expiry = w.HTML(layout=w.Layout(width=_COLS["expiry"]))
        test = w.Button(description="Test", icon="plug", layout=w.Layout(width="80px"))
        edit = w.Button(description="Edit", icon="edit", layout=w.Layout(width="80px"))
        test.on_click(lambda _: owner.test(self.name))
        edit.on_click(lambda _: owner.edit(self.name, self.level))
        where = level_label(row.level) + (" (inherited)" if row.inherited else "")
        self.box = w.HBox(
            [
                w.Label(self.name, layout=w.Layout(width=_COLS["name"])),
                w.Label(str(row.type), layout=w.Layout(width=_COLS["type"])),
                w.Label(where, layout=w.Layout(width=_COLS["level"])),
                self.status,
                self.expiry,
                test,
                edit,
            ]
        )
        self.update(row)

    def update(self, row: Any, now: float | None = None) -> None:
        self.expires_at = getattr(row, "expires_at", None)
        status_value = _status_text(row)
        expiry_value = countdown(self.expires_at, now) if row.cached else ""
        # assign only on change: each assignment is a comm message
        if self.status.value != status_value:
            self.status.value = status_value
        if self.expiry.value != expiry_value:
            self.expiry.value = expiry_value


class CredentialList(Panel):
    """Credentials visible from the current namespace: type, level, token status, expiry."""

    def __init__(self, setup: CredentialSetup | None = None) -> None:
        self.setup = setup
        self.rows: dict[str, _Row] = {}
        self.table = w.VBox()
        self.message = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self._lock = threading.RLock()
        header = w.HBox(
            [
                w.HTML(f"<b>{name}</b>", layout=w.Layout(width=width))
                for name, width in _COLS.items()
            ]
        )
        super().__init__([self.refresh_button, header, self.table, self.message])
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from :func:`nbcreds.list_credentials`."""
        with self._lock:
            ok, listing = safe_call(self.message, nc.list_credentials)
            if not ok:
                return
            old = list(self.table.children)
            self.rows = {str(r.name): _Row(r, self) for r in listing}
            self.table.children = [r.box for r in self.rows.values()] or [
                w.HTML("<i>no credentials visible from the current namespace</i>")
            ]
            for box in old:
                close_tree(box)

    def tick(self, now: float | None = None) -> None:
        """Update status and countdowns (called every second by the dashboard's timer)."""
        with self._lock:
            listing = nc.list_credentials()
            if {str(r.name) for r in listing} != set(self.rows):
                self.refresh()
                return
            for row in listing:
                self.rows[str(row.name)].update(row, now)

    def test(self, name: str) -> bool:
        """Request a token for ``name``; show success or the server's message."""
        ok, result = safe_call(self.message, lambda: nc.test_credential(name))
        if not ok:
            return False
        kind = "ok" if result.success else "error"
        status(self.message, kind, f"{name}: {result.message}")
        safe_call(self.message, self.tick)
        return bool(result.success)

    def edit(self, name: str, level: str | None) -> None:
        if self.setup is not None:
            self.setup.load(name, level)


class Dashboard(Panel):
    """Namespace picker, then tabs: Credentials (list + setup), Secrets, KV."""

    def __init__(self, interval: float | None = 1.0) -> None:
        self.picker = NamespacePicker()
        self.setup = CredentialSetup()
        self.credentials = CredentialList(self.setup)
        self.binder = SecretBinder()
        self.kv = KVEditor()
        self.message = w.HTML()
        self.tabs = w.Tab(
            children=[
                w.VBox([self.credentials, w.HTML("<hr><b>New / edit credential</b>"), self.setup]),
                self.binder,
                self.kv,
            ]
        )
        for index, title in enumerate(["Credentials", "Secrets", "KV store"]):
            self.tabs.set_title(index, title)
        super().__init__([self.picker, self.tabs, self.message])
        self.picker.on_change(lambda _: self.refresh())
        self.setup.on_saved(self.refresh)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval is not None:
            self.start_timer(interval)

    def refresh(self) -> None:
        """Reload every tab (after a namespace change or a save)."""
        self.picker.refresh()
        self.credentials.refresh()
        self.setup.refresh()
        self.binder.refresh()
        self.kv.refresh()

    def tick(self) -> None:
        """One timer step: update the credential countdowns."""
        self.credentials.tick()

    @property
    def timer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_timer(self, interval: float = 1.0) -> None:
        """Start the countdown thread (one per dashboard)."""
        if self.timer_alive:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="nbcreds-dashboard-timer", daemon=True
        )
        self._thread.start()

    def stop_timer(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None

    def close(self) -> None:
        """Stop the timer, then close this widget and everything in it."""
        self.stop_timer()
        super().close()

    def _run(self, interval: float) -> None:
        failed = False
        while not self._stop.wait(interval):
            if self.comm is None:  # closed without close() (e.g. the comm went away)
                return
            try:
                self.tick()
                if failed:
                    status(self.message, "", "")
                    failed = False
            except Exception as exc:  # a timer must never die with an unraisable error
                if not failed:
                    status(self.message, "error", f"countdown paused: {error_text(exc)}")
                    failed = True


def dashboard(interval: float | None = 1.0) -> Dashboard:
    """The namespace picker, credentials (list, countdown, setup), secrets and KV in tabs.

    ``interval``: seconds between countdown updates; ``None`` starts no timer.
    """
    return Dashboard(interval)

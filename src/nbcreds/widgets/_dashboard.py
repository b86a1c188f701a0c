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

from ._common import (
    Markup,
    Panel,
    Parts,
    countdown,
    error_text,
    level_label,
    locked,
    safe_call,
    status,
    table_html,
)
from ._credential_setup import CredentialSetup
from ._kv_editor import KVEditor
from ._namespace import NamespacePicker
from ._secret_binder import SecretBinder

__all__ = ["CredentialList", "Dashboard", "dashboard"]


def _login_text(row: Any) -> Markup | None:
    """A user sign-in's state (the link and code while pending); None for the types
    without a sign-in (:func:`nbcreds.login_state` knows which types have one)."""
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
        return Markup(", ".join(parts))
    if state.status == "signed_in":
        return Markup(html.escape(f"signed in \u00b7 {row.status}"))
    if state.status in ("", "configured"):
        return None
    return Markup("not signed in")


def _status_text(row: Any) -> str:
    """The sign-in state for user sign-ins, else the one token vocabulary
    (``valid · expires in 59 min`` / ``expired`` / ``not fetched yet`` / ``failed: …``)."""
    login = _login_text(row)
    if login is not None:
        return login
    return str(row.status)


_HEADERS = ["name", "type", "level", "status", "expiry"]


def _cells(row: Any, now: float | None) -> list[str]:
    where = level_label(row.level) + (" (inherited)" if row.inherited else "")
    expiry = countdown(getattr(row, "expires_at", None), now) if row.cached else ""
    return [str(row.name), str(row.type), where, _status_text(row), expiry]


class CredentialList(Panel):
    """Credentials visible from the current namespace: type, level, token status, expiry.

    The list is one ``HTML`` table (re-rendered only when its text changes), and one
    credential picker with **Test** and **Edit**: a fixed handful of widget models
    however many credentials there are. It follows tokens minted, refreshed, failed or
    tested anywhere, and namespace or config changes (no Refresh)."""

    LIVE = frozenset({"credential", "namespace", "config", "secret"})

    def __init__(self, setup: CredentialSetup | None = None) -> None:
        parts = Parts.shared()
        self.setup = setup
        self.names: list[tuple[str, str | None]] = []  # (name, level) in table order
        #: name -> the table's other cells as shown (type, level, status, expiry)
        self.cells: dict[str, list[str]] = {}
        self.table = parts.html()
        self.message = parts.html()
        self.pick = parts.dropdown("Credential", options=[("\u2014", "")])
        self.test_button = parts.button(
            "Test", icon="plug", tooltip="Request a fresh token for the chosen credential"
        )
        self.edit_button = parts.button(
            "Edit", icon="edit", tooltip="Load the chosen credential into the form"
        )
        super().__init__(
            [
                self.table,
                self.pick,
                parts.row([self.test_button, self.edit_button]),
                self.message,
            ],
            parts,
        )
        self.test_button.on_click(lambda _: self._on_test())
        self.edit_button.on_click(lambda _: self._on_edit())
        self.refresh()
        self.go_live()

    @property
    def rows(self) -> dict[str, tuple[str, str | None]]:
        return {name: (name, level) for name, level in self.names}

    @locked
    def refresh(self, now: float | None = None) -> None:
        """Re-render the table from :func:`nbcreds.list_credentials`."""
        ok, listing = safe_call(self.message, nc.list_credentials)
        if not ok:
            return
        self._render(listing, now)

    def _render(self, listing: list[Any], now: float | None) -> None:
        cells = [_cells(r, now) for r in listing]
        self.cells = {row[0]: row[1:] for row in cells}
        text = table_html(_HEADERS, cells, "no credentials visible from the current namespace")
        if self.table.value != text:  # each assignment is a comm message
            self.table.value = text
        names = [(str(r.name), r.level) for r in listing]
        if names != self.names:
            self.names = names
            current = self.pick.value
            options = [(n, n) for n, _ in names] or [("\u2014", "")]
            self.pick.options = options
            values = [v for _, v in options]
            self.pick.value = current if current in values else values[0]

    @locked
    def tick(self, now: float | None = None) -> None:
        """Update status and countdowns (called every second by the dashboard's timer)."""
        self._render(nc.list_credentials(), now)

    @locked
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

    @locked
    def _on_test(self) -> None:
        if self.pick.value:
            self.test(self.pick.value)

    @locked
    def _on_edit(self) -> None:
        found = self.rows.get(self.pick.value)
        if found is not None:
            self.edit(*found)


class Dashboard(Panel):
    """Namespace picker, then tabs: Credentials (list + setup), Secrets, KV."""

    def __init__(self, interval: float | None = 1.0) -> None:
        self.picker = NamespacePicker()
        self.setup = CredentialSetup()
        self.credentials = CredentialList(self.setup)
        self.binder = SecretBinder()
        self.kv = KVEditor()
        parts = Parts.shared()
        self.message = parts.html()
        self.tabs = w.Tab(
            children=[
                w.VBox(
                    [self.credentials, parts.html("<b>New / edit credential</b>"), self.setup],
                    layout=parts.layout,
                ),
                self.binder,
                self.kv,
            ],
            layout=parts.layout,
        )
        for index, title in enumerate(["Credentials", "Secrets", "KV store"]):
            self.tabs.set_title(index, title)
        super().__init__([self.picker, self.tabs, self.message], parts)
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

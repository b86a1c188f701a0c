"""``kv_editor()``: the keys of the current namespace; add, edit, delete.

Values are passed to :func:`nbcreds.set_kv` with an explicit ``type``; the KV
store parses and checks them (a NUMBER typed as text, an ISO date...), so the
editor holds no parsing rules of its own. An edit is a compare-and-set on the
revision that was loaded, so two editors never overwrite each other silently,
and it keeps the key's expiry unless asked otherwise (Kestra #17353 reset it).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ipywidgets as w

import nbcreds as nc

from ._common import (
    Panel,
    QuietText,
    QuietTextarea,
    close_tree,
    countdown,
    remaining,
    safe_call,
    scrub,
    status,
)

__all__ = ["KV_TYPES", "KVEditor", "kv_editor"]

KV_TYPES = ["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]
_CELL = {"key": "220px", "type": "90px", "revision": "60px", "expires": "260px"}


def _cell(text: str, width: str) -> Any:
    return w.Label(text, layout=w.Layout(width=width))


class KVEditor(Panel):
    """A table of the current namespace's keys with an add/edit form."""

    def __init__(self) -> None:
        self.namespace_label = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.add_button = w.Button(description="Add key", icon="plus")
        self.table = w.VBox()
        self.confirm_box = w.HBox()
        self.message = w.HTML()
        # the form
        self.key = QuietText(description="Key", placeholder="last_run")
        self.type = w.Dropdown(description="Type", options=KV_TYPES, value="STRING")
        self.inputs: dict[str, Any] = {
            "STRING": QuietTextarea(description="Value", rows=2),
            "NUMBER": QuietText(description="Value", placeholder="42 or 3.14"),
            "BOOLEAN": w.Checkbox(description="Value (true when ticked)", indent=False),
            "DATETIME": QuietText(description="Value", placeholder="2024-05-01T12:00:00+00:00"),
            "DATE": w.DatePicker(description="Value"),
            "DURATION": QuietText(description="Value", placeholder="PT1H30M"),
            "JSON": QuietTextarea(description="Value", rows=4, placeholder='{"a": 1}'),
        }
        self.value_box = w.HBox([self.inputs["STRING"]])
        self.expiry = w.Dropdown(
            description="Expiry", options=[("no expiry", "none"), ("TTL", "ttl")], value="none"
        )
        self.ttl = QuietText(placeholder="PT1H, P1D", layout=w.Layout(width="140px"))
        self.description = QuietText(description="Description")
        self.save_button = w.Button(description="Save", button_style="primary", icon="save")
        self.cancel_button = w.Button(description="Cancel")
        self.form_title = w.HTML()
        self.form = w.VBox(
            [
                self.form_title,
                w.HBox([self.key, self.type]),
                self.value_box,
                w.HBox([self.expiry, self.ttl]),
                self.description,
                w.HBox([self.save_button, self.cancel_button]),
            ],
            layout=w.Layout(display="none"),
        )
        self._editing: Any = None  # the KVEntry being edited
        self._confirming: str | None = None  # the key whose deletion is being confirmed
        self.entries: list[Any] = []
        header = w.HBox(
            [
                w.HTML(f"<b>{name}</b>", layout=w.Layout(width=width))
                for name, width in _CELL.items()
            ]
        )
        super().__init__(
            [
                w.HBox([self.namespace_label, self.refresh_button, self.add_button]),
                header,
                self.table,
                self.confirm_box,
                self.message,
                self.form,
            ]
        )
        self.type.observe(self._on_type, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.add_button.on_click(lambda _: self.start_add())
        self.save_button.on_click(lambda _: self.save())
        self.cancel_button.on_click(lambda _: self._hide_form())
        self.refresh()

    def hidden(self) -> list[Any]:
        return list(self.inputs.values())

    # -- table ------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the keys of the current namespace."""
        old = list(self.table.children)
        ok, ns = safe_call(self.message, nc.current_namespace)
        self.namespace_label.value = (
            f"<b>KV of namespace {ns}</b>" if ok and ns else "<b>KV store</b>"
        )
        if ok and ns is None:
            self.entries = []
            self.table.children = [
                w.HTML("<i>KV state belongs to one namespace: choose one first.</i>")
            ]
            for row in old:
                close_tree(row)
            return
        ok, entries = safe_call(self.message, nc.kv_entries)
        if not ok:
            return
        self.entries = list(entries)
        rows = [self._row(entry) for entry in self.entries]
        self.table.children = rows or [w.HTML("<i>no keys in this namespace</i>")]
        for row in old:
            close_tree(row)

    def _row(self, entry: Any) -> Any:
        expires = (
            "never"
            if entry.expires is None
            else (f"{entry.expires.isoformat(timespec='seconds')} ({countdown(entry.expires)})")
        )
        edit = w.Button(description="Edit", icon="edit", layout=w.Layout(width="80px"))
        delete = w.Button(
            description="Delete", icon="trash", button_style="danger", layout=w.Layout(width="90px")
        )
        edit.on_click(lambda _: self.start_edit(entry.key))
        delete.on_click(lambda _: self.ask_delete(entry.key))
        return w.HBox(
            [
                _cell(entry.key, _CELL["key"]),
                _cell(str(entry.type), _CELL["type"]),
                _cell(str(entry.revision), _CELL["revision"]),
                _cell(expires, _CELL["expires"]),
                edit,
                delete,
            ]
        )

    # -- delete -----------------------------------------------------------------
    def ask_delete(self, key: str) -> None:
        """Show the confirmation for deleting ``key`` (once: a second click keeps it)."""
        if self._confirming == key and self.confirm_box.children:
            return
        self._confirming = key
        yes = w.Button(description=f"Delete {key}", button_style="danger")
        no = w.Button(description="Cancel")
        yes.on_click(lambda _: self.delete(key))
        no.on_click(lambda _: self._clear_confirm())
        self.confirm_box.children = [w.HTML(f"Delete key <b>{_esc(key)}</b>? "), yes, no]

    def delete(self, key: str) -> None:
        if self._confirming != key:  # a second click after the first deleted it
            return
        self._clear_confirm()
        ok, removed = safe_call(self.message, lambda: nc.delete_kv(key))
        if ok:
            status(self.message, "ok", f"deleted '{key}'" if removed else f"'{key}' was gone")
            self.refresh()

    def _clear_confirm(self) -> None:
        self._confirming = None
        old = list(self.confirm_box.children)
        self.confirm_box.children = []
        for child in old:
            close_tree(child)

    # -- add / edit ---------------------------------------------------------------
    def start_add(self) -> None:
        self._editing = None
        self.form_title.value = "<b>New key</b>"
        self.key.disabled = False
        self.key.value = ""
        self.type.value = "STRING"
        self._reset_inputs()
        self.expiry.options = [("no expiry", "none"), ("TTL", "ttl")]
        self.expiry.value = "none"
        self.ttl.value = ""
        self.description.value = ""
        self.form.layout.display = "flex"

    def start_edit(self, key: str) -> None:
        """Load ``key``'s value and metadata into the form."""
        entry = next((e for e in self.entries if e.key == key), None)
        ok, value = safe_call(self.message, lambda: nc.kv(key))
        if not ok or entry is None:
            if entry is None:
                status(self.message, "error", f"'{key}' is gone; refresh")
            return
        self._editing = entry
        self.form_title.value = f"<b>Edit {_esc(key)}</b> (revision {entry.revision})"
        self.key.value = key
        self.key.disabled = True
        self._reset_inputs()
        self.type.value = str(entry.type)
        self._show_value(str(entry.type), value)
        options = [("no expiry", "none"), ("TTL", "ttl")]
        if entry.expires is not None:
            options.insert(0, ("keep current expiry", "keep"))
        self.expiry.options = options
        self.expiry.value = options[0][1]
        self.ttl.value = ""
        self.description.value = entry.description or ""
        self.form.layout.display = "flex"

    def form_value(self) -> Any:
        """The typed input's value, in the form ``set_kv`` takes for the chosen type."""
        kind = self.type.value
        raw = self.inputs[kind].value
        if kind == "DATE":
            return raw  # a date (or None: set_kv says what is missing)
        if kind == "BOOLEAN":
            return bool(raw)
        return raw

    def save(self) -> bool:
        """Write the form with :func:`nbcreds.set_kv`; True on success.

        A second click after a successful save finds the form closed: nothing to do,
        and no false failure. A conflict says what the key holds now, in the words of
        the form (never a Python argument name)."""
        if self.form.layout.display == "none":
            return True
        key = self.key.value.strip()
        if not key:
            status(self.message, "error", "a key is required")
            return False
        kwargs: dict[str, Any] = {"type": self.type.value}
        mode = self.expiry.value
        if mode == "ttl":
            if not self.ttl.value.strip():
                status(self.message, "error", "type a TTL such as PT1H, or choose 'no expiry'")
                return False
            kwargs["ttl"] = self.ttl.value.strip()
        elif mode == "keep" and self._editing is not None:
            left = remaining(self._editing.expires)
            if left is not None and left > 0:
                kwargs["ttl"] = dt.timedelta(seconds=left)
        if self.description.value.strip():
            kwargs["description"] = self.description.value.strip()
        if self._editing is not None:
            kwargs["if_revision"] = self._editing.revision
        else:
            kwargs["overwrite"] = False
        value = self.form_value()
        editing = self._editing

        def write() -> int:
            try:
                return nc.set_kv(key, value, **kwargs)
            except nc.KVConflict:
                raise nc.KVConflict(self._conflict_text(key, editing)) from None

        ok, _ = safe_call(self.message, write)
        # a refused secret must not stay in the form (nor any secret typed elsewhere in it)
        texts = [self.key, self.ttl, self.description]
        texts += [i for kind, i in self.inputs.items() if kind not in ("BOOLEAN", "DATE")]
        if scrub(*texts) and ok:
            status(self.message, "error", "a secret value was in the form: it was cleared")
        if not ok:
            return False
        status(self.message, "ok", f"saved '{key}'")
        self._hide_form()
        self.refresh()
        return True

    def _conflict_text(self, key: str, editing: Any) -> str:
        try:
            now = next((e for e in nc.kv_entries() if e.key == key), None)
        except nc.NbcredsError:
            now = None
        held = f"{now.type}, revision {now.revision}" if now is not None else "removed"
        if editing is None:
            return f"'{key}' already exists ({held}): nothing was saved; edit it instead."
        return (
            f"'{key}' changed since you opened it at revision {editing.revision} "
            f"(now: {held}; yours: {self.type.value}): nothing was saved; refresh and edit again."
        )

    def _show_value(self, kind: str, value: Any) -> None:
        widget = self.inputs[kind]
        if kind == "BOOLEAN":
            widget.value = bool(value)
        elif kind == "DATE":
            widget.value = value if isinstance(value, dt.date) else None
        elif kind == "DURATION" and isinstance(value, dt.timedelta):
            widget.value = _iso_duration(value)
        elif kind == "DATETIME" and isinstance(value, dt.datetime):
            widget.value = value.isoformat()
        elif kind == "JSON":
            widget.value = json.dumps(value, indent=2, ensure_ascii=False)
        else:
            widget.value = str(value)

    def _reset_inputs(self) -> None:
        for kind, widget in self.inputs.items():
            widget.value = False if kind == "BOOLEAN" else (None if kind == "DATE" else "")

    def _hide_form(self) -> None:
        self.form.layout.display = "none"
        self._editing = None

    def _on_type(self, change: dict[str, Any]) -> None:
        self.value_box.children = [self.inputs[change["new"]]]


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _iso_duration(value: dt.timedelta) -> str:
    from ..kvstore import format_duration

    return format_duration(value)


def kv_editor() -> KVEditor:
    """The current namespace's KV keys (type, revision, expiry): add, edit, delete."""
    return KVEditor()

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

import nbcreds as nc

from ..kvstore import KVType
from ._common import (
    Panel,
    Parts,
    QuietTextarea,
    countdown,
    locked,
    remaining,
    safe_call,
    scrub,
    status,
    table_html,
)

__all__ = ["KV_TYPES", "KVEditor", "kv_editor"]

#: the KV store's types, in the store's order (:class:`nbcreds.kvstore.KVType`)
KV_TYPES = [t.value for t in KVType]
_EXPIRY = [("no expiry", "none"), ("TTL", "ttl")]
_KEEP = ("keep current expiry", "keep")
_NONE = ("\u2014", "")


class KVEditor(Panel):
    """The current namespace's keys as one table, a key picker with **Edit** and
    **Delete**, and an add/edit form (made the first time it opens).

    A fixed handful of widget models however many keys there are: the table is one
    ``HTML`` widget re-rendered only when its text changes, and the form, its value
    input of each type and the delete confirmation are made once, when first needed,
    then kept. The table follows KV writes made anywhere -- code, the sidebar, another
    widget, another kernel writing the same store -- and namespace changes."""

    LIVE = frozenset({"kv", "namespace", "config"})

    def __init__(self) -> None:
        parts = Parts.shared()
        self.parts = parts
        self.table = parts.html()
        self.namespace_label = self.table  # the table's heading names the namespace
        self.pick = parts.dropdown("Chosen key", options=[_NONE])
        self.edit_button = parts.button("Edit", icon="edit", tooltip="Edit the chosen key")
        self.delete_button = parts.button(
            "Delete", icon="trash", tooltip="Delete the chosen key (asks first)"
        )
        self.add_button = parts.button("Add key", icon="plus")
        self.refresh_button = parts.button(
            "Refresh", icon="refresh", tooltip="Read the keys again (they also follow changes)"
        )
        self.toolbar = parts.row(
            [self.edit_button, self.delete_button, self.add_button, self.refresh_button]
        )
        self.message = parts.html()
        #: key -> the table's other cells as shown (type, revision, expires)
        self.cells: dict[str, list[str]] = {}
        self.entries: list[Any] = []
        self.namespace: str | None = None
        self._editing: Any = None  # the KVEntry being edited
        self._form_namespace: str | None = None  # where the open form writes
        self._confirming: str | None = None  # the key whose deletion is being confirmed
        self._form: Any = None
        self._confirm: Any = None
        self.inputs: dict[str, Any] = {}  # the value input of each type shown so far
        super().__init__([self.table, self.pick, self.toolbar, self.message], parts)
        self.edit_button.on_click(lambda _: self._on_edit())
        self.delete_button.on_click(lambda _: self._on_delete())
        self.add_button.on_click(lambda _: self.start_add())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()
        self.go_live()

    # -- the parts made on first use ---------------------------------------------------
    @property
    def form(self) -> Any:
        """The add/edit form (a ``VBox``), made on first use."""
        if self._form is None:
            parts = self.parts
            self.form_title = parts.html()
            self.key = parts.text("Key", placeholder="last_run")
            self.type = parts.dropdown("Type", options=KV_TYPES, value="STRING")
            self.value_box = parts.row([self.value_input("STRING")])
            self.expiry = parts.dropdown("Expiry", options=_EXPIRY, value="none")
            self.ttl = parts.text("TTL", placeholder="PT1H, P1D")
            self.description = parts.text("Description")
            self.save_button = parts.button("Save", button_style="primary", icon="save")
            self.cancel_button = parts.button("Cancel")
            self._form = w_vbox(
                parts,
                [
                    self.form_title,
                    self.key,
                    self.type,
                    self.value_box,
                    self.expiry,
                    self.ttl,
                    self.description,
                    parts.row([self.save_button, self.cancel_button]),
                ],
            )
            self.type.observe(self._on_type, names="value")
            self.save_button.on_click(lambda _: self.save())
            self.cancel_button.on_click(lambda _: self._hide_form())
        return self._form

    @property
    def form_open(self) -> bool:
        return self._form is not None and self._form in self.children

    def value_input(self, kind: str) -> Any:
        """The value input for KV type ``kind`` (made the first time it is chosen)."""
        found = self.inputs.get(kind)
        if found is not None:
            return found
        import ipywidgets as w

        parts = self.parts
        if kind == "STRING":
            found = parts.text("Value", cls=QuietTextarea, rows=2)
        elif kind == "JSON":
            found = parts.text("Value", cls=QuietTextarea, rows=4, placeholder='{"a": 1}')
        elif kind == "BOOLEAN":
            found = w.Checkbox(
                description="Value (true when ticked)",
                indent=False,
                layout=parts.layout,
            )
        elif kind == "DATE":
            found = w.DatePicker(description="Value", layout=parts.field, style=parts.style)
        else:
            hints = {
                "NUMBER": "42 or 3.14",
                "DATETIME": "2024-05-01T12:00:00+00:00",
                "DURATION": "PT1H30M",
            }
            found = parts.text("Value", placeholder=hints.get(kind, ""))
        self.inputs[kind] = found
        return found

    def hidden(self) -> list[Any]:
        kept = [*self.inputs.values()]
        if self._form is not None:
            kept.append(self._form)
        if self._confirm is not None:
            kept.append(self._confirm)
        return kept

    def _layout(self) -> None:
        children = [self.table, self.pick, self.toolbar]
        if self._confirming is not None and self._confirm is not None:
            children.append(self._confirm)
        children.append(self.message)
        if self._form is not None and (self._editing is not None or self._adding):
            children.append(self._form)
        if list(self.children) != children:  # type: ignore[has-type]
            self.children = children

    _adding = False

    # -- table ------------------------------------------------------------------
    def follow(self, kinds: set[str]) -> None:
        with self.lock:
            if self.comm is None:
                return
            self.refresh()
            editing = self._editing
            if editing is None or self._form_namespace != self.namespace:
                return
            now = next((e for e in self.entries if e.key == editing.key), None)
            if now is None or now.revision != editing.revision:
                held = "removed" if now is None else f"now revision {now.revision}"
                status(
                    self.message,
                    "warn",
                    f"'{editing.key}' changed since you opened it ({held}): Save will not "
                    "overwrite it; Cancel and edit it again",
                )

    @locked
    def refresh(self) -> None:
        """Reload the keys of the current namespace."""
        ok, ns = safe_call(self.message, nc.current_namespace)
        if not ok:
            return
        self.namespace = ns
        if ns is None:
            self.entries = []
            self._show(
                [], "<b>KV store</b><br><i>KV state belongs to one namespace: choose one first.</i>"
            )
            return
        ok, entries = safe_call(self.message, nc.kv_entries)
        if not ok:
            return
        self.entries = list(entries)
        self._show(self.entries, None)

    def _show(self, entries: list[Any], text: str | None) -> None:
        import html

        rows = [[e.key, str(e.type), str(e.revision), _expires(e)] for e in entries]
        self.cells = {row[0]: row[1:] for row in rows}
        if text is None:
            text = f"<b>KV of namespace {html.escape(str(self.namespace))}</b>" + table_html(
                ["key", "type", "revision", "expires"], rows, "no keys in this namespace"
            )
        if self.table.value != text:  # each assignment is a comm message
            self.table.value = text
        options = [(k, k) for k in self.cells] or [_NONE]
        if list(self.pick.options) != options:
            current = self.pick.value
            self.pick.options = options
            values = [v for _, v in options]
            self.pick.value = current if current in values else values[0]

    # -- delete -----------------------------------------------------------------
    @locked
    def _on_edit(self) -> None:
        if self.pick.value:
            self.start_edit(self.pick.value)

    @locked
    def _on_delete(self) -> None:
        if self.pick.value:
            self.ask_delete(self.pick.value)

    @locked
    def ask_delete(self, key: str) -> None:
        """Show the confirmation for deleting ``key`` (once: a second click keeps it)."""
        if self._confirming == key:
            return
        parts = self.parts
        if self._confirm is None:
            self.confirm_text = parts.html()
            self.yes_button = parts.button("Delete", button_style="danger")
            self.no_button = parts.button("Cancel")
            self.yes_button.on_click(lambda _: self._on_yes())
            self.no_button.on_click(lambda _: self._clear_confirm())
            self._confirm = parts.row([self.confirm_text, self.yes_button, self.no_button])
        self._confirming = key
        self.confirm_text.value = f"Delete key <b>{_esc(key)}</b>?"
        self.yes_button.description = f"Delete {key}"
        self._layout()

    @property
    def confirm_box(self) -> Any:
        """The confirmation row while it is shown (``None`` otherwise)."""
        return self._confirm if self._confirming is not None else None

    @locked
    def _on_yes(self) -> None:
        if self._confirming is not None:
            self.delete(self._confirming)

    @locked
    def delete(self, key: str) -> None:
        if self._confirming != key:  # a second click after the first deleted it
            return
        self._clear_confirm()
        ok, removed = safe_call(self.message, lambda: nc.delete_kv(key))
        if ok:
            status(self.message, "ok", f"deleted '{key}'" if removed else f"'{key}' was gone")
            self.refresh()

    @locked
    def _clear_confirm(self) -> None:
        self._confirming = None
        self._layout()

    # -- add / edit ---------------------------------------------------------------
    @locked
    def start_add(self) -> None:
        self.form  # noqa: B018 - made on first use
        self._editing = None
        self._adding = True
        self._form_namespace = self.namespace
        self.form_title.value = f"<b>New key</b>{self._where()}"
        self.key.disabled = False
        self.key.value = ""
        self.type.value = "STRING"
        self._reset_inputs()
        self.expiry.options = _EXPIRY
        self.expiry.value = "none"
        self.ttl.value = ""
        self.description.value = ""
        self._layout()

    @locked
    def start_edit(self, key: str) -> None:
        """Load ``key``'s value and metadata into the form."""
        entry = next((e for e in self.entries if e.key == key), None)
        ok, value = safe_call(self.message, lambda: nc.kv(key))
        if not ok or entry is None:
            if entry is None:
                status(self.message, "error", f"'{key}' is gone")
            return
        self.form  # noqa: B018 - made on first use
        status(self.message, "", "")
        self._editing = entry
        self._adding = False
        self._form_namespace = self.namespace
        self.form_title.value = (
            f"<b>Edit {_esc(key)}</b> (revision {entry.revision}){self._where()}"
        )
        self.key.value = key
        self.key.disabled = True
        self._reset_inputs()
        self.type.value = str(entry.type)
        self._show_value(str(entry.type), value)
        options = list(_EXPIRY)
        if entry.expires is not None:
            options.insert(0, _KEEP)
        self.expiry.options = options
        self.expiry.value = options[0][1]
        self.ttl.value = ""
        self.description.value = entry.description or ""
        self._layout()

    def _where(self) -> str:
        return f" in namespace {_esc(str(self.namespace))}"

    def form_value(self) -> Any:
        """The typed input's value, in the form ``set_kv`` takes for the chosen type."""
        kind = self.type.value
        raw = self.value_input(kind).value
        if kind == "BOOLEAN":
            return bool(raw)
        return raw  # a DATE is a date (or None: set_kv says what is missing)

    @locked
    def save(self) -> bool:
        """Write the form with :func:`nbcreds.set_kv`; True on success.

        A second click after a successful save finds the form closed: nothing to do,
        and no false failure. A conflict says what the key holds now, in the words of
        the form (never a Python argument name). The form writes to the namespace it
        was opened in, even if the current one changed meanwhile."""
        if not self.form_open:
            return True
        key = self.key.value.strip()
        if not key:
            status(self.message, "error", "a key is required")
            return False
        kwargs: dict[str, Any] = {"type": self.type.value, "namespace": self._form_namespace}
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
            now = next(
                (e for e in nc.kv_entries(namespace=self._form_namespace) if e.key == key), None
            )
        except nc.NbcredsError:
            now = None
        held = f"{now.type}, revision {now.revision}" if now is not None else "removed"
        if editing is None:
            return f"'{key}' already exists ({held}): nothing was saved; edit it instead."
        return (
            f"'{key}' changed since you opened it at revision {editing.revision} "
            f"(now: {held}; yours: {self.type.value}): nothing was saved; edit it again."
        )

    def _show_value(self, kind: str, value: Any) -> None:
        widget = self.value_input(kind)
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

    @locked
    def _hide_form(self) -> None:
        self._editing = None
        self._adding = False
        self._layout()

    @locked
    def _on_type(self, change: dict[str, Any]) -> None:
        self.value_box.children = [self.value_input(change["new"])]


def _expires(entry: Any) -> str:
    if entry.expires is None:
        return "never"
    return f"{entry.expires.isoformat(timespec='seconds')} ({countdown(entry.expires)})"


def w_vbox(parts: Parts, children: list[Any]) -> Any:
    import ipywidgets as w

    return w.VBox(children, layout=parts.layout)


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _iso_duration(value: dt.timedelta) -> str:
    from ..kvstore import format_duration

    return format_duration(value)


def kv_editor() -> KVEditor:
    """The current namespace's KV keys (type, revision, expiry): add, edit, delete."""
    return KVEditor()

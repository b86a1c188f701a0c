"""``namespace_picker()``: choose the current namespace, or add a new one."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import nbcreds as nc

from ._common import (
    TENANT,
    Panel,
    Parts,
    level_options,
    level_value,
    locked,
    safe_call,
    scrub,
    status,
)

__all__ = ["NamespacePicker", "namespace_picker"]


class NamespacePicker(Panel):
    """A dropdown of known namespaces (indented as a tree) plus a field to add one.

    Choosing an entry calls :func:`nbcreds.use_namespace`; listeners added
    with :meth:`on_change` hear about it (the dashboard refreshes its tabs). It follows
    namespace changes made anywhere (code, the sidebar, another widget).
    """

    LIVE = frozenset({"namespace", "config"})

    def __init__(self) -> None:
        parts = Parts.shared()
        self.dropdown = parts.dropdown("Namespace", options=[("tenant", TENANT)])
        self.new_name = parts.text("New namespace", placeholder="company.team.project")
        self.add_button = parts.button("Use", tooltip="Switch to the namespace typed above")
        self.message = parts.html()
        self._listeners: list[Callable[[str | None], None]] = []
        self._updating = False
        super().__init__([self.dropdown, self.new_name, self.add_button, self.message], parts)
        self.refresh()
        self.dropdown.observe(self._on_select, names="value")
        self.add_button.on_click(self._on_add)
        self.go_live()

    def on_change(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(namespace)`` after the current namespace changes here."""
        self._listeners.append(callback)

    @locked
    def refresh(self) -> None:
        """Reload the namespaces and select the current one."""
        ok, current = safe_call(self.message, nc.current_namespace)
        if not ok:
            current = None
        ok, options = safe_call(self.message, lambda: level_options([current]))
        if not ok:
            return
        self._updating = True
        try:
            self.dropdown.options = options
            self.dropdown.value = TENANT if current is None else current
        finally:
            self._updating = False

    @locked
    def _switch(self, namespace: str | None) -> bool:
        ok, _ = safe_call(self.message, lambda: nc.use_namespace(namespace))
        if not ok:
            return False
        status(self.message, "ok", f"current namespace: {namespace or 'tenant level'}")
        for listener in list(self._listeners):
            safe_call(self.message, partial(listener, namespace))
        return True

    @locked
    def _on_select(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._switch(level_value(change["new"]))

    @locked
    def _on_add(self, _: object = None) -> None:
        name = self.new_name.value.strip()
        if scrub(self.new_name):
            status(self.message, "error", "that was a secret value: the field was cleared")
            return
        if not name:
            status(self.message, "error", "type a namespace such as company.team first")
            return
        if self._switch(name):
            self.new_name.value = ""
            self.refresh()


def namespace_picker() -> NamespacePicker:
    """A dropdown of known namespaces; changing it switches the current namespace."""
    return NamespacePicker()

"""``secret_binder()``: bind a secret from a typed value or a reference of any installed
source (an env var, a Vault path...)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

import nbcreds as nc

from ._common import (
    LevelChoice,
    Panel,
    QuietText,
    SecretInput,
    level_label,
    safe_call,
    scrub,
    status,
    table_html,
)

__all__ = ["SecretBinder", "bind_at", "secret_binder"]


def modes() -> list[tuple[str, str, str]]:
    """(label, scheme, placeholder) of each reference scheme of the installed sources."""
    found = []
    for stype in nc.plugins.source_types().values():
        for scheme in stype.schemes:
            form = stype.reference_forms.get(scheme, f"{scheme}:NAME")
            label = stype.reference_labels.get(scheme, f"{scheme}: reference")
            found.append((label, scheme, form.partition(":")[2]))
    return found


def bind_at(
    name: str,
    level: str | None,
    *,
    value: str | None = None,
    ref: str | None = None,
    store: str = "session",
) -> str:
    """:func:`nbcreds.bind_secret` at ``level`` (``None``: the tenant level, even while
    a namespace is selected: a credential defined there resolves its ``secret:``
    references from the tenant level, so the form must be able to bind there)."""
    if level is None:
        return nc.bind_secret(name, value, ref=ref, tenant=True, store=store)
    return nc.bind_secret(name, value, ref=ref, namespace=level, store=store)


def _source(row: Any) -> str:
    """``session`` rows say what they are bound to: a typed value, an env var, a Vault path."""
    source = str(row.source)
    if source == "session":
        return "session (typed value)"
    return source.replace(" -> ", " \u2192 ")


class SecretBinder(Panel):
    """Bind secret NAME at a level; lists the secrets visible from the current namespace.

    A typed value is bound the moment it arrives (Enter or leaving the field)
    and the field is cleared in the same step, so no widget state keeps it.
    """

    def __init__(self) -> None:
        self.name = QuietText(description="Name", placeholder="DB_PASSWORD")
        self.level_choice = LevelChoice()
        self.level = self.level_choice.dropdown
        schemes = modes()
        self.labels = {scheme: label for label, scheme, _ in schemes}
        typed = [("typed value", "value")]
        if "keyring" in nc.plugins.source_types():  # typed once, kept across restarts
            typed.append(("typed value, kept in the OS keyring", "value:keyring"))
        self.mode = w.Dropdown(
            description="From",
            options=typed + [(label, scheme) for label, scheme, _ in schemes],
            value="value",
        )
        self.value = SecretInput(description="Value", placeholder="type it, then press Enter")
        #: one text field per reference scheme (``targets["env"]`` takes a variable's name)
        self.targets = {
            scheme: QuietText(description=scheme, placeholder=placeholder)
            for _, scheme, placeholder in schemes
        }
        self.env = self.targets.get("env")
        self.vault = self.targets.get("vault")
        self.bind_button = w.Button(description="Bind", button_style="primary")
        self.message = w.HTML()
        self.listing = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.source_box = w.HBox([self.value])
        super().__init__(
            [
                w.HBox([self.name, self.level]),
                w.HBox([self.mode, self.source_box, self.bind_button]),
                self.message,
                w.HBox([w.HTML("<b>Secrets visible here</b>"), self.refresh_button]),
                self.listing,
            ]
        )
        self.mode.observe(self._on_mode, names="value")
        self.value.observe(self._on_value, names="value")
        self.bind_button.on_click(self._on_bind)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    def hidden(self) -> list[Any]:
        return [self.value, *self.targets.values()]

    def refresh(self) -> None:
        """Reload the level choices and the list of visible secrets."""
        ok, current = safe_call(self.message, nc.current_namespace)
        if ok:
            safe_call(self.message, lambda: self.level_choice.refresh(current))
        ok, rows = safe_call(self.message, nc.list_secrets)
        if ok:
            self.listing.value = table_html(
                ["name", "source", "level", "inherited"],
                [
                    [r.name, _source(r), level_label(r.level), "yes" if r.inherited else ""]
                    for r in rows
                ],
                "no secrets visible from the current namespace",
            )

    def _on_mode(self, change: dict[str, Any]) -> None:
        mode = change["new"]
        widget = self.value if mode.startswith("value") else self.targets[mode]
        self.source_box.children = [widget]
        status(self.message, "", "")

    def _on_value(self, change: dict[str, Any]) -> None:
        typed = change["new"]
        if not typed:
            return
        # clear first: whatever happens next, the model must not keep the value
        self.value.value = ""
        name = self.name.value.strip()
        if not name:
            status(
                self.message,
                "error",
                "type the secret's name first, then its value (the value was discarded)",
            )
            return
        store = self.mode.value.partition(":")[2] or "session"
        self._bind(name, value=typed, store=store)

    def _on_bind(self, _: object = None) -> None:
        name = self.name.value.strip()
        mode = self.mode.value
        if not name:
            status(self.message, "error", "type the secret's name first")
            return
        if mode.startswith("value"):
            status(
                self.message,
                "info",
                "type the value in the Value field and press Enter: it is bound at once",
            )
            return
        field = self.targets[mode]
        target = field.value.strip()
        if not target:
            shown = field.placeholder
            status(self.message, "error", f"type the {self.labels[mode]} ({shown}) first")
            return
        self._bind(name, ref=f"{mode}:{target}")

    def _bind(
        self,
        name: str,
        *,
        value: str | None = None,
        ref: str | None = None,
        store: str = "session",
    ) -> None:
        level = self.level_choice.value
        ok, description = safe_call(
            self.message, lambda: bind_at(name, level, value=value, ref=ref, store=store)
        )
        if ok:
            status(self.message, "ok", str(description))
            self.refresh()
        if scrub(self.name, *self.targets.values()):
            status(
                self.message,
                "error",
                "a secret value was typed into a plain text field: "
                "it was cleared (type values into the Value field)",
            )


def secret_binder() -> SecretBinder:
    """Bind a secret from a typed value or a reference (env var, Vault path...); lists
    bound names."""
    return SecretBinder()

"""``secret_binder()``: bind a secret from a typed value or a reference of any installed
source (an env var, a Vault path...)."""

from __future__ import annotations

from typing import Any

import nbcreds as nc

from ._common import (
    LevelChoice,
    Panel,
    Parts,
    SecretInput,
    level_label,
    locked,
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
    and the field is cleared in the same step, so no widget state keeps it. The listing
    and the levels follow bindings and namespace changes made anywhere (no Refresh).
    """

    #: where the From-specific field sits among the children (after Name, Level, From)
    _FIELD_AT = 3

    LIVE = frozenset({"secret", "namespace", "config"})

    def __init__(self) -> None:
        parts = Parts.shared()
        self.name = parts.text("Name", placeholder="DB_PASSWORD")
        self.level_choice = LevelChoice(parts=parts)
        self.level = self.level_choice.dropdown
        schemes = modes()
        self.labels = {scheme: label for label, scheme, _ in schemes}
        self.placeholders = {scheme: placeholder for _, scheme, placeholder in schemes}
        typed = [("typed value", "value")]
        if "keyring" in nc.plugins.source_types():  # typed once, kept across restarts
            typed.append(("typed value, kept in the OS keyring", "value:keyring"))
        self.mode = parts.dropdown(
            "From",
            options=typed + [(label, scheme) for label, scheme, _ in schemes],
            value="value",
        )
        self.value = parts.text("Value", cls=SecretInput, placeholder="type it, then press Enter")
        #: the text field of each reference scheme chosen in From so far (``targets["env"]``
        #: takes a variable's name); made when a scheme is first chosen
        self.targets: dict[str, Any] = {}
        self.bind_button = parts.button("Bind", button_style="primary")
        self.message = parts.html()
        self.listing = parts.html()
        super().__init__(
            [
                self.name,
                self.level,
                self.mode,
                self.value,
                self.bind_button,
                self.message,
                self.listing,
            ],
            parts,
        )
        self.mode.observe(self._on_mode, names="value")
        self.value.observe(self._on_value, names="value")
        self.bind_button.on_click(self._on_bind)
        self.refresh()
        self.go_live()

    @property
    def env(self) -> Any:
        return self.target("env") if "env" in self.labels else None

    @property
    def vault(self) -> Any:
        return self.target("vault") if "vault" in self.labels else None

    @property
    def field(self) -> Any:
        """The field the chosen From shows: Value, or the reference's text field."""
        return self.children[self._FIELD_AT]

    def target(self, scheme: str) -> Any:
        """The text field for a reference of ``scheme`` (made on first use)."""
        found = self.targets.get(scheme)
        if found is None:
            found = self.targets[scheme] = self.parts.text(
                self.labels[scheme], placeholder=self.placeholders[scheme]
            )
        return found

    def hidden(self) -> list[Any]:
        return [self.value, *self.targets.values()]

    @locked
    def refresh(self) -> None:
        """Reload the level choices and the list of visible secrets."""
        ok, current = safe_call(self.message, nc.current_namespace)
        if ok:
            safe_call(self.message, lambda: self.level_choice.refresh(current))
        ok, rows = safe_call(self.message, nc.list_secrets)
        if ok:
            self.listing.value = "<b>Secrets visible here</b>" + table_html(
                ["name", "source", "level", "inherited"],
                [
                    [r.name, _source(r), level_label(r.level), "yes" if r.inherited else ""]
                    for r in rows
                ],
                "no secrets visible from the current namespace",
            )

    @locked
    def _on_mode(self, change: dict[str, Any]) -> None:
        mode = change["new"]
        widget = self.value if mode.startswith("value") else self.target(mode)
        children = list(self.children)  # type: ignore[has-type]
        children[self._FIELD_AT] = widget  # the other fields are kept (and keep what was typed)
        self.children = children
        status(self.message, "", "")

    @locked
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

    @locked
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
        field = self.target(mode)
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

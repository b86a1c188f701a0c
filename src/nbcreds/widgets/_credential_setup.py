"""``credential_setup()``: a form per credential type, with Test and Save.

The form only holds references. A secret-valued field either names an
existing secret (a dropdown of :func:`nbcreds.list_secrets`) or takes a typed
value, which is bound as a session secret the moment it arrives and cleared
from the field in the same step; the field then points at that secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

import nbcreds as nc

from .._exceptions import ConfigError, CredentialConfigError
from ._common import (
    LevelChoice,
    Panel,
    QuietText,
    SecretInput,
    error_text,
    level_label,
    safe_call,
    scrub,
    status,
)
from ._secret_binder import bind_at

__all__ = ["CredentialSetup", "credential_setup", "form_fields", "form_types"]


@dataclass(frozen=True)
class FieldSpec:
    """One form field: its config key, label, kind (text, list, choice, secret, switch)."""

    key: str
    label: str
    kind: str = "text"
    placeholder: str = ""
    choices: tuple[str, ...] = ()


_CACHING = "token_caching.enabled"
_REFRESH = "token_caching.refresh_before_expiry"
_COMMON_SPECS = {
    "description": FieldSpec("description", "Description"),
    _CACHING: FieldSpec(_CACHING, "Token caching", kind="switch"),
    _REFRESH: FieldSpec(_REFRESH, "Refresh before expiry", placeholder="PT1M (the default)"),
}


def form_types() -> list[tuple[str, str]]:
    """(label, name) of every installed credential type, for the type dropdown."""
    return [(t.label, t.name) for t in nc.plugins.credential_types().values()]


def _spec(setting: Any) -> FieldSpec | None:
    """The form field of one declared setting (None: tables have no field)."""
    if setting.kind == "table":
        return None
    if setting.secret:
        kind = "secret"
    elif setting.choices:
        kind = "choice"
    elif setting.kind in ("list", "words"):
        kind = "list"
    else:
        kind = "text"
    return FieldSpec(
        setting.key,
        setting.shown,
        kind=kind,
        placeholder=setting.placeholder,
        choices=tuple(str(c) for c in setting.choices),
    )


def form_fields() -> tuple[dict[str, FieldSpec], dict[str, tuple[list[str], set[str]]]]:
    """Every field of every installed type (by key), and per type the keys shown in
    order and the keys required -- derived from the types' declared fields."""
    specs: dict[str, FieldSpec] = {"description": _COMMON_SPECS["description"]}
    layout: dict[str, tuple[list[str], set[str]]] = {}
    for ctype in nc.plugins.credential_types().values():
        shown = ["description"]
        required: set[str] = set()
        for setting in ctype.fields:
            spec = _spec(setting)
            if spec is None:
                continue
            specs.setdefault(spec.key, spec)
            shown.append(spec.key)
            if setting.required:
                required.add(spec.key)
        layout[ctype.name] = ([*shown, _CACHING, _REFRESH], required)  # Kestra's tokenCaching
    specs[_CACHING] = _COMMON_SPECS[_CACHING]
    specs[_REFRESH] = _COMMON_SPECS[_REFRESH]
    return specs, layout


NO_SECRET = ""


class _Field:
    """The widgets of one form field plus its error line."""

    def __init__(self, spec: FieldSpec, form: CredentialSetup) -> None:
        self.spec = spec
        self.form = form
        self.error = w.HTML()
        label = w.HTML(f"<b>{spec.label}</b>", layout=w.Layout(width="130px"))
        self.input: Any
        self.typed: SecretInput | None = None
        self.bind_as: Any = None
        if spec.kind == "choice":
            self.input = w.Dropdown(options=list(spec.choices), value=spec.choices[0])
            parts = [label, self.input]
        elif spec.kind == "switch":
            self.input = w.Dropdown(
                options=[
                    ("on: cache tokens in memory", True),
                    ("off: a new token each use", False),
                ],
                value=True,
            )
            parts = [label, self.input]
        elif spec.kind == "secret":
            self.input = w.Dropdown(options=[("\u2014 choose a secret \u2014", NO_SECRET)])
            self.typed = SecretInput(placeholder="or type the value, press Enter")
            self.bind_as = QuietText(
                placeholder="bind as (default: derived)", layout=w.Layout(width="200px")
            )
            self.typed.observe(self._on_typed, names="value")
            parts = [label, self.input, self.typed, self.bind_as]
        else:
            self.input = QuietText(placeholder=spec.placeholder)
            parts = [label, self.input]
        self.row = w.VBox([w.HBox(parts), self.error])

    def value(self) -> Any:
        raw = self.input.value
        if self.spec.kind == "secret":
            return f"secret:{raw}" if raw else ""
        if self.spec.kind == "list":
            return [s for s in re.split(r"[\s,]+", raw) if s]
        return raw.strip() if isinstance(raw, str) else raw

    def load(self, value: Any) -> None:
        """Show a saved value (a secret field shows the secret a reference names)."""
        if self.spec.kind == "secret":
            name = (
                value[len("secret:") :]
                if isinstance(value, str) and value.startswith("secret:")
                else ""
            )
            self.set_secret_options(extra=name)
            self.input.value = name
        elif self.spec.kind == "list":
            self.input.value = " ".join(value) if isinstance(value, list) else str(value or "")
        elif self.spec.kind == "choice":
            if value in self.spec.choices:
                self.input.value = value
        elif self.spec.kind == "switch":
            self.input.value = value if isinstance(value, bool) else True
        else:
            self.input.value = "" if value is None else str(value)

    def set_secret_options(self, extra: str = "") -> None:
        names = self.form.secret_names()
        if extra and extra not in names:
            names.append(extra)
        current = self.input.value
        self.input.options = [("\u2014 choose a secret \u2014", NO_SECRET)] + [
            (n, n) for n in sorted(names)
        ]
        self.input.value = current if current in names else NO_SECRET

    def _on_typed(self, change: dict[str, Any]) -> None:
        typed = change["new"]
        if not typed:
            return
        assert self.typed is not None
        self.typed.value = ""  # the model never keeps the value, whatever happens next
        status(self.error, "", "")
        name = self.bind_as.value.strip() or self.form.derived_secret_name(self.spec.key)
        if not name:
            status(
                self.error,
                "error",
                "type the credential's name first (or a name to bind "
                "the value as); the value was discarded",
            )
            return
        level = self.form.level_choice()
        ok, _ = safe_call(self.error, lambda: bind_at(name, level, value=typed))
        self.form.scrub_form()
        if ok:
            self.set_secret_options(extra=name)
            self.input.value = name
            status(
                self.error,
                "ok",
                f"bound as session secret {name} at {level_label(level)} "
                "(memory only); the field was cleared",
            )


class CredentialSetup(Panel):
    """Choose a type, fill its fields, Test, Save (references only) at a level."""

    def __init__(self) -> None:
        self.name = QuietText(description="Name", placeholder="my_oauth")
        self.name_error = w.HTML()
        self.levels = LevelChoice()
        self.level = self.levels.dropdown
        types = form_types()
        self.field_specs, self.type_fields = form_fields()
        self.type = w.Dropdown(description="Type", options=types, value=types[0][1])
        self.fields = {key: _Field(spec, self) for key, spec in self.field_specs.items()}
        self.field_box = w.VBox()
        self.test_button = w.Button(
            description="Test", icon="plug", tooltip="Save, then request a token"
        )
        self.save_button = w.Button(
            description="Save",
            button_style="primary",
            icon="save",
            tooltip="Write the definition (references only)",
        )
        self.message = w.HTML()
        self._listeners: list[Callable[[], None]] = []
        # settings of a loaded definition the form has no field for (claims, permissions...)
        self._kept: dict[str, Any] = {}
        self._kept_type = ""
        super().__init__(
            [
                w.HBox([self.name, self.level]),
                self.name_error,
                self.type,
                self.field_box,
                w.HBox([self.test_button, self.save_button]),
                self.message,
            ]
        )
        self.type.observe(lambda _: self._show_fields(), names="value")
        self.level.observe(lambda _: self._refresh_secrets(), names="value")
        self.save_button.on_click(lambda _: self.save())
        self.test_button.on_click(lambda _: self.test())
        self.refresh()

    def hidden(self) -> list[Any]:
        return [field.row for field in self.fields.values()]

    # -- public --------------------------------------------------------------
    def on_saved(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each successful Save."""
        self._listeners.append(callback)

    def refresh(self) -> None:
        """Reload the levels and the secret names the secret fields offer."""
        ok, current = safe_call(self.message, nc.current_namespace)
        if ok:
            safe_call(self.message, lambda: self.levels.refresh(current))
        self._show_fields()

    def level_choice(self) -> str | None:
        return self.levels.value

    def secret_names(self) -> list[str]:
        level = self.level_choice()
        ok, rows = safe_call(self.message, lambda: nc.list_secrets(level))
        if not ok:
            return []
        # a credential resolves its references from its own level: at the tenant level only
        # tenant secrets are visible (list_secrets(None) means the current namespace)
        return [r.name for r in rows if level is not None or r.level is None]

    def derived_secret_name(self, key: str) -> str:
        name = self.name.value.strip()
        if not name:
            return ""
        return re.sub(r"[^A-Z0-9_]", "_", f"{name}_{key}".upper())

    def definition(self) -> dict[str, Any]:
        """The form as a definition (references only) for the chosen type."""
        shown, _ = self.type_fields[self.type.value]
        definition: dict[str, Any] = {"type": self.type.value}
        for key in shown:
            value = self.fields[key].value()
            if value in ("", [], None) or (key == _CACHING and value is True):
                continue  # empty, or the default: keep the file short
            table, _, sub = key.partition(".")
            if sub:
                definition.setdefault(table, {})[sub] = value
            else:
                definition[key] = value
        if self._kept and self._kept_type == self.type.value:
            for key, value in self._kept.items():
                definition.setdefault(key, value)
        return definition

    def load(self, name: str, level: str | None = None) -> None:
        """Fill the form from the saved definition ``name`` at ``level``."""
        definition = _saved(name, level)
        if definition is None:
            status(self.message, "error", f"no credential '{name}' at {level_label(level)}")
            return
        self.name.value = name
        self.levels.select(level)
        ctype = definition.get("type")
        if ctype in self.type_fields:
            self.type.value = ctype
        shown = {key.partition(".")[0] for key in self.field_specs} | {"type"}
        self._kept = {k: v for k, v in definition.items() if k not in shown}
        self._kept_type = str(ctype)
        for key, field in self.fields.items():
            table, _, sub = key.partition(".")
            if sub:
                nested = definition.get(table)
                field.load(nested.get(sub) if isinstance(nested, dict) else None)
            else:
                field.load(definition.get(key))

    def scrub_form(self) -> bool:
        """Clear any plain field holding a secret value; say so next to it."""
        found = False
        for field in self.fields.values():
            texts = [field.input, field.bind_as] if field.spec.kind == "secret" else [field.input]
            if scrub(*[t for t in texts if t is not None and isinstance(t.value, str)]):
                status(
                    field.error,
                    "error",
                    "this field held a secret value and was cleared: "
                    "type secrets into the password field",
                )
                found = True
        if scrub(self.name):
            status(self.name_error, "error", "this field held a secret value and was cleared")
            found = True
        return found

    def validate(self) -> bool:
        """Check the form; put each message next to the field at fault."""
        self._clear_errors()
        ok = True
        name = self.name.value.strip()
        if not name:
            status(self.name_error, "error", "a name is required")
            ok = False
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", name):
            from nbcreds.credentials import CREDENTIAL_NAME_RULE

            status(self.name_error, "error", CREDENTIAL_NAME_RULE)
            ok = False
        shown, required = self.type_fields[self.type.value]
        for key in shown:
            if key in required and self.fields[key].value() in ("", []):
                status(self.fields[key].error, "error", "required for this type")
                ok = False
        return ok

    def save(self) -> bool:
        """Validate and write the definition; True when it was saved."""
        status(self.message, "", "")
        if self.scrub_form():
            status(self.message, "error", "not saved: a secret value was in a plain field")
            return False
        if not self.validate():
            status(self.message, "error", "fix the fields marked above")
            return False
        name = self.name.value.strip()
        level = self.level_choice()
        try:
            path = nc.save_credential(name, self.definition(), level)
        except (ConfigError, CredentialConfigError) as exc:
            field = self.fields.get(_key_at_fault(exc))
            if field is not None:
                status(field.error, "error", str(exc))
                status(self.message, "error", "not saved: fix the field marked above")
            else:
                status(self.message, "error", f"not saved: {exc}")
            return False
        except Exception as exc:
            status(self.message, "error", f"not saved: {error_text(exc)}")
            return False
        status(self.message, "ok", f"saved '{name}' at {level_label(level)} in {path}")
        for listener in list(self._listeners):
            safe_call(self.message, listener)
        return True

    def test(self) -> bool:
        """Save the form if it changed, then request a token: show success or the server's
        message. True on success."""
        if not self._is_saved() and not self.save():
            return False
        name = self.name.value.strip()
        level = self.level_choice()
        ok, result = safe_call(self.message, lambda: _test(name, level))
        if not ok:
            return False
        kind = "ok" if result.success else "error"
        status(
            self.message,
            kind,
            f"{'Test passed' if result.success else 'Test failed'}: {result.message}",
        )
        return bool(result.success)

    # -- internals -------------------------------------------------------------
    def _is_saved(self) -> bool:
        name = self.name.value.strip()
        saved = _saved(name, self.level_choice())
        return saved is not None and saved == self.definition()

    def _clear_errors(self) -> None:
        status(self.name_error, "", "")
        for field in self.fields.values():
            status(field.error, "", "")

    def _show_fields(self) -> None:
        shown, required = self.type_fields[self.type.value]
        for key in shown:
            spec = self.field_specs[key]
            mark = " *" if key in required else ""
            label = self.fields[key].row.children[0].children[0]
            label.value = f"<b>{spec.label}{mark}</b>"
        self._refresh_secrets()
        self.field_box.children = [self.fields[key].row for key in shown]

    def _refresh_secrets(self) -> None:
        for field in self.fields.values():
            if field.spec.kind == "secret":
                field.set_secret_options()


def _saved(name: str, level: str | None) -> dict[str, Any] | None:
    """The definition ``name`` as the loaded config holds it at ``level``."""
    import nbcreds.credentials

    return nbcreds.credentials.definition_table(name, level)


def _key_at_fault(exc: Exception) -> str:
    """The config key an error names: ``ConfigError.key`` / ``CredentialConfigError.key``."""
    key = getattr(exc, "key", None)
    return key if isinstance(key, str) else ""


def _test(name: str, level: str | None) -> Any:
    """Test credential ``name`` as seen from the level it is defined at."""
    return nc.test_credential(name, namespace=level)


def credential_setup() -> CredentialSetup:
    """A form to define a credential (by type), Test it, and Save it to nbcreds.toml."""
    return CredentialSetup()

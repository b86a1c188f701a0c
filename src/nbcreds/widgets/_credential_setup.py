"""``credential_setup()``: a form per credential type, with Test and Save.

The form is generated from the credential-type registry (:mod:`nbcreds.plugins`):
each installed type -- nbcreds' own and any third party's -- declares its fields
(key, kind, required, secret, choices, label), and the form shows one control per
field, labelled in one column by the control's own ``description`` (its
accessible name). Nothing here lists types or fields of its own, except the
engine's common settings every type accepts (:data:`COMMON`).

The form only holds references. A secret-valued field names an existing secret
(a dropdown of :func:`nbcreds.list_secrets`) or, choosing *type a new value*, takes
a typed value, which is bound as a session secret the moment it arrives and
cleared from the field in the same step; the field then points at that secret.

**Test** requests a token for the form as it is, saved or not, and writes
nothing; **Save** writes it, and warns when a secret it references is a typed
value kept in this kernel's memory only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nbcreds as nc

from .._exceptions import ConfigError, CredentialConfigError, NbcredsError
from ..plugins import Setting
from ._common import (
    FieldError,
    LevelChoice,
    Panel,
    Parts,
    SecretInput,
    error_text,
    holds_secret,
    level_label,
    locked,
    safe_call,
    scrub,
    status,
)
from ._secret_binder import bind_at

__all__ = ["COMMON", "CredentialSetup", "FieldSpec", "credential_setup", "form_types"]

_CACHING = "token_caching.enabled"
_REFRESH = "token_caching.refresh_before_expiry"

#: the engine's settings every credential type accepts (shown after the type's own fields
#: unless the type declares the key itself): Kestra's description and ``tokenCaching``
COMMON: tuple[Setting, ...] = (
    Setting("description", label="Description"),
    Setting(_CACHING, kind="boolean", default=True, label="Token caching"),
    Setting(_REFRESH, kind="duration", label="Refresh before expiry", placeholder="PT1M"),
)

NO_SECRET = ""
NEW_VALUE = "\x00new"  # the secret dropdown's "type a new value" entry (never a secret name)
_DEFAULT = "\x00default"  # a choice left to the engine's default


@dataclass(frozen=True)
class FieldSpec:
    """One form field, derived from a declared :class:`~nbcreds.plugins.Setting`."""

    setting: Setting

    @property
    def key(self) -> str:
        return self.setting.key

    @property
    def label(self) -> str:
        return self.setting.shown

    @property
    def kind(self) -> str:
        """The control: secret, choice, switch, list, number or text."""
        s = self.setting
        if s.secret:
            return "secret"
        if s.choices:
            return "choice"
        if s.kind == "boolean":
            return "switch"
        if s.kind in ("list", "words"):
            return "list"
        if s.kind in ("integer", "number"):
            return "number"
        return "text"


def form_types() -> list[tuple[str, str]]:
    """(label, name) of every installed credential type, for the type dropdown."""
    return [(t.label or t.name, t.name) for t in nc.plugins.credential_types().values()]


def type_specs(type_name: str) -> list[FieldSpec]:
    """The fields the form shows for ``type_name``: the description, the type's declared
    fields in order (tables have no control: they are kept as loaded), then token
    caching."""
    ctype = nc.plugins.credential_type(type_name)
    own = [s for s in (ctype.fields if ctype is not None else ()) if s.kind != "table"]
    keys = {s.key for s in own}
    common = [c for c in COMMON if c.key not in keys]
    lead = [c for c in common if c.key == "description"]
    tail = [c for c in common if c.key != "description"]
    return [FieldSpec(s) for s in [*lead, *own, *tail]]


def _placeholder(setting: Setting) -> str:
    if setting.placeholder:
        return setting.placeholder
    if setting.default is not None and not isinstance(setting.default, bool):
        return f"{setting.default} (the default)"
    return setting.help


class _Field:
    """The control of one form field (one per field), and its error line right below."""

    def __init__(self, spec: FieldSpec, form: CredentialSetup) -> None:
        self.spec = spec
        self.form = form
        parts = form.parts
        self.error = FieldError(parts, form.relayout)
        self.typed: SecretInput | None = None  # the secret field's value input, while shown
        setting = spec.setting
        label = self.label(required=setting.required)
        kind = spec.kind
        self.input: Any
        if kind == "secret":
            self.input = parts.dropdown(label, options=self._secret_options([]))
            self.input.observe(self._on_pick, names="value")
        elif kind == "choice":
            options = [(str(c), c) for c in setting.choices]
            if not setting.required and setting.default not in setting.choices:
                options.insert(0, ("(the default)", _DEFAULT))
            first = setting.default if setting.default in setting.choices else options[0][1]
            self.input = parts.dropdown(label, options=options, value=first)
        elif kind == "switch":
            switch: list[tuple[str, Any]] = [("on", True), ("off", False)]
            if spec.key == _CACHING:
                switch = [
                    ("on: cache tokens in memory", True),
                    ("off: a new token each use", False),
                ]
            if not isinstance(setting.default, bool):
                switch.insert(0, ("(the default)", _DEFAULT))
            self.input = parts.dropdown(label, options=switch, value=self._switch_default())
        else:
            placeholder = _placeholder(setting)  # none: the trait keeps its default
            self.input = parts.text(label, **({"placeholder": placeholder} if placeholder else {}))

    def _switch_default(self) -> Any:
        default = self.spec.setting.default
        return default if isinstance(default, bool) else _DEFAULT

    def label(self, *, required: bool) -> str:
        return f"{self.spec.label} *" if required else self.spec.label

    def controls(self) -> list[Any]:
        """The widgets of this field, top to bottom, as the form lays them out."""
        shown = [self.input]
        if self.typed is not None and self.input.value == NEW_VALUE:
            shown.append(self.typed)
        if self.error.shown is not None:
            shown.append(self.error.shown)
        return shown

    def value(self) -> Any:
        """The field as the definition holds it (``""``: not set); ValueError for a number
        that is not one."""
        raw = self.input.value
        kind = self.spec.kind
        if kind == "secret":
            return f"secret:{raw}" if raw not in (NO_SECRET, NEW_VALUE) else ""
        if kind == "choice":
            return "" if raw == _DEFAULT else raw
        if kind == "switch":
            return "" if raw in (_DEFAULT, self.spec.setting.default) else raw
        text = raw.strip() if isinstance(raw, str) else raw
        if kind == "list":
            return [s for s in re.split(r"[\s,]+", text) if s]
        if kind == "number" and text:
            try:
                return int(text)
            except ValueError:
                if self.spec.setting.kind == "integer":
                    raise ValueError("must be a whole number") from None
                try:
                    return float(text)
                except ValueError:
                    raise ValueError("must be a number") from None
        return text

    def load(self, value: Any) -> None:
        """Show a saved value (a secret field shows the secret a reference names)."""
        kind = self.spec.kind
        if kind == "secret":
            name = (
                value[len("secret:") :]
                if isinstance(value, str) and value.startswith("secret:")
                else ""
            )
            self.set_secret_options(extra=name)
            self.input.value = name
        elif kind == "list":
            self.input.value = " ".join(value) if isinstance(value, list) else str(value or "")
        elif kind == "choice":
            options = [v for _, v in self.input.options]
            self.input.value = value if value in options else options[0]
        elif kind == "switch":
            self.input.value = value if isinstance(value, bool) else self._switch_default()
        else:
            self.input.value = "" if value is None else str(value)

    def restore(self, value: Any) -> None:
        """Show again what this field held before its type was switched away."""
        if value == NEW_VALUE:
            return  # back to "choose a secret": its value field is made when chosen again
        if self.spec.kind == "secret":
            self.set_secret_options()  # the value is kept if the secret is still visible
        options = [v for _, v in self.input.options] if hasattr(self.input, "options") else None
        if options is None or value in options:
            self.input.value = value

    # -- secret fields -----------------------------------------------------------------
    @staticmethod
    def _secret_options(names: list[str]) -> list[tuple[str, str]]:
        return [
            ("\u2014 choose a secret \u2014", NO_SECRET),
            *((n, n) for n in sorted(names)),
            ("type a new value\u2026", NEW_VALUE),
        ]

    def set_secret_options(self, extra: str = "") -> None:
        names = self.form.secret_names()
        if extra and extra not in names:
            names.append(extra)
        current = self.input.value
        self.input.options = self._secret_options(names)
        self.input.value = current if current in names or current == NEW_VALUE else NO_SECRET

    def _on_pick(self, change: dict[str, Any]) -> None:
        with self.form.lock:
            self._picked(change)

    def _picked(self, change: dict[str, Any]) -> None:
        if change["new"] == NEW_VALUE and self.typed is None:
            # made once, then shown only while "type a new value" is chosen
            self.typed = SecretInput(
                description="value",
                placeholder="type it, then Enter: bound as a session secret",
                layout=self.form.parts.field,
                style=self.form.parts.style,
            )
            self.typed.observe(self._on_typed, names="value")
        self.form.relayout()

    def close(self) -> None:
        for widget in (self.typed, self.input):
            if widget is not None:
                widget.close()
        self.error.close()

    def _on_typed(self, change: dict[str, Any]) -> None:
        typed = change["new"]
        if not typed:
            return
        assert self.typed is not None
        self.typed.value = ""  # the model never keeps the value, whatever happens next
        with self.form.lock:
            self._bind_typed(typed)

    def _bind_typed(self, typed: str) -> None:
        status(self.error, "", "")
        name = self.form.derived_secret_name(self.spec.key)
        if not name:
            status(
                self.error,
                "error",
                "type the credential's name first (the secret is named after it); "
                "the value was discarded",
            )
            return
        level = self.form.level_choice()
        ok, _ = safe_call(self.error, lambda: bind_at(name, level, value=typed))
        self.form.scrub_form()
        if ok:
            self.set_secret_options(extra=name)
            self.input.value = name  # hides the value field
            status(
                self.error,
                "warn",
                f"bound as session secret {name} at {level_label(level)}: kept in this "
                "kernel's memory only (after a restart, bind it again or from a lasting "
                "source in the secret binder)",
            )


class CredentialSetup(Panel):
    """Choose a type, fill its fields, Test, Save (references only) at a level.

    The levels and the secrets the secret fields offer follow changes made anywhere;
    a Test result is cleared when a secret binding or the namespace changes (it
    described the form's inputs as they were)."""

    LIVE = frozenset({"secret", "namespace", "config"})

    def __init__(self) -> None:
        parts = Parts.shared()
        self.parts = parts
        self.name = parts.text("Name *", placeholder="my_oauth")
        self.name_error = FieldError(parts, self.relayout)
        self.levels = LevelChoice(parts=parts)
        self.level = self.levels.dropdown
        types = form_types()
        self.type = parts.dropdown("Type *", options=types, value=types[0][1])
        #: the fields built so far, by key (built when a type first shows them; a key two
        #: types share keeps its value across a type change)
        self.fields: dict[str, _Field] = {}
        self.shown: list[str] = []
        self.test_button = parts.button(
            "Test",
            icon="plug",
            tooltip="Request a token with the form as it is (writes nothing)",
        )
        self.save_button = parts.button(
            "Save",
            button_style="primary",
            icon="save",
            tooltip="Write the definition to nbcreds.toml (references only)",
        )
        self.buttons = parts.row([self.test_button, self.save_button])
        self.message = parts.html()
        self._listeners: list[Callable[[], None]] = []
        # settings of a loaded definition the form has no field for (claims, permissions...)
        self._kept: dict[str, Any] = {}
        self._kept_type = ""
        self._laying_out = False
        self._test_shown = False  # the message is a Test result
        #: (kind, value) of the fields of a type shown before, by key (see _show_fields)
        self._left: dict[str, tuple[str, Any]] = {}
        super().__init__([], parts)
        self.type.observe(lambda _: self._show_fields(), names="value")
        self.level.observe(lambda _: self._refresh_secrets(), names="value")
        self.save_button.on_click(lambda _: self.save())
        self.test_button.on_click(lambda _: self.test())
        self.refresh()
        self.go_live()

    def hidden(self) -> list[Any]:
        return []

    def follow(self, kinds: set[str]) -> None:
        with self.lock:
            if self.comm is None:
                return
            if self._test_shown:
                status(self.message, "", "")
                self._test_shown = False
            self.refresh()

    def close(self) -> None:
        for field in self.fields.values():
            field.close()
        self.name_error.close()
        super().close()

    # -- layout ------------------------------------------------------------------
    @locked
    def relayout(self) -> None:
        """Lay the controls out: one column, each field's error right below it."""
        if self._laying_out or not hasattr(self, "buttons"):
            return
        children = [self.name]
        if self.name_error.shown is not None:
            children.append(self.name_error.shown)
        children += [self.level, self.type]
        for key in self.shown:
            children += self.fields[key].controls()
        children += [self.buttons, self.message]
        if list(self.children) != children:  # type: ignore[has-type]
            self.children = children

    # -- public --------------------------------------------------------------
    def on_saved(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each successful Save."""
        self._listeners.append(callback)

    @locked
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
        """The form as a definition (references only) for the chosen type; ValueError
        (naming no value) when a number field holds no number."""
        definition: dict[str, Any] = {"type": self.type.value}
        for key in self.shown:
            value = self.fields[key].value()
            if value in ("", [], None):
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

    @locked
    def load(self, name: str, level: str | None = None) -> None:
        """Fill the form from the saved definition ``name`` at ``level``."""
        definition = _saved(name, level)
        if definition is None:
            status(self.message, "error", f"no credential '{name}' at {level_label(level)}")
            return
        self.name.value = name
        self.levels.select(level)
        ctype = definition.get("type")
        if ctype in dict((v, k) for k, v in self.type.options):
            self.type.value = ctype
        self._show_fields()
        shown = {key.partition(".")[0] for key in self.shown} | {"type"}
        self._kept = {k: v for k, v in definition.items() if k not in shown}
        self._kept_type = str(ctype)
        for key in self.shown:
            table, _, sub = key.partition(".")
            if sub:
                nested = definition.get(table)
                self.fields[key].load(nested.get(sub) if isinstance(nested, dict) else None)
            else:
                self.fields[key].load(definition.get(key))

    def scrub_form(self) -> bool:
        """Clear any plain field holding a secret value; say so next to it."""
        found = False
        for field in self.fields.values():
            if field.spec.kind in ("text", "list", "number") and scrub(field.input):
                status(
                    field.error,
                    "error",
                    "this field held a secret value and was cleared: for a secret, "
                    "choose 'type a new value' in a secret field",
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
        for key in self.shown:
            field = self.fields[key]
            try:
                value = field.value()
            except ValueError as exc:
                status(field.error, "error", str(exc))
                ok = False
                continue
            if field.spec.setting.required and value in ("", []):
                status(field.error, "error", "required for this type")
                ok = False
        return ok

    @locked
    def save(self) -> bool:
        """Validate and write the definition; True when it was saved."""
        try:
            return self._save()
        finally:
            self._sweep_errors()

    @locked
    def test(self) -> bool:
        """Request a fresh token for the form as it is now -- saved or not -- and show the
        server's answer. Writes nothing. True on success."""
        try:
            return self._test()
        finally:
            self._sweep_errors()

    def _sweep_errors(self) -> None:
        """Close the error lines the action left empty (:meth:`FieldError.sweep`)."""
        self.name_error.sweep()
        for field in self.fields.values():
            field.error.sweep()

    def _save(self) -> bool:
        status(self.message, "", "")
        self._test_shown = False
        if not self._ready("not saved"):
            return False
        name = self.name.value.strip()
        level = self.level_choice()
        definition = self.definition()
        try:
            path = nc.save_credential(name, definition, level)
        except (ConfigError, CredentialConfigError) as exc:
            self._show_at_fault(exc, "not saved")
            return False
        except Exception as exc:
            status(self.message, "error", f"not saved: {error_text(exc)}")
            return False
        where = f"saved '{name}' at {level_label(level)} in {path}"
        memory_only = self.memory_only_secrets(definition, level)
        if memory_only:
            status(
                self.message,
                "warn",
                f"{where}; but {', '.join(memory_only)} "
                f"{'is a typed value' if len(memory_only) == 1 else 'are typed values'} "
                "kept in this kernel's memory only: after a restart this credential fails "
                "until you bind it again (or bind it from an environment variable, Vault "
                "or the OS keyring in the secret binder)",
            )
        else:
            status(self.message, "ok", where)
        for listener in list(self._listeners):
            safe_call(self.message, listener)
        return True

    def _test(self) -> bool:
        status(self.message, "", "")
        self._test_shown = False
        if not self._ready("not tested"):
            return False
        self._test_shown = True  # whatever it says below is a Test result
        name = self.name.value.strip()
        level = self.level_choice()
        saved = self._is_saved()
        try:
            message = _check_unsaved(name, level, self.definition())
        except (ConfigError, CredentialConfigError) as exc:
            self._show_at_fault(exc, "not tested")
            return False
        except NbcredsError as exc:
            status(self.message, "error", f"Test failed: {exc}")
            return False
        except Exception as exc:
            status(self.message, "error", f"Test failed: {error_text(exc)}")
            return False
        note = "" if saved else " (nothing was saved: Save to keep this definition)"
        status(self.message, "ok", f"Test passed: {message}{note}")
        return True

    def memory_only_secrets(self, definition: dict[str, Any], level: str | None) -> list[str]:
        """The secrets ``definition`` references that are typed values held in this kernel's
        memory only (``session`` source): after a restart they are gone."""
        names = {
            value[len("secret:") :]
            for key, value in definition.items()
            if isinstance(value, str) and value.startswith("secret:")
        }
        if not names:
            return []
        ok, rows = safe_call(self.message, lambda: nc.list_secrets(level))
        if not ok:
            return []
        found = {r.name: str(r.source) for r in rows if level is not None or r.level is None}
        return sorted(n for n in names if found.get(n) == "session")

    # -- internals -------------------------------------------------------------
    def _ready(self, verb: str) -> bool:
        if self.scrub_form():
            status(self.message, "error", f"{verb}: a secret value was in a plain field")
            return False
        if not self.validate():
            status(self.message, "error", f"{verb}: fix the fields marked above")
            return False
        return True

    def _show_at_fault(self, exc: ConfigError | CredentialConfigError, verb: str) -> None:
        """The error next to the field it names (the exception's ``key``), else below."""
        key = exc.key if isinstance(exc.key, str) else ""
        field = self.fields.get(key) if key in self.shown else None
        if field is not None:
            status(field.error, "error", str(exc))
            status(self.message, "error", f"{verb}: fix the field marked above")
        else:
            status(self.message, "error", f"{verb}: {exc}")

    def _is_saved(self) -> bool:
        name = self.name.value.strip()
        saved = _saved(name, self.level_choice())
        try:
            return saved is not None and saved == self.definition()
        except ValueError:
            return False

    def _clear_errors(self) -> None:
        self._laying_out = True
        try:
            status(self.name_error, "", "")
            for field in self.fields.values():
                status(field.error, "", "")
        finally:
            self._laying_out = False
        self.relayout()

    @locked
    def _show_fields(self) -> None:
        was, self._laying_out = self._laying_out, True  # no layout of half-built fields
        try:
            self._build_fields()
        finally:
            self._laying_out = was
        self.relayout()

    def _build_fields(self) -> None:
        specs = type_specs(self.type.value)
        wanted = {spec.key for spec in specs}
        for key in [k for k in self.fields if k not in wanted]:
            # another type's field: closed (a saved notebook keeps live models only), what
            # it held kept here for a switch back -- a reference or plain text; a secret
            # typed into it by mistake is not sent back to the frontend
            gone = self.fields.pop(key)
            value = gone.input.value
            if not (isinstance(value, str) and holds_secret(value)):
                self._left[key] = (gone.spec.kind, value)
            gone.close()
        for spec in specs:
            field = self.fields.get(spec.key)
            if field is not None and field.spec.kind != spec.kind:  # same key, other control
                field.close()
                field = None
            if field is None:
                field = self.fields[spec.key] = _Field(spec, self)
                kind, value = self._left.pop(spec.key, (None, None))
                if kind == spec.kind:
                    field.restore(value)
            field.spec = spec  # required or not is the current type's say
            want = field.label(required=spec.setting.required)
            if field.input.description != want:
                field.input.description = want
        self.shown = [spec.key for spec in specs]
        self._refresh_secrets()

    @locked
    def _refresh_secrets(self) -> None:
        for key in self.shown:
            field = self.fields[key]
            if field.spec.kind == "secret":
                field.set_secret_options()


def _saved(name: str, level: str | None) -> dict[str, Any] | None:
    """The definition ``name`` as the loaded config holds it at ``level``."""
    import nbcreds.credentials

    return nbcreds.credentials.definition_table(name, level)


def _check_unsaved(name: str, level: str | None, table: dict[str, Any]) -> str:
    """Validate ``table`` as credential ``name`` at ``level`` exactly as the config would
    (the loaded config is not changed) and mint a fresh token with it, bypassing the
    cache (:func:`nbcreds.credentials.check_unsaved`). Returns what to tell the user;
    raises the engine's errors."""
    import nbcreds.credentials

    result = nbcreds.credentials.check_unsaved(name, level, table)
    parts = [f"a token was obtained for '{name}' ({result.type}, level {level_label(level)})"]
    if result.token_endpoint:
        parts.append(f" from {result.token_endpoint}")
    if result.valid_for is not None:
        parts.append(f", valid for {result.valid_for} s")
    if result.scope:
        parts.append(f", scopes: {result.scope}")
    return "".join(parts)


def credential_setup() -> CredentialSetup:
    """A form to define a credential (by type), Test it, and Save it to nbcreds.toml."""
    return CredentialSetup()

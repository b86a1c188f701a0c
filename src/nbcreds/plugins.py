"""The open registries: secret source types and credential types.

Two entry-point groups list them, and nbcreds' own built-ins register through
them exactly as a third-party package does::

    # pyproject.toml of a plugin
    [project.entry-points."nbcreds.secret_sources"]
    example = "my_plugin:SOURCE"          # a SourceType

    [project.entry-points."nbcreds.credential_types"]
    example_token = "my_plugin:CREDENTIAL"  # a CredentialType

A declaration is a light object: loading the entry point must not import the
heavy client library. How to build the source (or mint the token) is a
callable that imports what it needs when it runs. Entry points are read once
per process, on first use (the first config load), and cached.

Everything that lists source types, reference schemes or credential types --
config validation, :func:`nbcreds.config.parse_reference`, the magics'
completers, ``%secret bind NAME --from REF``, the credential form, the sidebar
-- asks this module. See ``docs/plugins.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._exceptions import ConfigError
from ._plugin_api import Minted, SecretData, SecretSource, SourceHealth

if TYPE_CHECKING:
    from ._definition import Definition
    from .credentials._engine import TokenHttp

__all__ = [
    "CREDENTIAL_GROUP",
    "KINDS",
    "SOURCE_GROUP",
    "CredentialType",
    "Minted",
    "Reference",
    "SecretData",
    "SecretSource",
    "Setting",
    "SourceContext",
    "SourceHealth",
    "SourceType",
    "Strategy",
    "check_settings",
    "credential_type",
    "credential_types",
    "did_you_mean",
    "in_default_order",
    "is_reference",
    "markdown",
    "parse_reference",
    "provider",
    "reference_forms",
    "reference_help",
    "reference_schemes",
    "register_credential_type",
    "register_source_type",
    "scheme_owner",
    "source_type",
    "source_types",
    "unregister",
]

SOURCE_GROUP = "nbcreds.secret_sources"
CREDENTIAL_GROUP = "nbcreds.credential_types"

#: The kinds a :class:`Setting` may have, and what TOML values each accepts.
KINDS: dict[str, str] = {
    "text": "a string",
    "text_or_int": "a string or an integer",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "list": "a list of strings",
    "words": "a list of strings (or one space-separated string)",
    "table": "a table",
    "duration": 'an ISO-8601 duration such as "PT1M" (or a number of seconds)',
}


@dataclass(frozen=True)
class Setting:
    """One key of a settings table (``[sources.NAME]``) or of a credential definition.

    ``secret=True``: the key holds secret material, so its value must be a
    reference (``env:VAR``, ``vault:path#field``, ``secret:NAME``...), never a
    literal. ``choices`` restricts the value; ``check`` returns a problem (the
    text of an error, never quoting the value) or None.
    """

    key: str
    kind: str = "text"
    required: bool = False
    default: Any = None
    secret: bool = False
    choices: tuple[Any, ...] = ()
    help: str = ""
    label: str = ""
    placeholder: str = ""
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown setting kind {self.kind!r}; use one of {', '.join(KINDS)}")

    @property
    def shown(self) -> str:
        """The label a form shows (``label``, else the key in words)."""
        return self.label or self.key.replace("_", " ").capitalize()


@dataclass(frozen=True)
class SourceContext:
    """What a source type's ``build`` gets besides its validated settings."""

    #: the source type's name (its table is ``[sources.NAME]``)
    name: str
    #: ``[sources.NAME]`` with defaults filled in (a copy; values as in the file)
    settings: Mapping[str, Any]
    #: the config file naming it (None: embedded defaults)
    path: Path | None
    #: the loaded config (``config.error(...)``, ``config.table(...)``)
    config: Any
    #: a per-process store surviving config reloads (e.g. the session secrets)
    keep: Callable[[str, Callable[[], Any]], Any]

    @property
    def directory(self) -> Path:
        """The directory relative paths are relative to: the config file's, else the cwd."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def table(self) -> str:
        return f"sources.{self.name}"

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """A ConfigError naming the file, this source's table and ``key``."""
        return ConfigError(
            message,
            path=str(self.path) if self.path else "<embedded defaults>",
            table=self.table,
            key=key,
        )


@dataclass(frozen=True)
class SourceType:
    """A kind of place secrets come from.

    ``build(ctx)`` returns a :class:`~nbcreds.plugins.SecretSource`; a source
    that owns reference schemes implements ``read_reference(ref)`` for them.
    ``default_order``: it is tried for plain names (``secret("X")``) when the
    config gives no ``[sources] order``. ``needs_config``: it exists only when
    ``[sources.NAME]`` is present (a server needs an address).
    ``check(settings)`` may return ``(key, problem)`` for rules across keys.
    """

    name: str
    build: Callable[[SourceContext], SecretSource] = field(compare=False)
    schemes: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    #: ``True`` / ``False``, or a cheap zero-argument check asked when the default
    #: order is computed (the keyring source joins only when a backend is likely there)
    default_order: bool | Callable[[], bool] = True
    needs_config: bool = False
    #: where it goes in the default order (lower first; session 0, env 10, vault 50)
    position: int = 100
    description: str = ""
    #: how a reference of each scheme looks (``{"vault": "vault:path#field"}``)
    reference_forms: Mapping[str, str] = field(default_factory=dict)
    #: what the target of each scheme is, in words, for forms (``{"env": "environment
    #: variable"}``)
    reference_labels: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = field(
        default=None, compare=False
    )


class Strategy(Protocol):
    """How one credential type checks a definition and mints a token."""

    def validate(self, definition: Definition) -> None: ...

    def mint(self, definition: Definition, http: TokenHttp) -> Minted: ...


@dataclass(frozen=True)
class CredentialType:
    """A kind of credential: its fields (for validation and forms) and its minting.

    Every type also accepts the engine's common keys (``description``,
    ``token_endpoint``, ``scopes``, ``audience``, ``token_caching``,
    ``timeout``); list one of them in ``fields`` to show it in forms or make it
    required. ``strategy()`` imports and returns the :class:`Strategy`.
    """

    name: str
    label: str
    fields: tuple[Setting, ...]
    strategy: Callable[[], Strategy] = field(compare=False)
    description: str = ""
    #: where it goes in lists and forms (lower first)
    position: int = 100

    def field(self, key: str) -> Setting | None:
        return next((f for f in self.fields if f.key == key), None)


# --- the registries --------------------------------------------------------------------------

_lock = threading.RLock()
_loaded: dict[str, dict[str, Any]] = {}  # group -> entry points loaded (once per process)
_added: dict[str, dict[str, Any]] = {SOURCE_GROUP: {}, CREDENTIAL_GROUP: {}}
_merged: dict[str, dict[str, Any]] = {}  # group -> loaded + added (rebuilt on register)
#: entry points that failed to load: "group:name" -> why (shown when a config names them)
_broken: dict[str, str] = {}
#: "group:name" -> the distribution whose entry point provides it
_origins: dict[str, str] = {}


def _load(group: str, kind: type[Any]) -> dict[str, Any]:
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
            if not isinstance(obj, kind) and callable(obj):
                obj = obj()
        except Exception as exc:  # a broken plugin must not break nbcreds
            _broken[f"{group}:{ep.name}"] = f"{ep.value} failed to load ({type(exc).__name__})"
            continue
        if not isinstance(obj, kind) or obj.name != ep.name:
            _broken[f"{group}:{ep.name}"] = f"{ep.value} is not a {kind.__name__} named {ep.name!r}"
            continue
        if ep.name not in found:
            found[ep.name] = obj
            dist = getattr(ep, "dist", None)
            _origins[f"{group}:{ep.name}"] = str(getattr(dist, "name", "") or "")
    return found


def provider(group: str, name: str) -> str:
    """The distribution providing ``name`` through ``group``'s entry points (``""``: added
    at run time with ``register_*``, or unknown)."""
    _registry(group)
    return _origins.get(f"{group}:{name}", "")


def _registry(group: str) -> dict[str, Any]:
    merged = _merged.get(group)
    if merged is not None:
        return merged
    with _lock:
        if group not in _loaded:
            kind = SourceType if group == SOURCE_GROUP else CredentialType
            loaded = _load(group, kind)
            if group == SOURCE_GROUP and "env" not in loaded:
                raise ConfigError(
                    "nbcreds' own entry points are missing (its package metadata is stale "
                    "or it is not installed): reinstall it, e.g. pip install -e ."
                )
            _loaded[group] = loaded
        both = {**_loaded[group], **_added[group]}
        merged = dict(sorted(both.items(), key=lambda kv: (kv[1].position, kv[0])))
        _merged[group] = merged
        return merged


def _source_map() -> dict[str, SourceType]:
    return _registry(SOURCE_GROUP)


def _credential_map() -> dict[str, CredentialType]:
    return _registry(CREDENTIAL_GROUP)


def source_types() -> dict[str, SourceType]:
    """Every installed secret source type, by name."""
    return dict(_source_map())


def source_type(name: str) -> SourceType | None:
    """The source type ``name``, or None when no installed plugin provides it."""
    return _source_map().get(name)


def credential_types() -> dict[str, CredentialType]:
    """Every installed credential type, by name."""
    return dict(_credential_map())


def credential_type(name: str) -> CredentialType | None:
    """The credential type ``name``, or None when no installed plugin provides it."""
    return _credential_map().get(name)


_schemes_cache: list[Any] = [None, {}, []]  # [merged registry seen, scheme -> owner, forms]


def _schemes() -> tuple[dict[str, str], list[str]]:
    sources = _source_map()
    cache = _schemes_cache
    if cache[0] is not sources:
        owners: dict[str, str] = {}
        forms: list[str] = []
        for stype in sorted(sources.values(), key=lambda t: (t.position, t.name)):
            for scheme in stype.schemes:
                if scheme not in owners and scheme != "secret":
                    owners[scheme] = stype.name
                    forms.append(stype.reference_forms.get(scheme, f"{scheme}:NAME"))
        owners["secret"] = ""
        forms.append("secret:NAME")
        cache[1], cache[2], cache[0] = owners, forms, sources
    return cache[1], cache[2]


def reference_schemes() -> dict[str, str]:
    """Reference scheme -> the source type reading it; ``secret`` (-> ``""``) is nbcreds'
    own: another secret, resolved through the namespace hierarchy."""
    return _schemes()[0]


def scheme_owner(scheme: str) -> SourceType | None:
    """The source type reading references of ``scheme`` (None for ``secret:`` or unknown)."""
    name = _schemes()[0].get(scheme)
    return _source_map().get(name) if name else None


def reference_forms() -> list[str]:
    """How each kind of reference looks (``env:VAR``, ``vault:path#field``...), for messages."""
    return list(_schemes()[1])


def broken(group: str, name: str) -> str | None:
    """Why the entry point ``name`` of ``group`` did not load, if it failed."""
    _registry(group)
    return _broken.get(f"{group}:{name}")


def register_source_type(stype: SourceType) -> None:
    """Add a source type at run time (tests, notebooks); entry points are the normal way."""
    with _lock:
        _added[SOURCE_GROUP][stype.name] = stype
        _merged.pop(SOURCE_GROUP, None)


def register_credential_type(ctype: CredentialType) -> None:
    """Add a credential type at run time (tests, notebooks)."""
    with _lock:
        _added[CREDENTIAL_GROUP][ctype.name] = ctype
        _merged.pop(CREDENTIAL_GROUP, None)


def unregister(name: str) -> None:
    """Remove a type added with ``register_*`` (entry points stay)."""
    with _lock:
        for group in (SOURCE_GROUP, CREDENTIAL_GROUP):
            if _added[group].pop(name, None) is not None:
                _merged.pop(group, None)


# --- references --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A parsed secret reference: ``env:VAR``, ``vault:path#field`` or ``secret:NAME``."""

    scheme: str
    target: str
    field: str | None = None

    def __str__(self) -> str:
        suffix = f"#{self.field}" if self.field else ""
        return f"{self.scheme}:{self.target}{suffix}"


def is_reference(value: object) -> bool:
    """True if ``value`` is a string ``SCHEME:...`` of a known scheme: ``secret:``, and
    those of the installed source types (``env:``, ``vault:``...)."""
    if not isinstance(value, str) or ":" not in value:
        return False
    scheme, _, rest = value.partition(":")
    return bool(rest) and not rest.startswith("//") and scheme in reference_schemes()


def reference_help() -> str:
    """The forms of reference the installed source types read, for messages."""
    forms = reference_forms()
    return ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0]


def parse_reference(value: str) -> Reference:
    """Parse a reference; raises ``ValueError`` (without the value) when it is not one."""
    if not is_reference(value):
        raise ValueError(f"not a reference: expected {reference_help()}")
    scheme, _, rest = value.partition(":")
    target, _, fld = rest.partition("#")
    if not target:
        raise ValueError(f"empty target in a {scheme}: reference")
    return Reference(scheme, target, fld or None)


# --- validation --------------------------------------------------------------------------------


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'order'?)`` when a known key is close to ``key``, else ``""``."""
    import difflib  # only for the error: slow to import

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _kind_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "text":
        return isinstance(value, str)
    if kind == "text_or_int":
        return isinstance(value, str | int)
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "boolean":
        return False
    if kind == "list":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if kind == "words":
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(x, str) for x in value)
        )
    if kind == "table":
        return isinstance(value, dict)
    if kind == "duration":
        return isinstance(value, str | int | float)
    return False


def check_settings(
    table: Mapping[str, Any],
    settings: Iterable[Setting],
    *,
    extra_keys: Iterable[str] = (),
) -> tuple[str, str] | None:
    """The first problem of ``table`` against ``settings`` as ``(key, message)``, or None.

    Unknown keys (with a "did you mean"), missing required keys, wrong kinds,
    values outside ``choices``, literal values in secret keys and ``check``
    failures. Messages never quote a value. ``extra_keys`` are accepted unchecked.
    """
    schema = {s.key: s for s in settings}
    allowed = set(schema) | set(extra_keys)
    for key in table:
        if key not in allowed:
            return key, (
                f"unknown key{did_you_mean(key, allowed)}; known: {', '.join(sorted(allowed))}"
            )
    for key, spec in schema.items():
        if key not in table:
            if spec.required:
                return key, f"is required ({KINDS[spec.kind]}{_help(spec)})"
            continue
        value = table[key]
        if spec.secret:
            if not isinstance(value, str) or not is_reference(value):
                return key, (
                    f"holds secret material and must be a reference ({reference_help()}), "
                    "never a literal value"
                )
        elif not _kind_ok(spec.kind, value):
            return key, f"must be {KINDS[spec.kind]}{_help(spec)}"
        if spec.choices and value not in spec.choices:
            shown = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in spec.choices)
            return key, f"must be one of {shown}"
        if spec.check is not None:
            problem = spec.check(value)
            if problem:
                return key, problem
    return None


def _help(spec: Setting) -> str:
    return f"; {spec.help}" if spec.help else ""


# --- docs ----------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(setting: Setting) -> str:
    if setting.default is None:
        return ""
    if isinstance(setting.default, bool):
        return "`true`" if setting.default else "`false`"
    if isinstance(setting.default, str):
        return f'`"{setting.default}"`'
    return f"`{setting.default}`"


def _settings_table(settings: Iterable[Setting]) -> list[str]:
    rows = [
        "| key | kind | required | default | secret | choices | help |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in settings:
        choices = ", ".join(f"`{c}`" for c in s.choices)
        rows.append(
            f"| `{s.key}` | {s.kind} | {'yes' if s.required else ''} | {_default(s)} | "
            f"{'reference' if s.secret else ''} | {choices} | {_cell(s.help)} |"
        )
    return rows


def _joins(default_order: bool | Callable[[], bool]) -> str:
    if callable(default_order):
        return "when available"
    return "yes" if default_order else "no"


def in_default_order(stype: SourceType) -> bool:
    """Whether ``stype`` joins the default order now (its check asked, if it has one)."""
    joins = stype.default_order
    return bool(joins()) if callable(joins) else bool(joins)


def markdown(distribution: str | None = None) -> str:
    """The tables of ``docs/plugins.md``: every installed source and credential type
    (with ``distribution``, only those that distribution provides)."""

    def mine(group: str, name: str) -> bool:
        return distribution is None or provider(group, name) == distribution

    sources = [t for t in source_types().values() if mine(SOURCE_GROUP, t.name)]
    creds = [c for c in credential_types().values() if mine(CREDENTIAL_GROUP, c.name)]
    out = ["| source | references | default order | needs a table | description |"]
    out.append("|---|---|---|---|---|")
    for t in sources:
        refs = ", ".join(f"`{t.reference_forms.get(s, s + ':NAME')}`" for s in t.schemes)
        out.append(
            f"| `{t.name}` | {refs} | {_joins(t.default_order)} | "
            f"{'yes' if t.needs_config else 'no'} | {_cell(t.description)} |"
        )
    for t in sources:
        if t.settings:
            out += ["", f"`[sources.{t.name}]`:", "", *_settings_table(t.settings)]
    out += ["", "| credential type | label | description |", "|---|---|---|"]
    for c in creds:
        out.append(f"| `{c.name}` | {_cell(c.label)} | {_cell(c.description)} |")
    for c in creds:
        out += ["", f'`type = "{c.name}"`:', "", *_settings_table(c.fields)]
    return "\n".join(out) + "\n"

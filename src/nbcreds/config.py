"""``nbcreds.toml``: where secrets come from, credential definitions, KV settings.

Found from ``$NBCREDS_CONFIG``, else the working directory and its parents,
else the user config dir (platformdirs). No file at all is fine: embedded
defaults apply (env + session secrets, SQLite KV in the user data dir).

Layout::

    namespace = "company.team"          # default namespace (optional)
    tenant = "main"                     # tenant id (optional)

    [sources]
    order = ["session", "env", "vault"] # tried in this order at every level

    [sources.env]
    prefix = "SECRET_"                  # Kestra's convention: base64 values

    [sources.vault]                     # HashiCorp Vault / OpenBao (see docs)
    url = "http://127.0.0.1:8200"
    auth = "token"
    token = "env:VAULT_TOKEN"           # a reference, never a value

    [secrets]                           # tenant-level secrets, by reference
    GITHUB_TOKEN = "env:GITHUB_TOKEN"
    DB_PASSWORD = "vault:db/prod#password"

    [credentials.my_oauth]              # tenant-level credential
    type = "oauth2_client_credentials"
    client_secret = "secret:CLIENT_SECRET"

    [kv]
    backend = "sqlite"                  # or "postgres" with url = "env:NBCREDS_KV_URL"

    [masking]
    min_length = 6

    [namespaces."company.team".secrets]
    API_KEY = "env:TEAM_API_KEY"

    [namespaces."company.team".credentials.gh]
    type = "github_app"

Secret-valued settings are references (``env:VAR``, ``vault:path#field``,
``secret:NAME``); a literal that looks like a secret is rejected with a
:class:`ConfigError` naming the file, the table and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plugins
from ._definition import check_definitions
from ._exceptions import ConfigError, NamespaceError
from .namespaces import validate as validate_namespace
from .plugins import Reference, is_reference, parse_reference, reference_help

__all__ = [
    "CONFIG_FILENAME",
    "KV_SETTINGS",
    "Config",
    "Reference",
    "add_table",
    "find_config",
    "is_reference",
    "load_config",
    "parse_reference",
    "reference_help",
    "validate_config",
]

CONFIG_FILENAME = "nbcreds.toml"

# Keys whose values are secret material: they must hold references.
_SENSITIVE_KEY = re.compile(
    r"(^|_)(secret|secrets|password|passwd|passphrase|token|private_key|privatekey|api_key|"
    r"apikey|secret_id|role_id|jwt|assertion|url_with_password|dsn)$",
    re.IGNORECASE,
)
# Keys that merely *mention* a sensitive word but hold no secret.
_NOT_SENSITIVE = {"token_endpoint", "token_url", "token_uri", "auth_token_path"}

# Shapes of well-known secrets: a literal like this anywhere is refused.
_SECRET_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an AWS access key", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Vault token", re.compile(r"\b(hvs|s|b)\.[A-Za-z0-9]{24,}\b")),
    ("a URL with a password", re.compile(r"://[^/\s:@]+:[^/\s@]+@")),
]


@dataclass
class Config:
    """A loaded ``nbcreds.toml`` (or the embedded defaults when ``path`` is None)."""

    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: validated credential definitions, (level, name) -> Definition (built at load)
    definitions: dict[tuple[str | None, str], Any] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "<embedded defaults>"

    @property
    def default_namespace(self) -> str | None:
        value = self.data.get("namespace")
        return value if isinstance(value, str) else None

    @property
    def tenant(self) -> str:
        value = self.data.get("tenant", "main")
        return value if isinstance(value, str) else "main"

    @property
    def directory(self) -> Path:
        """Where relative paths in the file are relative to (the cwd for the defaults)."""
        return self.path.parent if self.path is not None else Path.cwd()

    def table(self, *keys: str) -> dict[str, Any]:
        """A nested table of the top level, ``{}`` when absent."""
        node: Any = self.data
        for key in keys:
            if not isinstance(node, dict):
                return {}
            node = node.get(key, {})
        return node if isinstance(node, dict) else {}

    def level_table(self, namespace: str | None) -> dict[str, Any]:
        """The table of one level: the top level for the tenant, else ``[namespaces."ns"]``."""
        if namespace is None:
            return self.data
        return self.table("namespaces", namespace)

    def level_name(self, namespace: str | None) -> str:
        """The TOML name of a level's table, for error messages."""
        return "" if namespace is None else f'namespaces."{namespace}"'

    def secrets_at(self, namespace: str | None) -> dict[str, str]:
        """Secret references declared at exactly this level."""
        table = self.level_table(namespace).get("secrets", {})
        return dict(table) if isinstance(table, dict) else {}

    def credentials_at(self, namespace: str | None) -> dict[str, dict[str, Any]]:
        """Credential definitions declared at exactly this level."""
        table = self.level_table(namespace).get("credentials", {})
        return dict(table) if isinstance(table, dict) else {}

    def namespaces(self) -> list[str]:
        """Namespaces the config names."""
        names = set(self.table("namespaces"))
        if self.default_namespace:
            names.add(self.default_namespace)
        return sorted(names)

    def source_order(self) -> list[str]:
        """The sources tried for a plain name: ``[sources] order``, else every installed
        type that joins the default order (and is configured, when it needs a table)."""
        order = self.table("sources").get("order")
        if isinstance(order, list):
            return [str(x) for x in order]
        types = sorted(plugins.source_types().values(), key=lambda t: (t.position, t.name))
        return [
            t.name
            for t in types
            if plugins.in_default_order(t) and (not t.needs_config or self.configured(t.name))
        ]

    def configured(self, source: str) -> bool:
        """True when ``[sources.NAME]`` holds settings."""
        return bool(self.table("sources", source))

    def source_settings(self, name: str) -> dict[str, Any]:
        """``[sources.NAME]`` with the type's defaults filled in (validated at load)."""
        stype = plugins.source_type(name)
        table = self.table("sources", name)
        if stype is None:
            return dict(table)
        merged = {s.key: s.default for s in stype.settings if s.default is not None}
        merged.update(table)
        return merged

    def error(self, message: str, table: str | None, key: str | None = None) -> ConfigError:
        return ConfigError(message, path=self.where, table=table, key=key)


def find_config(start: Path | None = None) -> Path | None:
    """Locate ``nbcreds.toml``: ``$NBCREDS_CONFIG``, the working directory upwards,
    then the user config dir. None when there is none."""
    env = os.environ.get("NBCREDS_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(
                "NBCREDS_CONFIG points to a file that does not exist; fix or unset it",
                path=str(path),
            )
        return path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    import platformdirs

    user = Path(platformdirs.user_config_dir("nbcreds")) / CONFIG_FILENAME
    return user if user.is_file() else None


def load_config(path: Path | str | None = None, *, search: bool = True) -> Config:
    """Load and validate a config file; with no path, find one (or use the defaults)."""
    if path is None and search:
        path = find_config()
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", path=str(path)) from None
    import tomllib  # here: its parser compiles regexes at import, and most kernels have no file

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # tomllib's message quotes line/column, not values
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    config = Config(path=path, data=data)
    validate_config(config)
    return config


#: ``[kv]``: the KV store's backend and its settings
KV_SETTINGS: tuple[plugins.Setting, ...] = (
    plugins.Setting("backend", default="sqlite", choices=("sqlite", "postgres", "postgresql")),
    plugins.Setting("path", help="the SQLite file (relative to nbcreds.toml)"),
    plugins.Setting("url", help='postgres: a reference such as "env:NBCREDS_KV_URL"'),
    plugins.Setting("busy_timeout", kind="number", help="seconds a writer waits (SQLite)"),
    plugins.Setting("connect_timeout", kind="number", help="seconds (PostgreSQL)"),
    plugins.Setting(
        "timeout", kind="number", help="seconds one statement may take (PostgreSQL; default 30)"
    ),
)

_LEVEL_KEYS = {"secrets", "credentials", "description"}

#: top-level table name -> its validator (other layers add theirs with :func:`add_table`)
_TABLES: dict[str, Any] = {}


def add_table(name: str, validate: Any) -> None:
    """Accept a top-level ``[name]`` table, checked by ``validate(config, table)``
    (which raises :class:`ConfigError` through ``config.error``)."""
    _TABLES[name] = validate


def validate_config(config: Config) -> None:
    """Check every table by its schema and refuse literal secrets. Raises :class:`ConfigError`
    (naming the file, the table and the key) at the first problem."""
    data = config.data
    top = {"namespace", "tenant", "secrets", "credentials", "namespaces", *_TABLES}
    for key in data:
        if key not in top:
            raise config.error(
                f"unknown key{plugins.did_you_mean(key, top)}; expected one of "
                f"{', '.join(sorted(top))}",
                "",
                key,
            )
    for key in ("namespace", "tenant"):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise config.error("must be a non-empty string", "", key)
    ns = data.get("namespace")
    if ns is not None:
        try:
            validate_namespace(ns)
        except NamespaceError as exc:
            raise config.error(str(exc), "", "namespace") from None
    for name, validate in _TABLES.items():
        if name in data:
            if not isinstance(data[name], dict):
                raise config.error("must be a table", "", name)
            validate(config, data[name])
    if "namespaces" in data and not isinstance(data["namespaces"], dict):
        raise config.error("must be a table", "", "namespaces")
    _check_level(config, None)
    for name, table in config.table("namespaces").items():
        tname = f'namespaces."{name}"'
        try:
            validate_namespace(name)
        except NamespaceError as exc:
            raise config.error(str(exc), "namespaces", name) from None
        if not isinstance(table, dict):
            raise config.error("must be a table", "namespaces", name)
        for key in table:
            if key not in _LEVEL_KEYS:
                raise config.error(
                    f"unknown key{plugins.did_you_mean(key, _LEVEL_KEYS)}; a namespace table "
                    f"holds {', '.join(sorted(_LEVEL_KEYS))}",
                    tname,
                    key,
                )
        _check_level(config, name)
    for tname, key, value in _walk(data, ""):
        _check_literal(config, tname, key, value)
    check_definitions(config)


def _check_problem(config: Config, table: str, problem: tuple[str, str] | None) -> None:
    if problem is not None:
        key, message = problem
        raise config.error(message, table, key)


def _validate_sources(config: Config, table: dict[str, Any]) -> None:
    installed = plugins.source_types()
    known = sorted(installed)
    for key, value in table.items():
        if key == "order":
            continue
        if key not in installed:
            why = plugins.broken(plugins.SOURCE_GROUP, key)
            hint = f"; {why}" if why else plugins.did_you_mean(key, [*known, "order"])
            raise config.error(
                f"no installed plugin provides the secret source '{key}'{hint}; installed: "
                f"{', '.join(known)} (a [sources] table holds order and one table per source)",
                "sources",
                key,
            )
        if not isinstance(value, dict):
            raise config.error(f"must be a table of the {key} source's settings", "sources", key)
        stype = installed[key]
        tname = f"sources.{key}"
        _check_problem(config, tname, plugins.check_settings(value, stype.settings))
        if stype.check is not None:
            merged = config.source_settings(key)
            _check_problem(config, tname, stype.check(merged))
    order = table.get("order")
    if order is not None:
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            raise config.error("must be a list of source names", "sources", "order")
        for item in order:
            if item not in installed:
                why = plugins.broken(plugins.SOURCE_GROUP, item)
                hint = f"; {why}" if why else plugins.did_you_mean(item, known)
                raise config.error(
                    f"no installed plugin provides the secret source '{item}'{hint}; "
                    f"installed: {', '.join(known)}",
                    "sources",
                    "order",
                )
            if installed[item].needs_config and not config.configured(item):
                raise config.error(
                    f"the {item} source needs a [sources.{item}] table", "sources", "order"
                )


def _validate_kv(config: Config, table: dict[str, Any]) -> None:
    _check_problem(config, "kv", plugins.check_settings(table, KV_SETTINGS))
    for key in ("busy_timeout", "connect_timeout", "timeout"):
        if key in table and table[key] < 0:
            raise config.error("must be a number of seconds (e.g. 5 or 0.5)", "kv", key)
    if table.get("backend") in ("postgres", "postgresql") and not table.get("url"):
        raise config.error(
            'the postgres backend needs url = "env:NBCREDS_KV_URL" (or a secret: / vault: '
            "reference to a postgresql:// URL)",
            "kv",
            "url",
        )
    if "path" in table and not table["path"]:
        raise config.error("must be a file path", "kv", "path")


def _validate_masking(config: Config, table: dict[str, Any]) -> None:
    from .masking import MaskingSettingError, MaskingSettings

    try:
        MaskingSettings.from_table(table)
    except MaskingSettingError as exc:
        raise config.error(exc.message, "masking", exc.key) from None


#: ``[guard]``: the save guard's settings (read by :mod:`nbcreds.guard`, which owns the docs)
GUARD_SETTINGS: tuple[plugins.Setting, ...] = (
    plugins.Setting(
        "mode", default="scrub", choices=("scrub", "warn", "block", "off"), help="what a save does"
    ),
    plugins.Setting(
        "resolve", kind="boolean", default=False, help="the server resolves configured secrets"
    ),
)


def _validate_guard(config: Config, table: dict[str, Any]) -> None:
    _check_problem(config, "guard", plugins.check_settings(table, GUARD_SETTINGS))


add_table("sources", _validate_sources)
add_table("kv", _validate_kv)
add_table("masking", _validate_masking)
add_table("guard", _validate_guard)


def _check_level(config: Config, namespace: str | None) -> None:
    level = config.level_table(namespace)
    prefix = config.level_name(namespace)
    secrets = level.get("secrets", {})
    stable = f"{prefix}.secrets" if prefix else "secrets"
    if not isinstance(secrets, dict):
        raise config.error('must be a table of NAME = "reference"', prefix, "secrets")
    for name, ref in secrets.items():
        if not isinstance(ref, str) or not is_reference(ref):
            raise config.error(
                f"a secret must be a reference ({reference_help()}), never a literal value",
                stable,
                name,
            )
        try:
            parse_reference(ref)
        except ValueError as exc:
            raise config.error(str(exc), stable, name) from None
    creds = level.get("credentials", {})
    if not isinstance(creds, dict):
        raise config.error("must be a table of credential tables", prefix, "credentials")
    ctable = f"{prefix}.credentials" if prefix else "credentials"
    for name, definition in creds.items():
        if not isinstance(definition, dict):
            raise config.error("a credential must be a table", ctable, name)
        if "type" not in definition:
            raise config.error("a credential needs a 'type'", f"{ctable}.{name}", "type")


def _walk(node: Mapping[str, Any], table: str) -> Iterator[tuple[str, str, Any]]:
    for key, value in node.items():
        if isinstance(value, dict):
            sub = f"{table}.{_quote(key)}" if table else _quote(key)
            yield from _walk(value, sub)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _walk(item, f"{table}.{_quote(key)}" if table else _quote(key))
                else:
                    yield table, key, item
        else:
            yield table, key, value


def _quote(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _check_literal(config: Config, table: str, key: str, value: Any) -> None:
    if not isinstance(value, str) or is_reference(value):
        return
    if _SENSITIVE_KEY.search(key) and key.lower() not in _NOT_SENSITIVE and value:
        raise config.error(
            f"this setting holds secret material and must be a reference ({reference_help()}), "
            "not a literal value",
            table,
            key,
        )
    for kind, pattern in _SECRET_SHAPES:
        if pattern.search(value):
            raise config.error(
                f"the value looks like {kind}; keep secrets out of nbcreds.toml and use a "
                f"reference ({reference_help()})",
                table,
                key,
            )

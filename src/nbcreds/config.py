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
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError, NamespaceError
from .namespaces import validate as validate_namespace

__all__ = [
    "CONFIG_FILENAME",
    "Config",
    "Reference",
    "find_config",
    "is_reference",
    "load_config",
    "parse_reference",
]

CONFIG_FILENAME = "nbcreds.toml"
REFERENCE_SCHEMES = ("env", "vault", "secret")
#: the secret sources a `[sources] order` may name
SOURCE_NAMES = ("session", "env", "vault")

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
    """True if ``value`` is a string of the form ``env:...``, ``vault:...`` or ``secret:...``."""
    if not isinstance(value, str) or ":" not in value:
        return False
    scheme, _, rest = value.partition(":")
    return scheme in REFERENCE_SCHEMES and bool(rest) and not rest.startswith("//")


def parse_reference(value: str) -> Reference:
    """Parse a reference; raises ``ValueError`` (without the value) when it is not one."""
    if not is_reference(value):
        raise ValueError("not a reference: expected env:VAR, vault:path#field or secret:NAME")
    scheme, _, rest = value.partition(":")
    target, _, fld = rest.partition("#")
    if not target:
        raise ValueError(f"empty target in a {scheme}: reference")
    return Reference(scheme, target, fld or None)


@dataclass
class Config:
    """A loaded ``nbcreds.toml`` (or the embedded defaults when ``path`` is None)."""

    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

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
        order = self.table("sources").get("order")
        if isinstance(order, list):
            return [str(x) for x in order]
        default = ["session", "env"]
        if self.table("sources", "vault"):
            default.append("vault")
        return default

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
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # tomllib's message quotes line/column, not values
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    config = Config(path=path, data=data)
    validate_config(config)
    return config


_TOP_KEYS = {
    "namespace",
    "tenant",
    "sources",
    "secrets",
    "credentials",
    "kv",
    "masking",
    "namespaces",
    "http",
}
_LEVEL_KEYS = {"secrets", "credentials", "description"}


def validate_config(config: Config) -> None:
    """Check the structure and refuse literal secrets. Raises :class:`ConfigError`."""
    data = config.data
    for key in data:
        if key not in _TOP_KEYS:
            raise config.error(
                f"unknown key; expected one of {', '.join(sorted(_TOP_KEYS))}", "", key
            )
    ns = data.get("namespace")
    if ns is not None:
        try:
            validate_namespace(ns)
        except NamespaceError as exc:
            raise config.error(str(exc), "", "namespace") from None
    for table_key in ("sources", "kv", "masking", "namespaces", "http"):
        if table_key in data and not isinstance(data[table_key], dict):
            raise config.error("must be a table", "", table_key)
    order = config.table("sources").get("order")
    if order is not None:
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            raise config.error("must be a list of source names", "sources", "order")
        for item in order:
            if item not in SOURCE_NAMES:
                raise config.error(
                    f"unknown secret source '{item}'; known: {', '.join(SOURCE_NAMES)}",
                    "sources",
                    "order",
                )
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
                    f"unknown key; a namespace table holds {', '.join(sorted(_LEVEL_KEYS))}",
                    tname,
                    key,
                )
        _check_level(config, name)
    for tname, key, value in _walk(data, ""):
        _check_literal(config, tname, key, value)


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
                "a secret must be a reference (env:VAR, vault:path#field or secret:NAME), "
                "never a literal value",
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
            "this setting holds secret material and must be a reference "
            "(env:VAR, vault:path#field or secret:NAME), not a literal value",
            table,
            key,
        )
    for kind, pattern in _SECRET_SHAPES:
        if pattern.search(value):
            raise config.error(
                f"the value looks like {kind}; keep secrets out of nbcreds.toml and use a "
                "reference (env:VAR, vault:path#field or secret:NAME)",
                table,
                key,
            )

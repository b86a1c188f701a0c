"""The ``[sources.vault]`` table, parsed and checked once into :class:`VaultSettings`.

Every mistake is a :class:`~nbcreds.ConfigError` naming the file, the table and
the key. Vault's own credentials (token, role_id, secret_id, password, jwt) are
kept as references: they are resolved at login, never here.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ...config import Reference, is_reference, parse_reference

if TYPE_CHECKING:
    from ...config import Config

__all__ = ["AUTH_METHODS", "TABLE", "VaultSettings", "display_url", "parse_settings"]

log = logging.getLogger("nbcreds.secrets.vault")

TABLE = "sources.vault"
#: Auth methods and the keys each one takes (beyond the common keys).
AUTH_METHODS: dict[str, tuple[str, ...]] = {
    "token": ("token",),
    "approle": ("role_id", "secret_id", "auth_mount"),
    "userpass": ("username", "password", "auth_mount"),
    "jwt": ("jwt", "role", "auth_mount"),
}
_COMMON_KEYS = (
    "url",
    "auth",
    "mount",
    "kv_version",
    "path_prefix",
    "read_only",
    "ca_cert",
    "verify",
    "timeout",
    "refresh_before_expiry",  # of leases (nbcreds.lease)
)
_ALL_KEYS = frozenset(_COMMON_KEYS).union(*AUTH_METHODS.values())
#: Keys holding Vault's own credentials: always references (env: or secret:).
CREDENTIAL_KEYS = ("token", "role_id", "secret_id", "password", "jwt")
_REQUIRED = {"approle": ("role_id",), "userpass": ("username", "password"), "jwt": ("jwt", "role")}
_DEFAULT_MOUNTS = {"approle": "approle", "userpass": "userpass", "jwt": "jwt"}
#: Default of ``timeout``: seconds for one whole operation (login, read, list, write).
DEFAULT_TIMEOUT = 5.0
#: Default of ``refresh_before_expiry``: renew a lease this many seconds before it ends.
DEFAULT_LEASE_REFRESH = 60.0


@dataclass(frozen=True)
class VaultSettings:
    """What ``[sources.vault]`` says, checked. Holds references, never credentials."""

    url: str
    auth: str = "token"
    credentials: Mapping[str, Reference] = field(default_factory=dict)
    username: str | Reference | None = None
    role: str | None = None
    auth_mount: str = ""
    mount: str = "secret"
    kv_version: int = 2
    path_prefix: str = "nbcreds"
    read_only: bool = False
    #: ``None``: hvac honours ``VAULT_CACERT`` / ``VAULT_CAPATH``; a path: that CA bundle.
    verify: bool | str | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: Seconds before a lease's end at which it is renewed (``refresh_before_expiry``).
    refresh_before_expiry: float = DEFAULT_LEASE_REFRESH
    #: Where the settings came from (a config file), for messages.
    origin: str = ""

    def __post_init__(self) -> None:
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"unknown Vault auth method {self.auth!r}; known: {auth_names()}")
        if self.kv_version not in (1, 2):
            raise ValueError("kv_version must be 1 or 2")
        object.__setattr__(self, "url", self.url.rstrip("/"))
        object.__setattr__(self, "mount", self.mount.strip("/"))
        object.__setattr__(self, "path_prefix", self.path_prefix.strip("/"))
        mount = (self.auth_mount or _DEFAULT_MOUNTS.get(self.auth, "")).strip("/")
        object.__setattr__(self, "auth_mount", mount)

    @property
    def address(self) -> str:
        """The address shown in messages: the URL without any user info."""
        return display_url(self.url)

    @property
    def where(self) -> str:
        """The config file, for messages."""
        return self.origin or "the config"


def parse_settings(settings: Mapping[str, Any], config: Config) -> VaultSettings:
    """Check the ``[sources.vault]`` table (ConfigError naming the key when invalid)."""
    for key in settings:
        if key not in _ALL_KEYS:
            raise config.error(
                f"unknown key; [sources.vault] takes {', '.join(sorted(_ALL_KEYS))}", TABLE, key
            )
    auth = settings.get("auth", "token")
    if not isinstance(auth, str) or auth not in AUTH_METHODS:
        raise config.error(f"unknown auth method; use one of {auth_names()}", TABLE, "auth")
    for key in settings:
        if key in _COMMON_KEYS or key in AUTH_METHODS[auth]:
            continue
        users = [m for m, keys in AUTH_METHODS.items() if key in keys]
        raise config.error(
            f"'{key}' is only used with auth = {' or '.join(repr(u) for u in users)}, "
            f"and this table has auth = '{auth}'",
            TABLE,
            key,
        )
    for key in _REQUIRED.get(auth, ()):
        if key not in settings:
            raise config.error(f"auth = '{auth}' needs '{key}'", TABLE, key)

    url = _config_url(settings.get("url", "env:VAULT_ADDR"), config)
    credentials: dict[str, Reference] = {}
    defaults = {"token": "env:VAULT_TOKEN"} if auth == "token" else {}
    for key in CREDENTIAL_KEYS:
        if key in settings or key in defaults:
            credentials[key] = _config_reference(settings.get(key, defaults.get(key)), key, config)
    username: str | Reference | None = None
    if "username" in settings:
        raw = settings["username"]
        if not isinstance(raw, str) or not raw:
            raise config.error("must be a non-empty string (or env:VAR)", TABLE, "username")
        username = _config_reference(raw, "username", config) if is_reference(raw) else raw
    role = _config_str(settings, "role", None, config)
    auth_mount = _config_str(settings, "auth_mount", None, config)
    mount = _config_str(settings, "mount", "secret", config)
    if not mount or not mount.strip("/"):
        raise config.error("must name the KV engine's mount path", TABLE, "mount")
    kv_version = settings.get("kv_version", 2)
    if isinstance(kv_version, bool) or kv_version not in (1, 2):
        raise config.error("must be 1 or 2 (the KV engine's version)", TABLE, "kv_version")
    path_prefix = _config_str(settings, "path_prefix", "nbcreds", config)
    read_only = settings.get("read_only", False)
    if not isinstance(read_only, bool):
        raise config.error("must be true or false", TABLE, "read_only")
    timeout = settings.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise config.error("must be a positive number of seconds", TABLE, "timeout")
    refresh = settings.get("refresh_before_expiry")
    refresh_before_expiry = DEFAULT_LEASE_REFRESH
    if isinstance(refresh, int | float) and not isinstance(refresh, bool) and refresh >= 0:
        refresh_before_expiry = float(refresh)
    elif refresh is not None:
        from ..._definition import parse_duration

        try:
            refresh_before_expiry = parse_duration(refresh)
        except ValueError:
            raise config.error(
                "not an ISO-8601 duration such as PT1M or PT30S", TABLE, "refresh_before_expiry"
            ) from None
    verify_setting = settings.get("verify", True)
    if not isinstance(verify_setting, bool):
        raise config.error("must be true or false", TABLE, "verify")
    verify: bool | str | None = None  # None: hvac honours VAULT_CACERT / VAULT_CAPATH
    if "ca_cert" in settings:
        if not verify_setting:
            raise config.error(
                "ca_cert and verify = false contradict each other; keep ca_cert (and "
                "drop verify) to check the server's certificate",
                TABLE,
                "verify",
            )
        verify = _config_ca_cert(settings["ca_cert"], config)
    elif not verify_setting:
        verify = False
        message = (
            f"nbcreds: TLS certificate verification is disabled for Vault at "
            f"{display_url(url)} ([sources.vault] verify = false in {config.where}); "
            "anyone on the network path can read the secrets. Set ca_cert instead."
        )
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return VaultSettings(
        url,
        auth=auth,
        credentials=credentials,
        username=username,
        role=role,
        auth_mount=auth_mount or "",
        mount=mount,
        kv_version=kv_version,
        path_prefix=path_prefix,
        read_only=read_only,
        verify=verify,
        timeout=float(timeout),
        refresh_before_expiry=refresh_before_expiry,
        origin=config.where,
    )


def auth_names() -> str:
    return ", ".join(AUTH_METHODS)


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment (safe to show)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _config_str(settings: Mapping[str, Any], key: str, default: str | None, config: Config) -> Any:
    value = settings.get(key, default)
    if value is not None and not isinstance(value, str):
        raise config.error("must be a string", TABLE, key)
    return value


def _config_url(value: Any, config: Config) -> str:
    if not isinstance(value, str) or not value:
        raise config.error(
            "must be the server address (http(s)://host:port) or env:VAR", TABLE, "url"
        )
    if is_reference(value):
        ref = parse_reference(value)
        if ref.scheme != "env":
            raise config.error("the address may only come from env:VAR", TABLE, "url")
        resolved = os.environ.get(ref.target)
        if not resolved:
            raise config.error(
                f"no Vault address: {ref.target} is not set. Set it (e.g. "
                f'{ref.target}=https://vault.example:8200) or give url = "https://..."',
                TABLE,
                "url",
            )
        value = resolved
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config.error(
            "the Vault address must be an http:// or https:// URL with a host", TABLE, "url"
        )
    if parts.username or parts.password:
        raise config.error("the Vault address must not hold credentials", TABLE, "url")
    return str(value)


def _config_reference(value: Any, key: str, config: Config) -> Reference:
    if not isinstance(value, str) or not is_reference(value):
        raise config.error(
            "must be a reference (env:VAR or secret:NAME), never a literal value", TABLE, key
        )
    ref = parse_reference(value)
    if ref.scheme == "vault":
        raise config.error(
            "Vault's own credentials cannot come from Vault: use env:VAR or secret:NAME",
            TABLE,
            key,
        )
    return ref


def _config_ca_cert(value: Any, config: Config) -> str:
    if not isinstance(value, str) or not value:
        raise config.error(
            "must be the path of a CA certificate (PEM) or env:VAR", TABLE, "ca_cert"
        )
    if is_reference(value):
        ref = parse_reference(value)
        resolved = os.environ.get(ref.target) if ref.scheme == "env" else None
        if ref.scheme != "env":
            raise config.error("a CA path may only come from env:VAR", TABLE, "ca_cert")
        if not resolved:
            raise config.error(f"{ref.target} is not set", TABLE, "ca_cert")
        value = resolved
    path = Path(value).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path  # relative to the config file, not the cwd
    if not path.exists():
        raise config.error(f"no CA certificate at {path}", TABLE, "ca_cert")
    return str(path)

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
from ...plugins import Setting, check_settings

if TYPE_CHECKING:
    from ...config import Config

__all__ = ["AUTH_METHODS", "SETTINGS", "TABLE", "VaultSettings", "display_url", "parse_settings"]

log = logging.getLogger("nbcreds.secrets.vault")

TABLE = "sources.vault"
# --- the one schema of [sources.vault] (nbcreds.secrets.vault.SOURCE declares it) -------


#: auth method -> the keys it takes (beyond the common ones), and those it needs;
#: with SETTINGS, the one schema of [sources.vault]
VAULT_AUTH: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "token": (("token",), ()),
    "approle": (("role_id", "secret_id", "auth_mount"), ("role_id",)),
    "userpass": (("username", "password", "auth_mount"), ("username", "password")),
    "jwt": (("jwt", "role", "auth_mount"), ("jwt", "role")),
}


def check_vault(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    auth = settings.get("auth", "token")
    takes, needs = VAULT_AUTH[auth]
    own = {key for keys, _ in VAULT_AUTH.values() for key in keys}
    for key in settings:
        if key in own and key not in takes:
            users = [m for m, (keys, _) in VAULT_AUTH.items() if key in keys]
            return key, (
                f"'{key}' is only used with auth = {' or '.join(repr(u) for u in users)}, "
                f"and this table has auth = '{auth}'"
            )
    for key in needs:
        if key not in settings:
            return key, f"auth = '{auth}' needs '{key}'"
    if "ca_cert" in settings and settings.get("verify") is False:
        return "verify", (
            "ca_cert and verify = false contradict each other; keep ca_cert (and drop "
            "verify) to check the server's certificate"
        )
    return None


def _vault_url(value: Any) -> str | None:
    from urllib.parse import urlsplit

    from ...plugins import is_reference, parse_reference

    if is_reference(value):
        ok = parse_reference(value).scheme == "env"
        return None if ok else "the address may only come from env:VAR"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the Vault address must be an http:// or https:// URL with a host (or env:VAR)"
    if parts.username or parts.password:
        return "the Vault address must not hold credentials"
    return None


def _not_from_vault(value: Any) -> str | None:
    if value.startswith("vault:"):
        return "Vault's own credentials cannot come from Vault: use env:VAR or secret:NAME"
    return None


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be a positive number of seconds"


def _lease_duration(value: Any) -> str | None:
    from ..._definition import parse_duration

    if isinstance(value, int | float):
        return None if value >= 0 else "must not be negative"
    try:
        parse_duration(value)
    except ValueError:
        return "not an ISO-8601 duration such as PT1M or PT30S"
    return None


def _mount(value: Any) -> str | None:
    return None if value.strip("/") else "must name the KV engine's mount path"


#: the settings of [sources.vault], as declared by the source type (nbcreds.secrets.vault)
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "url",
        default="env:VAULT_ADDR",
        check=_vault_url,
        help="the server's address, or env:VAR",
    ),
    Setting("auth", default="token", choices=tuple(VAULT_AUTH), help="how to log in"),
    Setting(
        "token",
        secret=True,
        check=_not_from_vault,
        help="auth = 'token' (default env:VAULT_TOKEN)",
    ),
    Setting("role_id", secret=True, check=_not_from_vault, help="auth = 'approle'"),
    Setting("secret_id", secret=True, check=_not_from_vault, help="auth = 'approle'"),
    Setting("username", help="auth = 'userpass' (a name, or env:VAR)"),
    Setting("password", secret=True, check=_not_from_vault, help="auth = 'userpass'"),
    Setting("jwt", secret=True, check=_not_from_vault, help="auth = 'jwt'"),
    Setting("role", help="auth = 'jwt'"),
    Setting("auth_mount", help="the auth method's mount (default: its name)"),
    Setting("mount", default="secret", check=_mount, help="the KV engine's mount"),
    Setting("kv_version", kind="integer", default=2, choices=(1, 2)),
    Setting("path_prefix", default="nbcreds", help="where nbcreds' secrets live"),
    Setting("read_only", kind="boolean", default=False),
    Setting("ca_cert", help="a CA bundle file (relative to nbcreds.toml)"),
    Setting("verify", kind="boolean", default=True),
    Setting("timeout", kind="number", default=5, check=_positive, help="seconds"),
    Setting(
        "refresh_before_expiry",
        kind="duration",
        check=_lease_duration,
        help="renew a lease (nbcreds.lease) this long before it ends; default PT1M",
    ),
)


#: Auth methods and the keys each one takes (beyond the common keys), from the schema.
AUTH_METHODS: dict[str, tuple[str, ...]] = {m: takes for m, (takes, _) in VAULT_AUTH.items()}
#: Keys holding Vault's own credentials: always references (env: or secret:).
CREDENTIAL_KEYS = tuple(s.key for s in SETTINGS if s.secret)
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
    """Check the ``[sources.vault]`` table (ConfigError naming the key when invalid).

    The table is checked against the source type's declared schema (as ``load_config``
    does), then turned into :class:`VaultSettings`.
    """
    problem = check_settings(settings, SETTINGS)
    if problem is None:
        problem = check_vault(settings)
    if problem is not None:
        key, message = problem
        raise config.error(message, TABLE, key)
    auth = str(settings.get("auth", "token"))

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
    kv_version = int(settings.get("kv_version", 2))
    path_prefix = _config_str(settings, "path_prefix", "nbcreds", config)
    read_only = bool(settings.get("read_only", False))
    timeout = settings.get("timeout", DEFAULT_TIMEOUT)
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
    verify_setting = bool(settings.get("verify", True))
    verify: bool | str | None = None  # None: hvac honours VAULT_CACERT / VAULT_CAPATH
    if "ca_cert" in settings:  # (with verify = false: refused by the schema's check)
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

"""HashiCorp Vault / OpenBao secrets, through hvac.

Layout (as Kestra's Vault secret manager, minus the tenant segment unless you
put it in the prefix): the secret ``NAME`` of namespace ``a.b`` lives at
``<mount>/<path_prefix>/a/b/NAME``; tenant-level secrets at
``<mount>/<path_prefix>/NAME``. A secret is a KV entry; its fields are chosen
by the resolver (``field=``, else ``value``, else the only key).

hvac (and requests under it) is imported only when a client is built: this
module itself is only imported when a Vault is configured, but the rule is
kept here too so that ``import nbcreds`` never pays for it.

No message, log line or repr of this module contains a token or a secret
value: errors name the server address, the path and the HTTP status.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .._exceptions import SecretBackendError, SecretError, SecretReadOnly
from ..config import Reference, is_reference, parse_reference
from ..masking import registry
from ._base import SecretData, SecretSource

if TYPE_CHECKING:
    import hvac

    from ..config import Config

__all__ = ["AUTH_METHODS", "VaultSource"]

log = logging.getLogger("nbcreds.secrets.vault")

T = TypeVar("T")

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
)
_ALL_KEYS = frozenset(_COMMON_KEYS).union(*AUTH_METHODS.values())
#: Keys holding Vault's own credentials: always references (env: or secret:).
_CREDENTIAL_KEYS = ("token", "role_id", "secret_id", "password", "jwt")
_REQUIRED = {"approle": ("role_id",), "userpass": ("username", "password"), "jwt": ("jwt", "role")}
_DEFAULT_MOUNTS = {"approle": "approle", "userpass": "userpass", "jwt": "jwt"}
_STATUS = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "PreconditionFailed": 412,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}
_MASK = "****"


class VaultSource(SecretSource):
    """Secrets in a KV v2 (default) or v1 engine of Vault / OpenBao.

    The client logs in on first use (token, AppRole, userpass or JWT; the
    credentials are references resolved at that moment), registers the token
    it obtains with the masker, and logs in again once if a later request is
    refused with 403 (an expired or revoked login token).
    """

    name = "vault"

    def __init__(
        self,
        url: str,
        *,
        auth: str = "token",
        credentials: Mapping[str, Reference] | None = None,
        username: str | Reference | None = None,
        role: str | None = None,
        auth_mount: str | None = None,
        mount: str = "secret",
        kv_version: int = 2,
        path_prefix: str = "nbcreds",
        read_only: bool = False,
        verify: bool | str | None = None,
        timeout: float = 5.0,
        origin: str = "",
    ) -> None:
        if auth not in AUTH_METHODS:
            raise SecretError(f"unknown Vault auth method '{auth}'; known: {_auth_names()}")
        if kv_version not in (1, 2):
            raise SecretError("kv_version must be 1 or 2")
        self.url = url.rstrip("/")
        #: The address shown in messages: the URL without any user info.
        self.address = _display_url(self.url)
        self.auth = auth
        self._refs = dict(credentials or {})
        self._username = username
        self.role = role
        self.auth_mount = (auth_mount or _DEFAULT_MOUNTS.get(auth, "")).strip("/")
        self.mount = mount.strip("/")
        self.kv_version = kv_version
        self.path_prefix = path_prefix.strip("/")
        self.read_only = read_only
        self.verify = verify
        self.timeout = timeout
        #: Where the settings came from (a config file), for messages.
        self.origin = origin
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._token: str | None = None
        self._logging_in = False
        self._mount_checked = False

    # --- construction -----------------------------------------------------------------

    @classmethod
    def from_config(cls, settings: Mapping[str, Any], config: Config) -> VaultSource:
        """Build the source from the ``[sources.vault]`` table (ConfigError when invalid)."""
        for key in settings:
            if key not in _ALL_KEYS:
                raise config.error(
                    f"unknown key; [sources.vault] takes {', '.join(sorted(_ALL_KEYS))}",
                    TABLE,
                    key,
                )
        auth = settings.get("auth", "token")
        if not isinstance(auth, str) or auth not in AUTH_METHODS:
            raise config.error(f"unknown auth method; use one of {_auth_names()}", TABLE, "auth")
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
        for key in _CREDENTIAL_KEYS:
            if key in settings or key in defaults:
                credentials[key] = _config_reference(
                    settings.get(key, defaults.get(key)), key, config
                )
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
        timeout = settings.get("timeout", 5)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise config.error("must be a positive number of seconds", TABLE, "timeout")
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
                f"{_display_url(url)} ([sources.vault] verify = false in {config.where}); "
                "anyone on the network path can read the secrets. Set ca_cert instead."
            )
            log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return cls(
            url,
            auth=auth,
            credentials=credentials,
            username=username,
            role=role,
            auth_mount=auth_mount,
            mount=mount,
            kv_version=kv_version,
            path_prefix=path_prefix,
            read_only=read_only,
            verify=verify,
            timeout=float(timeout),
            origin=config.where,
        )

    # --- SecretSource -----------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        _check_name(name)
        for candidate in dict.fromkeys((name, name.upper())):
            data = self._read(self._secret_path(namespace, candidate))
            if data is not None:
                _register(data, name)
                return data
        return None

    def names(self, namespace: str | None) -> list[str]:
        folder = self._folder(namespace)
        kv = self.kv_version

        def list_keys(client: hvac.Client) -> Any:
            engine = client.secrets.kv.v2 if kv == 2 else client.secrets.kv.v1
            return engine.list_secrets(path=folder, mount_point=self.mount)

        response = self._run("listing", self._shown(folder), list_keys)
        if not isinstance(response, Mapping):
            return []
        keys = (response.get("data") or {}).get("keys") or []
        return sorted(str(k) for k in keys if isinstance(k, str) and not k.endswith("/"))

    def set(self, namespace: str | None, name: str, value: str) -> None:
        _check_name(name)
        path = self._secret_path(namespace, name.upper())
        if self.read_only:
            raise SecretReadOnly(
                f"The Vault source at {self.address} is read-only ([sources.vault] read_only = "
                f"true in {self.origin or 'the config'}): secret '{name}' was not written to "
                f"{self._shown(path)}. Write it with the bao/vault CLI, or set read_only = false."
            )
        plain = str.__str__(value)
        registry.register(plain, name)
        kv = self.kv_version

        def write(client: hvac.Client) -> Any:
            engine = client.secrets.kv.v2 if kv == 2 else client.secrets.kv.v1
            return engine.create_or_update_secret(
                path=path, secret={"value": plain}, mount_point=self.mount
            )

        self._run("writing", self._shown(path), write, missing_ok=False)

    def read_path(self, path: str) -> Mapping[str, str] | None:
        """The secret at ``path`` relative to the mount (a ``vault:path#field`` reference)."""
        clean = path.strip("/")
        if not clean or any(part in ("", ".", "..") for part in clean.split("/")):
            raise SecretError(
                f"invalid Vault path '{path}' in a vault: reference: use segments separated "
                "by '/', relative to the mount (e.g. vault:db/prod#password)"
            )
        data = self._read(clean)
        if data is not None:
            _register(data, clean)
        return data

    def describe(self) -> str:
        mode = ", read-only" if self.read_only else ""
        return (
            f"vault {self.address} (mount {self.mount}, KV v{self.kv_version}, prefix "
            f"'{self.path_prefix}', auth {self.auth}{mode})"
        )

    def __repr__(self) -> str:
        return (
            f"<VaultSource {self.address} auth={self.auth} mount={self.mount} "
            f"kv_version={self.kv_version} read_only={self.read_only}>"
        )

    def close(self) -> None:
        """Drop the connection; a token obtained by login is revoked (best effort)."""
        with self._lock:
            client, self._client = self._client, None
            self._token = None
        if client is None:
            return
        if self.auth != "token":
            with contextlib.suppress(Exception), self._quiet_tls():
                client.auth.token.revoke_self()
        client.adapter.close()

    # --- paths ------------------------------------------------------------------------

    def _folder(self, namespace: str | None) -> str:
        parts = [self.path_prefix] if self.path_prefix else []
        if namespace:
            parts += namespace.split(".")
        return "/".join(parts)

    def _secret_path(self, namespace: str | None, name: str) -> str:
        folder = self._folder(namespace)
        return f"{folder}/{name}" if folder else name

    def _shown(self, path: str) -> str:
        return f"{self.mount}/{path}" if path else f"{self.mount}/"

    # --- reading ----------------------------------------------------------------------

    def _read(self, path: str) -> dict[str, str] | None:
        kv = self.kv_version

        def read(client: hvac.Client) -> Any:
            if kv == 2:
                return client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.mount, raise_on_deleted_version=True
                )
            return client.secrets.kv.v1.read_secret(path=path, mount_point=self.mount)

        response = self._run("reading", self._shown(path), read)
        if not isinstance(response, Mapping):
            return None
        data = response.get("data")
        if kv == 2 and isinstance(data, Mapping):
            data = data.get("data")
        if (
            data is None
            and kv == 1
            and any("versioned" in str(w) for w in response.get("warnings") or [])
        ):
            raise self._kv_mismatch(2)
        if not isinstance(data, Mapping):
            return None
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}

    def _kv_mismatch(self, actual: int) -> SecretBackendError:
        return SecretBackendError(
            f"The mount '{self.mount}' of Vault at {self.address} is a KV version {actual} "
            f"engine, but [sources.vault] kv_version = {self.kv_version}: set kv_version = "
            f"{actual} in {self.origin or 'the config'}.",
            source="vault",
            address=self.address,
        )

    # --- the client -------------------------------------------------------------------

    def _run(
        self,
        action: str,
        target: str,
        call: Callable[[hvac.Client], T],
        *,
        missing_ok: bool = True,
    ) -> T | None:
        """``call(client)``; None on 404, :class:`SecretBackendError` on any other failure.

        A 403 with a login token (AppRole, userpass, JWT) logs in again once: login
        tokens expire, and a fresh one is the usual cure.
        """
        import hvac.exceptions
        import requests

        for attempt in (1, 2):
            client = self._connected()
            try:
                with self._quiet_tls():
                    return call(client)
            except hvac.exceptions.InvalidPath as exc:
                if missing_ok:
                    return None
                raise self._error(exc, action, target) from None
            except hvac.exceptions.Forbidden as exc:
                if attempt == 1 and self.auth != "token":
                    log.info(
                        "Vault at %s refused the login token (HTTP 403) %s %s; logging in again",
                        self.address,
                        action,
                        target,
                    )
                    self._forget(client)
                    continue
                raise self._error(exc, action, target) from None
            except (hvac.exceptions.VaultError, requests.RequestException) as exc:
                raise self._error(exc, action, target) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget(self, client: hvac.Client) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
                self._token = None
        client.adapter.close()

    def _connected(self) -> hvac.Client:
        """The logged-in client, created on first use."""
        with self._lock:
            if self._client is not None:
                return self._client
            if self._logging_in:
                refs = ", ".join(f"{k} = {v}" for k, v in self._refs.items())
                raise SecretBackendError(
                    f"Vault's own credentials ([sources.vault] {refs}) were looked up in Vault "
                    "itself: bind them in the environment or the session, not in Vault.",
                    source="vault",
                    address=self.address,
                )
            self._logging_in = True
            try:
                client = self._new_client()
                try:
                    self._login(client)
                    self._check_mount(client)
                except BaseException:
                    client.adapter.close()
                    raise
            finally:
                self._logging_in = False
            self._client = client
            return client

    def _new_client(self) -> hvac.Client:
        import hvac

        return hvac.Client(url=self.url, token="", verify=self.verify, timeout=self.timeout)

    def _login(self, client: hvac.Client) -> None:
        import hvac.exceptions
        import requests

        if self.auth == "token":
            token = self._credential("token")
            client.token = token
            self._token = token
            return
        where = f"auth/{self.auth_mount}"
        try:
            with self._quiet_tls():
                if self.auth == "approle":
                    role_id = self._credential("role_id")
                    secret_id = self._credential("secret_id") if "secret_id" in self._refs else None
                    response = client.auth.approle.login(
                        role_id, secret_id, use_token=False, mount_point=self.auth_mount
                    )
                elif self.auth == "userpass":
                    username = self._username_value()
                    password = self._credential("password")
                    response = client.auth.userpass.login(
                        username, password, use_token=False, mount_point=self.auth_mount
                    )
                else:
                    assert self.role is not None
                    jwt = self._credential("jwt")
                    response = client.auth.jwt.jwt_login(
                        self.role, jwt, use_token=False, path=self.auth_mount
                    )
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise self._error(
                exc, "logging in with", f"{self.auth} at {where}", login=True
            ) from None
        issued = _login_token(response)
        if issued is None:
            raise SecretBackendError(
                f"Vault at {self.address} answered the {self.auth} login at {where} without "
                "a client token.",
                source="vault",
                address=self.address,
            )
        registry.register(issued, "vault-token")
        client.token = issued
        self._token = issued
        log.debug("logged in to Vault at %s with %s at %s", self.address, self.auth, where)

    def _check_mount(self, client: hvac.Client) -> None:
        """Best effort: say so when the mount's KV version is not the configured one
        (a v2 read on a v1 mount would otherwise look like 'not found')."""
        import hvac.exceptions
        import requests

        if self._mount_checked:
            return
        try:
            with self._quiet_tls():
                response = client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
        except hvac.exceptions.VaultError:  # the token may not see it: nothing to say then
            self._mount_checked = True
            return
        except requests.RequestException as exc:  # down, slow, TLS: say it now, once
            raise self._error(exc, "reading", f"the settings of mount {self.mount}/") from None
        data = response.get("data") if isinstance(response, Mapping) else None
        if isinstance(data, Mapping) and data.get("type") in ("kv", "generic"):
            options = data.get("options") or {}
            actual = 2 if str(options.get("version", "1")) == "2" else 1
            if actual != self.kv_version:
                raise self._kv_mismatch(actual)  # checked again next time: still wrong
        self._mount_checked = True

    def _credential(self, key: str) -> str:
        """Resolve one of Vault's own credentials (a reference) and register it."""
        from ._resolver import resolve_reference, select_field

        ref = self._refs.get(key)
        if ref is None:
            raise SecretBackendError(
                f"Vault auth '{self.auth}' needs [sources.vault] {key} in "
                f"{self.origin or 'the config'}.",
                source="vault",
                address=self.address,
            )
        data = resolve_reference(ref, None)
        if data is None:
            raise SecretBackendError(
                f"Vault auth '{self.auth}' needs {key}, and {ref} is unset: set it, or change "
                f"[sources.vault] {key} in {self.origin or 'the config'}.",
                source="vault",
                address=self.address,
            )
        value = select_field(data, ref.field, key)
        registry.register(value, f"vault-{key}")
        return value

    def _username_value(self) -> str:
        from ._resolver import resolve_reference

        if isinstance(self._username, Reference):
            data = resolve_reference(self._username, None)
            if not isinstance(data, str) or not data:
                raise SecretBackendError(
                    f"Vault auth 'userpass' needs a username, and {self._username} is unset.",
                    source="vault",
                    address=self.address,
                )
            return data
        if not self._username:
            raise SecretBackendError(
                "Vault auth 'userpass' needs a username.", source="vault", address=self.address
            )
        return self._username

    @contextlib.contextmanager
    def _quiet_tls(self) -> Iterator[None]:
        """With ``verify = false`` we warned once; urllib3 would warn on every request."""
        if self.verify is not False:
            yield
            return
        import urllib3

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            yield

    # --- errors -----------------------------------------------------------------------

    def _error(
        self, exc: Exception, action: str, target: str, *, login: bool = False
    ) -> SecretBackendError:
        import requests

        def fail(message: str, status: int | None = None) -> SecretBackendError:
            return SecretBackendError(
                self._scrub(message), source="vault", address=self.address, status=status
            )

        if isinstance(exc, requests.exceptions.SSLError):
            return fail(
                f"TLS verification failed for Vault at {self.address} ({action} {target}): set "
                "[sources.vault] ca_cert to the CA certificate that signed the server's "
                "certificate (verify = false only for a local test server)."
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return fail(
                f"Vault at {self.address} did not answer within {self.timeout:g}s ({action} "
                f"{target}): check the server, or raise [sources.vault] timeout."
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return fail(
                f"cannot reach Vault at {self.address}: is it running? ({action} "
                f"{target} failed to connect)"
            )
        if isinstance(exc, requests.RequestException):
            return fail(
                f"the request to Vault at {self.address} failed ({action} {target}: "
                f"{type(exc).__name__})"
            )
        status = _STATUS.get(type(exc).__name__)
        errors = _errors(exc)
        detail = f": {errors}" if errors else ""
        if status == 503:
            if "sealed" in errors.lower():
                return fail(
                    f"Vault at {self.address} is sealed (HTTP 503): unseal it (`bao operator "
                    f"unseal` / `vault operator unseal`) and retry ({action} {target}).",
                    503,
                )
            return fail(
                f"Vault at {self.address} is unavailable (HTTP 503) ({action} {target}){detail}",
                503,
            )
        if login:
            keys = " / ".join(AUTH_METHODS[self.auth][:-1])
            return fail(
                f"Vault login refused: {action} {target} at {self.address} (HTTP "
                f"{status or '?'}){detail}. Check [sources.vault] {keys} and the auth "
                "method's role.",
                status,
            )
        if status == 403:
            return fail(
                f"permission denied {action} {target} at {self.address} (HTTP 403): check the "
                "token's policy"
                + (
                    ", and that the token has not expired"
                    if self.auth == "token"
                    else f" (the policies of the {self.auth} role)"
                )
                + ".",
                403,
            )
        if status == 401:
            return fail(
                f"Vault at {self.address} refused the token (HTTP 401) {action} {target}{detail}",
                401,
            )
        return fail(
            f"Vault at {self.address} failed {action} {target} (HTTP {status or '?'}){detail}",
            status,
        )

    def _scrub(self, text: str) -> str:
        """Belt and braces: no credential or registered value survives in a message."""
        known = [v for v in (self._token,) if v]
        known += [v for v in registry.values() if len(v) >= 4]
        for value in sorted(known, key=len, reverse=True):
            text = text.replace(value, _MASK)
        return text


# --- helpers --------------------------------------------------------------------------


def _auth_names() -> str:
    return ", ".join(AUTH_METHODS)


def _display_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise SecretError(
            f"secret name {name!r} cannot be used with Vault: a name is one path segment "
            "(no '/'); use a vault:path#field reference for other paths"
        )


def _register(data: Mapping[str, str], label: str) -> None:
    for value in data.values():
        registry.register(value, label)


def _login_token(response: Any) -> str | None:
    if not isinstance(response, Mapping):
        return None
    auth = response.get("auth")
    token = auth.get("client_token") if isinstance(auth, Mapping) else None
    return token if isinstance(token, str) and token else None


def _errors(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not isinstance(errors, list | tuple):
        return ""
    return "; ".join(str(e) for e in errors if e)[:300]


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

"""The KV engine of Vault / OpenBao as a secret source.

Layout (as Kestra's Vault secret manager, minus the tenant segment unless you
put it in the prefix): the secret ``NAME`` of namespace ``a.b`` lives at
``<mount>/<path_prefix>/a/b/NAME``; tenant-level secrets at
``<mount>/<path_prefix>/NAME``. A secret is a KV entry; its fields are chosen
by the resolver (``field=``, else ``value``, else the only key).

No message, log line or repr of this module contains a token or a secret
value: errors name the server address, the path and the HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..._exceptions import NbcredsError, SecretBackendError, SecretError, SecretReadOnly
from .._base import SecretData, SecretSource, SourceHealth
from ._client import VaultClient
from ._errors import failure_of, mount_not_found, vault_error
from ._settings import AUTH_METHODS, VaultSettings, parse_settings

if TYPE_CHECKING:
    import hvac

    from ...config import Config
    from ...plugins import Reference

__all__ = ["VaultSource"]


class VaultSource(SecretSource):
    """Secrets in a KV v2 (default) or v1 engine of Vault / OpenBao."""

    name = "vault"

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self.client = VaultClient(settings)
        self.client.on_connect = self._check_mount
        self._mount_checked = False

    @classmethod
    def from_config(cls, settings: Mapping[str, Any], config: Config) -> VaultSource:
        """Build the source from the ``[sources.vault]`` table (ConfigError when invalid)."""
        return cls(parse_settings(settings, config))

    # Settings the rest of nbcreds reads off the source.
    @property
    def address(self) -> str:
        return self.settings.address

    @property
    def mount(self) -> str:
        return self.settings.mount

    @property
    def kv_version(self) -> int:
        return self.settings.kv_version

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        return self.settings.read_only

    # --- SecretSource -----------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        _check_name(name)
        for candidate in dict.fromkeys((name, name.upper())):
            data = self._read(self._secret_path(namespace, candidate))
            if data is not None:
                return data  # the resolver registers it with the masker
        return None

    def names(self, namespace: str | None) -> list[str]:
        folder = self._folder(namespace)
        s = self.settings

        def list_keys(client: hvac.Client) -> Any:
            engine = client.secrets.kv.v2 if s.kv_version == 2 else client.secrets.kv.v1
            return engine.list_secrets(path=folder, mount_point=s.mount)

        response = self.client.run("listing", self._shown(folder), list_keys)
        if not isinstance(response, Mapping):
            return []
        keys = (response.get("data") or {}).get("keys") or []
        return sorted(str(k) for k in keys if isinstance(k, str) and not k.endswith("/"))

    def set(self, namespace: str | None, name: str, value: str) -> None:
        _check_name(name)
        s = self.settings
        path = self._secret_path(namespace, name.upper())
        if s.read_only:
            raise SecretReadOnly(
                f"The Vault source at {self.address} is read-only ([sources.vault] read_only = "
                f"true in {s.where}): secret '{name}' was not written to "
                f"{self._shown(path)}. Write it with the bao/vault CLI, or set read_only = false."
            )
        plain = str.__str__(value)  # bind_secret registered it before writing

        def write(client: hvac.Client) -> Any:
            engine = client.secrets.kv.v2 if s.kv_version == 2 else client.secrets.kv.v1
            return engine.create_or_update_secret(
                path=path, secret={"value": plain}, mount_point=s.mount
            )

        self.client.run("writing", self._shown(path), write, missing_ok=False)

    def read_path(self, path: str) -> Mapping[str, str] | None:
        """The secret at ``path`` relative to the mount (a ``vault:path#field`` reference)."""
        clean = path.strip("/")
        if not clean or any(part in ("", ".", "..") for part in clean.split("/")):
            raise SecretError(
                f"invalid Vault path '{path}' in a vault: reference: use segments separated "
                "by '/', relative to the mount (e.g. vault:db/prod#password)"
            )
        return self._read(clean)  # the resolver registers it with the masker

    def read_reference(self, ref: Reference) -> SecretData | None:
        """``vault:path#field``: the secret at ``path`` (the resolver picks the field)."""
        return self.read_path(ref.target)

    def health(self) -> SourceHealth:
        """Up, initialized and unsealed (``sys/health``, no token needed), then logged in
        (the configured auth, then ``auth/token/lookup-self``). Never raises for the
        server's failures; the messages carry no token."""
        s = self.settings
        answer: Any = None
        failure = None
        probe = self.client._new_client()
        try:
            with self.client.quiet_tls():
                answer = probe.sys.read_health_status(method="GET")
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
        finally:
            probe.adapter.close()
        if failure is not None:
            error = vault_error(failure, s, "checking", "sys/health")
            return SourceHealth(
                ok=False,
                detail=str(error),
                hint=f"start the server, or fix [sources.vault] url in {s.where}",
            )
        status = _health_json(answer)
        if status is None:
            code = getattr(answer, "status_code", "?")
            return SourceHealth(
                ok=False,
                detail=f"{self.address} answered sys/health with HTTP {code}, not a Vault "
                "health status",
                hint=f"check that [sources.vault] url in {s.where} is a Vault / OpenBao server",
            )
        version = f" {status['version']}" if isinstance(status.get("version"), str) else ""
        if status.get("initialized") is False:
            return SourceHealth(
                ok=False,
                detail=f"Vault{version} at {self.address} is not initialized",
                hint="initialize it (`bao operator init` / `vault operator init`), then unseal",
            )
        if status.get("sealed"):
            return SourceHealth(
                ok=False,
                detail=f"Vault{version} at {self.address} is up but sealed",
                hint="unseal it (`bao operator unseal` / `vault operator unseal`)",
            )
        try:
            info = self.client.run(
                "looking up",
                "its own token",
                lambda c: c.auth.token.lookup_self(),
                missing_ok=False,
            )
        except NbcredsError as exc:  # login refused, a credential reference unset...
            keys = " / ".join(AUTH_METHODS[s.auth][:-1] or AUTH_METHODS[s.auth])
            return SourceHealth(
                ok=False,
                detail=f"Vault{version} at {self.address} is up and unsealed; {s.auth} auth "
                f"failed: {exc}",
                hint=f"check [sources.vault] auth and {keys} in {s.where}",
            )
        data = info.get("data") if isinstance(info, Mapping) else None
        data = data if isinstance(data, Mapping) else {}
        policies = ", ".join(str(p) for p in data.get("policies") or []) or "none"
        ttl = data.get("ttl")
        expiry = f", expires in {_duration(ttl)}" if isinstance(ttl, int) and ttl > 0 else ""
        return SourceHealth(
            ok=True,
            detail=f"Vault{version} at {self.address} is up and unsealed; {s.auth} auth ok "
            f"(policies: {policies}{expiry}); mount {s.mount}/ KV v{s.kv_version}",
        )

    def describe(self) -> str:
        s = self.settings
        mode = ", read-only" if s.read_only else ""
        return (
            f"vault {self.address} (mount {s.mount}, KV v{s.kv_version}, prefix "
            f"'{s.path_prefix}', auth {s.auth}{mode})"
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"<VaultSource {self.address} auth={s.auth} mount={s.mount} "
            f"kv_version={s.kv_version} read_only={s.read_only}>"
        )

    def close(self) -> None:
        """Drop the connection; a token obtained by login is revoked (best effort)."""
        self.client.close()

    # --- paths ------------------------------------------------------------------------

    def _folder(self, namespace: str | None) -> str:
        prefix = self.settings.path_prefix
        parts = [prefix] if prefix else []
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
        s = self.settings
        kv = s.kv_version

        def read(client: hvac.Client) -> Any:
            if kv == 2:
                return client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=s.mount, raise_on_deleted_version=True
                )
            return client.secrets.kv.v1.read_secret(path=path, mount_point=s.mount)

        response = self.client.run("reading", self._shown(path), read)
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
        s = self.settings
        return SecretBackendError(
            f"The mount '{s.mount}' of Vault at {self.address} is a KV version {actual} "
            f"engine, but [sources.vault] kv_version = {s.kv_version}: set kv_version = "
            f"{actual} in {s.where}.",
            source="vault",
            address=self.address,
        )

    def _visible_kv_mounts(self, client: hvac.Client) -> list[str]:
        """The KV mounts the token can see (names only; best effort, [] on failure)."""
        try:
            with self.client.quiet_tls():
                response = client.adapter.get("/v1/sys/internal/ui/mounts")
        except Exception as exc:
            if self.client.failure(exc) is None:
                raise
            return []
        return _kv_mounts(response)

    def _check_mount(self, client: hvac.Client) -> None:
        """Best effort: say so when the mount's KV version is not the configured one
        (a v2 read on a v1 mount would otherwise look like 'not found')."""
        if self._mount_checked:
            return
        failure = None
        response: Any = None
        try:
            with self.client.quiet_tls():
                response = client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
        except Exception as exc:
            failure = self.client.failure(exc)
            if failure is None:
                raise
        if failure is not None:
            doing = f"reading the settings of mount {self.mount}/"
            if failure.status == 403 and "preflight" in " ".join(failure.errors).lower():
                # the token sees nothing in the mount: a wrong mount name, or no policy
                visible = self._visible_kv_mounts(client)
                if visible:  # it sees other KV mounts: the name is wrong
                    raise mount_not_found(self.settings, doing, failure, visible)
                self.client.forbidden_hint = (
                    f"; the token sees no KV mount at all, so also check [sources.vault] "
                    f"mount = {self.mount!r} in {self.settings.where}"
                )
                self._mount_checked = True
                return
            if failure.kind == "http":  # the token may not see it: nothing to say then
                self._mount_checked = True
                return
            # down, slow, TLS: say it now, once
            raise vault_error(
                failure, self.settings, "reading", f"the settings of mount {self.mount}/"
            )
        self.client.check_deadline("reading", f"the settings of mount {self.mount}/")
        data = response.get("data") if isinstance(response, Mapping) else None
        if isinstance(data, Mapping) and data.get("type") in ("kv", "generic"):
            options = data.get("options") or {}
            actual = 2 if str(options.get("version", "1")) == "2" else 1
            if actual != self.kv_version:
                raise self._kv_mismatch(actual)  # checked again next time: still wrong
        self._mount_checked = True


def _kv_mounts(response: Any) -> list[str]:
    data = response.get("data") if isinstance(response, Mapping) else None
    mounts = data.get("secret") if isinstance(data, Mapping) else None
    if not isinstance(mounts, Mapping):
        return []
    return sorted(
        str(path).rstrip("/")
        for path, info in mounts.items()
        if isinstance(info, Mapping) and info.get("type") in ("kv", "generic")
    )


def _health_json(answer: Any) -> Mapping[str, Any] | None:
    """``sys/health``'s status: hvac returns a dict on 200, the response otherwise
    (503 sealed, 501 not initialized, 429 standby still carry the JSON status)."""
    if isinstance(answer, Mapping):
        return answer
    try:
        data = answer.json()
    except (AttributeError, ValueError):
        return None
    return data if isinstance(data, Mapping) and "sealed" in data else None


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise SecretError(
            f"secret name {name!r} cannot be used with Vault: a name is one path segment "
            "(no '/'); use a vault:path#field reference for other paths"
        )

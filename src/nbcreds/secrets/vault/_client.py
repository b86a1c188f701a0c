"""The logged-in hvac client: login methods (token, AppRole, userpass, JWT), TLS,
and one call runner that maps every failure through :mod:`._errors`.

hvac (and requests under it) is imported only when a client is built, so that
``import nbcreds`` never pays for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..._deadline import Deadline, deadline_session
from ..._deadline import current as current_deadline
from ..._exceptions import SecretBackendError
from ...config import Reference
from ...masking import registry
from ._errors import Failure, failure_of, missing_mount, vault_error

if TYPE_CHECKING:
    import hvac

    from ._settings import VaultSettings

__all__ = ["VaultClient"]

log = logging.getLogger("nbcreds.secrets.vault")

T = TypeVar("T")


class VaultClient:
    """One Vault server as ``[sources.vault]`` describes it, logged in on first use.

    The credentials are references resolved at login; the token a login returns is
    registered with the masker at once and kept in memory only. A 403 with a login
    token (AppRole, userpass, JWT) logs in again once: login tokens expire.
    """

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._token: str | None = None
        self._logging_in = False
        self._mount_checked = False
        #: Called with each newly logged-in client, before anyone uses it (the KV
        #: source checks its mount's version there).
        self.on_connect: Callable[[hvac.Client], None] | None = None
        #: Added to the advice of a 403 (set by the KV source's mount check).
        self.forbidden_hint = ""

    @property
    def address(self) -> str:
        return self.settings.address

    def run(
        self,
        action: str,
        target: str,
        call: Callable[[hvac.Client], T],
        *,
        missing_ok: bool = True,
    ) -> T | None:
        """``call(client)``; None on 404 when ``missing_ok``, else
        :class:`SecretBackendError` on any failure (raised outside ``except``)."""
        failure: Failure | None = None
        deadline = Deadline(self.settings.timeout)
        with deadline.watching():
            for attempt in (1, 2):
                client = self.connected()
                failure = None
                try:
                    with self.quiet_tls():
                        result = call(client)
                except Exception as exc:
                    failure = self.failure(exc)
                    if failure is None:
                        raise
                else:
                    if not deadline.fired:
                        return result
                    failure = Failure("timeout")  # an answer cut by the deadline
                if failure.status == 404 and missing_ok and not missing_mount(failure):
                    return None  # a missing secret, not a missing mount
                if failure.status == 403 and attempt == 1 and self.settings.auth != "token":
                    log.info(
                        "Vault at %s refused the login token (HTTP 403) %s %s; logging in again",
                        self.address,
                        action,
                        target,
                    )
                    self._forget(client)
                    continue
                break
        assert failure is not None
        raise vault_error(
            failure, self.settings, action, target, forbidden_hint=self.forbidden_hint
        )

    def check_deadline(self, action: str, target: str) -> None:
        """A timeout error when the deadline in force cut the last answer short."""
        deadline = current_deadline()
        if deadline is not None and deadline.fired:
            raise vault_error(Failure("timeout"), self.settings, action, target)

    def failure(self, exc: BaseException) -> Failure | None:
        """:func:`failure_of` ``exc``; a timeout when the operation's deadline passed
        (the watchdog shut the socket: requests then reports a broken connection)."""
        failure = failure_of(exc)
        deadline = current_deadline()
        if failure is not None and failure.kind != "http" and deadline and deadline.expired:
            return Failure("timeout", exception=failure.exception)
        return failure

    def connected(self) -> hvac.Client:
        """The logged-in client, created on first use."""
        with self._lock:
            if self._client is not None:
                return self._client
            if self._logging_in:
                refs = ", ".join(f"{k} = {v}" for k, v in self.settings.credentials.items())
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
                    if self.on_connect is not None:
                        self.on_connect(client)
                except BaseException:
                    client.adapter.close()
                    raise
            finally:
                self._logging_in = False
            self._client = client
            return client

    def close(self) -> None:
        """Drop the connection; a token obtained by login is revoked (best effort)."""
        with self._lock:
            client, self._client = self._client, None
            self._token = None
        if client is None:
            return
        if self.settings.auth != "token":
            with contextlib.suppress(Exception), self.quiet_tls():
                client.auth.token.revoke_self()
        client.adapter.close()

    @contextlib.contextmanager
    def quiet_tls(self) -> Iterator[None]:
        """With ``verify = false`` we warned once; urllib3 would warn on every request."""
        if self.settings.verify is not False:
            yield
            return
        import urllib3

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            yield

    # --- login ------------------------------------------------------------------------

    def _forget(self, client: hvac.Client) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
                self._token = None
        client.adapter.close()

    def _new_client(self) -> hvac.Client:
        import hvac

        s = self.settings
        verify = s.verify
        if verify is None:  # as hvac does without a verify argument (VAULT_CACERT wins)
            verify = os.environ.get("VAULT_CACERT") or os.environ.get("VAULT_CAPATH") or True
        # the session's sockets are shut down when an operation's deadline passes; hvac
        # takes the verify setting from a session it is given
        session = deadline_session()
        session.verify = verify
        return hvac.Client(url=s.url, token="", verify=verify, timeout=s.timeout, session=session)

    def _login(self, client: hvac.Client) -> None:
        s = self.settings
        if s.auth == "token":
            token = self._credential("token")
            client.token = token
            self._token = token
            return
        where = f"auth/{s.auth_mount}"
        failure: Failure | None = None
        response: Any = None
        try:
            with self.quiet_tls():
                if s.auth == "approle":
                    role_id = self._credential("role_id")
                    secret_id = (
                        self._credential("secret_id") if "secret_id" in s.credentials else None
                    )
                    response = client.auth.approle.login(
                        role_id, secret_id, use_token=False, mount_point=s.auth_mount
                    )
                elif s.auth == "userpass":
                    username = self._username_value()
                    password = self._credential("password")
                    response = client.auth.userpass.login(
                        username, password, use_token=False, mount_point=s.auth_mount
                    )
                else:
                    assert s.role is not None
                    jwt = self._credential("jwt")
                    response = client.auth.jwt.jwt_login(
                        s.role, jwt, use_token=False, path=s.auth_mount
                    )
        except Exception as exc:
            failure = self.failure(exc)
            if failure is None:
                raise
        if failure is not None:
            raise vault_error(failure, s, "logging in with", f"{s.auth} at {where}", login=True)
        self.check_deadline("logging in with", f"{s.auth} at {where}")
        issued = _login_token(response)
        if issued is None:
            raise SecretBackendError(
                f"Vault at {self.address} answered the {s.auth} login at {where} without "
                "a client token.",
                source="vault",
                address=self.address,
            )
        registry.register(issued, "vault-token")
        client.token = issued
        self._token = issued
        log.debug("logged in to Vault at %s with %s at %s", self.address, s.auth, where)

    def _credential(self, key: str) -> str:
        """Resolve one of Vault's own credentials (a reference), registered with the masker."""
        from .._resolver import registered, resolve_reference, select_field

        s = self.settings
        ref = s.credentials.get(key)
        if ref is None:
            raise SecretBackendError(
                f"Vault auth '{s.auth}' needs [sources.vault] {key} in {s.where}.",
                source="vault",
                address=self.address,
            )
        data = resolve_reference(ref, None, label=f"vault-{key}")
        if data is None:
            raise SecretBackendError(
                f"Vault auth '{s.auth}' needs {key}, and {ref} is unset: set it, or change "
                f"[sources.vault] {key} in {s.where}.",
                source="vault",
                address=self.address,
            )
        return registered(select_field(data, ref.field, key), f"vault-{key}")

    def _username_value(self) -> str:
        from .._resolver import resolve_reference

        username = self.settings.username
        if isinstance(username, Reference):
            data = resolve_reference(username, None, secret=False)  # a name, not masked
            if not isinstance(data, str) or not data:
                raise SecretBackendError(
                    f"Vault auth 'userpass' needs a username, and {username} is unset.",
                    source="vault",
                    address=self.address,
                )
            return data
        if not username:
            raise SecretBackendError(
                "Vault auth 'userpass' needs a username.", source="vault", address=self.address
            )
        return username


def _login_token(response: Any) -> str | None:
    if not isinstance(response, Mapping):
        return None
    auth = response.get("auth")
    token = auth.get("client_token") if isinstance(auth, Mapping) else None
    return token if isinstance(token, str) and token else None

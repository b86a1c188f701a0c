"""The one exception tree of nbcreds.

Every error nbcreds raises on purpose is a subclass of :class:`NbcredsError`.
No message ever contains a secret or token value: messages name things (a
secret's name, a file, a key, a URL without credentials, an HTTP status), never
their values.

::

    NbcredsError
    ├── NamespaceError            bad namespace name (also ValueError)
    ├── ConfigError               nbcreds.toml is invalid: names file, table, key
    ├── SecretError
    │   ├── SecretNotFound        no source has it (also LookupError)
    │   ├── SecretBackendError    a source is down, sealed, forbidden, misconfigured
    │   │   └── SecretMountNotFound   Vault has no such KV mount (or the token sees none)
    │   └── SecretReadOnly        a write to a read-only source
    ├── CredentialError
    │   ├── CredentialNotFound    no definition of that name (also LookupError)
    │   ├── CredentialConfigError a definition is incomplete or inconsistent
    │   ├── TokenRequestError     the token endpoint refused or failed
    │   │   ├── AuthorizationDenied   the user refused the sign-in (access_denied)
    │   │   ├── AuthorizationExpired  the sign-in code expired before approval (expired_token)
    │   │   └── RefreshTokenRejected  an oauth2_refresh_token's token was refused (invalid_grant)
    │   └── LoginError            a user sign-in cannot start or finish (also the base of
    │       │                     AuthorizationDenied, AuthorizationExpired, RefreshTokenRejected)
    │       ├── LoginRequired     sign-in needed but nobody can answer (a headless run)
    │       └── BrowserUnavailable  no browser can be opened for the loopback redirect
    ├── KVError
    │   ├── KVNotFound            missing or expired key (also LookupError)
    │   ├── KVConflict            overwrite=False / if_revision mismatch
    │   ├── KVSecretRefused       a secret value may not go to KV
    │   ├── KVValueError          bad key, type or TTL (also ValueError)
    │   └── KVBackendError        database unavailable, locked, corrupt
    ├── HttpRequestError          a %%http request cannot be parsed, expanded or sent
    ├── MaskingError              the masking engine cannot work as asked
    │   └── MaskingSettingError   a bad [masking] setting (also ValueError)
    └── ScanError                 nbcreds scan / scrub could not read or write a file
"""

from __future__ import annotations

__all__ = [
    "AuthorizationDenied",
    "AuthorizationExpired",
    "BrowserUnavailable",
    "ConfigError",
    "CredentialConfigError",
    "CredentialError",
    "CredentialNotFound",
    "HttpRequestError",
    "KVBackendError",
    "KVConflict",
    "KVError",
    "KVNotFound",
    "KVSecretRefused",
    "KVValueError",
    "LoginError",
    "LoginRequired",
    "MaskingError",
    "MaskingSettingError",
    "NamespaceError",
    "NbcredsError",
    "RefreshTokenRejected",
    "ScanError",
    "SecretBackendError",
    "SecretError",
    "SecretMountNotFound",
    "SecretNotFound",
    "SecretReadOnly",
    "TokenRequestError",
]


class NbcredsError(Exception):
    """Base class of every error nbcreds raises on purpose."""


class NamespaceError(NbcredsError, ValueError):
    """A namespace name breaks Kestra's rule, or no namespace is selected."""


class ConfigError(NbcredsError):
    """``nbcreds.toml`` is invalid. The message names the file, the table and the key."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        table: str | None = None,
        key: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(f"file {path}")
        if table is not None:
            where.append(f"table [{table}]" if table else "top-level table")
        if key is not None:
            where.append(f"key '{key}'")
        full = f"{message} ({', '.join(where)})" if where else message
        super().__init__(full)
        self.path = path
        self.table = table
        self.key = key


class SecretError(NbcredsError):
    """Base class for secret errors."""


class SecretNotFound(SecretError, LookupError):
    """No source holds the secret in the namespace or any of its parents."""

    def __init__(self, message: str, *, name: str = "", namespace: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.namespace = namespace

    def __str__(self) -> str:  # LookupError/KeyError would add quotes; keep the message plain
        return str(self.args[0]) if self.args else ""


class SecretBackendError(SecretError):
    """A secret source failed: down, sealed, forbidden or misconfigured.

    Carries the source's address, the HTTP status and the server's error strings
    (masked) when there are some -- never a token, and never the library's own
    exception (which holds the request and its credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        address: str | None = None,
        status: int | None = None,
        errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.source = source
        self.address = address
        self.status = status
        self.errors = errors


class SecretMountNotFound(SecretBackendError):
    """The configured KV mount does not exist on the Vault server, or the token can
    see nothing in it. ``.mount`` names it; the setting is ``[sources.vault] mount``."""

    def __init__(self, message: str, *, mount: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.mount = mount


class SecretReadOnly(SecretError):
    """A write was attempted on a read-only secret source."""


class CredentialError(NbcredsError):
    """Base class for credential errors."""


class CredentialNotFound(CredentialError, LookupError):
    """No credential definition of that name in the namespace or its parents."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CredentialConfigError(CredentialError):
    """A credential definition is incomplete or inconsistent.

    ``key`` is the setting at fault (``None`` when it is the whole definition),
    ``path`` the config file and ``table`` the definition's table, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        path: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.path = path
        self.table = table


class TokenRequestError(CredentialError):
    """The token endpoint refused the request or could not be reached.

    Carries the server's OAuth2 ``error``, ``error_description``, ``error_uri``
    and the HTTP ``status`` -- never a secret, an assertion or a token.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        self.status = status


class LoginError(CredentialError):
    """A user sign-in (``oauth2_device_code``, ``oauth2_authorization_code``,
    ``oauth2_refresh_token``) cannot start or finish. The message names the
    credential and says what to do; it never holds a code or a token."""


class LoginRequired(LoginError):
    """A sign-in is needed but nobody can answer it (a headless run: nbclient,
    papermill, a script without a terminal). Provide a refresh token instead."""


class BrowserUnavailable(LoginError):
    """The authorization-code flow found no browser to open from this kernel."""


class AuthorizationDenied(LoginError, TokenRequestError):
    """The user (or the server) refused the sign-in (``access_denied``)."""


class AuthorizationExpired(LoginError, TokenRequestError):
    """The sign-in was not approved before its code expired (``expired_token``)."""


class RefreshTokenRejected(LoginError, TokenRequestError):
    """The token endpoint refused the refresh token of an ``oauth2_refresh_token``
    credential (``invalid_grant``: revoked, expired or rotated away)."""


class KVError(NbcredsError):
    """Base class for KV store errors."""


class KVNotFound(KVError, LookupError):
    """The key does not exist (or has expired) in the namespace."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class KVConflict(KVError):
    """The write lost: the key exists (``overwrite=False``) or its revision moved."""


class KVSecretRefused(KVError):
    """A secret (or a value containing one) may not be stored in KV: use ``secret()``."""


class KVValueError(KVError, ValueError):
    """A key, type, value or TTL breaks the KV rules."""


class KVBackendError(KVError):
    """The KV database is unavailable, locked, read-only or corrupt."""


class HttpRequestError(NbcredsError):
    """A ``%%http`` request is malformed, its template fails, or it cannot be sent
    (DNS, connection, timeout, TLS). The message names the host, never a secret."""


class MaskingError(NbcredsError):
    """The masking engine cannot work as asked."""


class MaskingSettingError(MaskingError, ValueError):
    """A ``[masking]`` setting is unknown, of the wrong type or out of range.

    ``key`` names the setting, ``message`` says what to write instead (never a
    value). The config loader turns it into a :class:`ConfigError` naming the file.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"[masking] {key}: {message}")
        self.key = key
        self.message = message


class ScanError(NbcredsError):
    """``nbcreds scan`` / ``scrub`` could not read or write a file."""

"""One table from a failed Vault request to our :class:`~nbcreds.SecretBackendError`.

The library's exception (hvac's, or requests' under it) is never kept: it holds the
request and its ``X-Vault-Token`` header. :func:`failure_of` copies out what helps --
the kind of failure, the HTTP status, the server's ``errors`` -- inside the
``except`` block; :func:`vault_error` builds our error from that copy, so the caller
raises it *outside* the block and no ``__context__`` leads back to the library.

Server text goes through the masker (every encoding of every registered value)
before it is shortened for a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..._exceptions import SecretBackendError, SecretMountNotFound
from ..._text import server_text
from ._settings import AUTH_METHODS

if TYPE_CHECKING:
    from ._settings import VaultSettings

__all__ = ["Failure", "failure_of", "missing_mount", "mount_not_found", "vault_error"]

#: hvac's exception classes and the HTTP status each one stands for (hvac's own
#: ``VaultError.from_status`` map, read backwards, plus the ones it raises itself).
HVAC_STATUS: dict[str, int] = {
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

#: requests' transport failures, most specific first (SSLError is a ConnectionError,
#: ConnectTimeout both a ConnectionError and a Timeout).
TRANSPORT_KINDS: tuple[tuple[str, str], ...] = (
    ("SSLError", "tls"),
    ("Timeout", "timeout"),
    ("ConnectionError", "connect"),
    ("RequestException", "transport"),
)


@dataclass(frozen=True)
class Failure:
    """What a failed request tells, copied out of the library exception.

    ``kind`` is ``tls``, ``timeout``, ``connect``, ``transport`` (no answer) or
    ``http`` (the server answered with an error status). ``errors`` are the server's
    ``errors`` strings, already masked.
    """

    kind: str
    status: int | None = None
    errors: tuple[str, ...] = ()
    exception: str = ""

    @property
    def detail(self) -> str:
        return server_text("; ".join(e for e in self.errors if e))


def failure_of(exc: BaseException) -> Failure | None:
    """The facts of ``exc`` when it is hvac's or requests', else None."""
    import hvac.exceptions
    import requests

    name = type(exc).__name__
    if isinstance(exc, requests.RequestException):
        for class_name, kind in TRANSPORT_KINDS:
            if isinstance(exc, getattr(requests.exceptions, class_name)):
                return Failure(kind, exception=name)
    if isinstance(exc, hvac.exceptions.VaultError):
        raw = exc.errors if isinstance(exc.errors, list | tuple) else ()
        errors = tuple(server_text(str(e), limit=None) for e in raw if e)
        status = next(
            (
                code
                for cls, code in HVAC_STATUS.items()
                if isinstance(exc, getattr(hvac.exceptions, cls))
            ),
            None,
        )
        return Failure("http", status=status, errors=errors, exception=name)
    return None


# --- the table ----------------------------------------------------------------------

Builder = Callable[["Failure", "VaultSettings", str], str]


def _tls(f: Failure, s: VaultSettings, doing: str) -> str:
    return (
        f"TLS verification failed for Vault at {s.address} ({doing}): set [sources.vault] "
        "ca_cert to the CA certificate that signed the server's certificate (verify = false "
        "only for a local test server)."
    )


def _timeout(f: Failure, s: VaultSettings, doing: str) -> str:
    return (
        f"Vault at {s.address} did not answer within {s.timeout:g}s ({doing}): check the "
        "server, or raise [sources.vault] timeout."
    )


def _connect(f: Failure, s: VaultSettings, doing: str) -> str:
    return f"cannot reach Vault at {s.address}: is it running? ({doing} failed to connect)"


def _transport(f: Failure, s: VaultSettings, doing: str) -> str:
    return f"the request to Vault at {s.address} failed ({doing}: {f.exception})"


def _unavailable(f: Failure, s: VaultSettings, doing: str) -> str:
    if "sealed" in f.detail.lower():
        return (
            f"Vault at {s.address} is sealed (HTTP 503): unseal it (`bao operator unseal` / "
            f"`vault operator unseal`) and retry ({doing})."
        )
    return f"Vault at {s.address} is unavailable (HTTP 503) ({doing}){_detail(f)}"


def _forbidden(f: Failure, s: VaultSettings, doing: str) -> str:
    hint = (
        ", and that the token has not expired"
        if s.auth == "token"
        else f" (the policies of the {s.auth} role)"
    )
    return f"permission denied {doing} at {s.address} (HTTP 403): check the token's policy{hint}."


def _unauthorized(f: Failure, s: VaultSettings, doing: str) -> str:
    return f"Vault at {s.address} refused the token (HTTP 401) {doing}{_detail(f)}"


def _other(f: Failure, s: VaultSettings, doing: str) -> str:
    return f"Vault at {s.address} failed {doing} (HTTP {f.status or '?'}){_detail(f)}"


def _login(f: Failure, s: VaultSettings, doing: str) -> str:
    keys = " / ".join(AUTH_METHODS[s.auth][:-1])
    return (
        f"Vault login refused: {doing} at {s.address} (HTTP {f.status or '?'}){_detail(f)}. "
        f"Check [sources.vault] {keys} and the auth method's role."
    )


#: The one table: a failure's kind, or its HTTP status, to the message that says what
#: to do. A login failure (not a transport one) uses ``_login`` whatever its status.
MESSAGES: dict[str | int, Builder] = {
    "tls": _tls,
    "timeout": _timeout,
    "connect": _connect,
    "transport": _transport,
    503: _unavailable,
    403: _forbidden,
    401: _unauthorized,
}


def vault_error(
    failure: Failure,
    settings: VaultSettings,
    action: str,
    target: str,
    *,
    login: bool = False,
    forbidden_hint: str = "",
) -> SecretBackendError:
    """Our error for ``failure`` while ``action`` ``target`` (raise it outside ``except``).

    ``forbidden_hint`` is added to a 403's advice (the source's mount check knows
    when the token sees no KV mount at all)."""
    doing = f"{action} {target}"
    if failure.kind != "http":
        builder = MESSAGES[failure.kind]
    elif login and failure.status != 503:
        builder = _login
    else:
        builder = MESSAGES.get(failure.status or 0, _other)
    if failure.kind == "http" and not login and missing_mount(failure):
        return mount_not_found(settings, doing, failure)
    message = builder(failure, settings, doing)
    if failure.status == 403 and forbidden_hint and not login:
        message = message.removesuffix(".") + forbidden_hint + "."
    return SecretBackendError(
        server_text(message, limit=None),
        source="vault",
        address=settings.address,
        status=failure.status,
        errors=failure.errors,
    )


def missing_mount(failure: Failure) -> bool:
    """Vault's answers for a mount that is not there: 404 'no handler for route'
    (a token that may look), or the mounts endpoint's 403 'preflight capability check'
    (nothing in the mount is visible to the token)."""
    text = " ".join(failure.errors).lower()
    if failure.status == 404:
        return "no handler for route" in text
    if failure.status == 403:
        return "preflight capability check" in text
    return False


def mount_not_found(
    settings: VaultSettings,
    doing: str,
    failure: Failure | None = None,
    visible: list[str] | None = None,
) -> SecretMountNotFound:
    sees = f" (it sees {', '.join(repr(m) for m in visible)})" if visible else ""
    return SecretMountNotFound(
        f"Vault at {settings.address} has no KV mount {settings.mount!r} that this token can "
        f"see{sees} ({doing}): check [sources.vault] mount in {settings.where} (`bao secrets "
        "list` shows the mounts), or the token's policy if the mount exists.",
        mount=settings.mount,
        source="vault",
        address=settings.address,
        status=failure.status if failure else None,
        errors=failure.errors if failure else (),
    )


def _detail(f: Failure) -> str:
    detail = f.detail
    return f": {detail}" if detail else ""

"""The token engine every credential type shares.

- :class:`TokenHttp` sends token requests with bounded, jittered retries
  (connection errors, 5xx, 408, 429 honouring ``Retry-After``; never 400/401)
  and turns refusals into :class:`TokenRequestError` carrying the server's
  ``error`` fields -- never a secret, an assertion or a token.
- :class:`TokenCache` keeps tokens in memory only, keyed by (tenant, defining
  namespace, name, definition hash), and runs **single-flight** minting: N
  threads or asyncio tasks needing the same token cause exactly one request and
  all get its result or its error.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from .._deadline import Deadline, deadline_transport
from .._exceptions import CredentialError, TokenRequestError
from .._plugin_api import Minted
from .._session import notify_change
from .._text import server_text
from ..masking import registry
from ..values import Secret

if TYPE_CHECKING:
    import httpx

    from .._definition import Definition

__all__ = [
    "CachedToken",
    "Minted",
    "RetryPolicy",
    "TokenCache",
    "TokenHttp",
    "refresh_point",
    "retry_policy",
    "sensitive",
]

log = logging.getLogger("nbcreds.credentials")

CacheKey = tuple[str, str | None, str, str]


def sensitive(value: str, label: str) -> str:
    """``value`` registered with the masker; returns it.

    The one place a credential type's own secret material meets the masker: what it
    makes or receives on the way to a token (a signed assertion, a device code, a PKCE
    verifier, a Basic header, a refresh token, what a request sends). The access token
    itself is registered by the token cache (:meth:`CachedToken.register`), and secrets
    read through references by the resolver -- a type never has to register those.
    """
    registry.register(value, label)
    return value


@dataclass
class RetryPolicy:
    """How token requests are retried (module-level :data:`retry_policy`; tests may tune it)."""

    retries: int = 3
    backoff: float = 0.25  # first pause; doubles each retry, with +-50 % jitter
    max_backoff: float = 4.0
    max_retry_after: float = 30.0  # a longer Retry-After fails at once instead of hanging


retry_policy = RetryPolicy()
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))


#: Longest token lifetime nbcreds believes: a longer (or infinite) ``expires_in`` is
#: clamped to it, so a lying server costs one refresh a year, never an overflow.
MAX_TOKEN_LIFETIME = 365 * 86400.0


def token_lifetime(raw: object, credential: str, field: str = "expires_in") -> float | None:
    """A token endpoint's lifetime answer, checked (the rule docs/credentials.md states).

    - absent (``None``): no known expiry, the token is kept until refused;
    - a number, or a string holding one (some servers send ``"3600"``): seconds;
    - negative: ``0`` (already expired: used once, minted again next time);
    - above :data:`MAX_TOKEN_LIFETIME`, ``inf`` included: clamped to it;
    - anything else (text, ``true``, a list, ``NaN``): :class:`TokenRequestError`.
    """
    if raw is None:
        return None
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or math.isnan(value):
        raise lifetime_error(credential, field, raw)
    return min(max(0.0, value), MAX_TOKEN_LIFETIME)


def lifetime_error(credential: str, field: str, raw: object) -> TokenRequestError:
    """The error for a token lifetime that is not one (the answer's text masked)."""
    shown = server_text(repr(raw), limit=40)
    return TokenRequestError(
        f"Credential {credential!r}: the token endpoint answered {field} = {shown}, which "
        "is not a number of seconds or a date. The server is misconfigured: ask its "
        "operator, or check the credential's endpoint."
    )


def refresh_point(sent: float, lifetime: float | None, margin: float) -> float:
    """When a token minted at ``sent`` should be refreshed.

    The earlier of ``margin`` before expiry and 80 % of the lifetime; a margin
    at least as long as the lifetime (a short-lived token) leaves only the 80 %
    rule, so such a token is still cached for most of its life.
    """
    if lifetime is None:
        return math.inf
    by_ratio = sent + 0.8 * lifetime
    by_margin = sent + lifetime - margin
    if by_margin <= sent:
        return by_ratio
    return min(by_margin, by_ratio)


@dataclass(frozen=True)
class CachedToken:
    """A token in memory with its timings (monotonic clock for decisions)."""

    secret: Secret
    sent_mono: float
    refresh_mono: float
    expires_mono: float
    expires_at: datetime | None
    scope: str | None = None

    def register(self) -> Secret:
        """The token registered with the masker (again: the registry may have been
        cleared); the one place tokens are, before anyone gets one. Returns it."""
        registry.register(self.secret, self.secret.label)
        return self.secret

    def due(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.refresh_mono

    def __repr__(self) -> str:
        return f"CachedToken({self.secret!r}, expires_at={self.expires_at!r})"

    @classmethod
    def from_minted(cls, minted: Minted, definition: Definition) -> CachedToken:
        secret = Secret(minted.access_token, definition.name, "credential")
        if minted.lifetime is None:
            expires_mono, expires_at = math.inf, None
        else:
            expires_mono = minted.sent_mono + minted.lifetime
            expires_at = datetime.fromtimestamp(minted.sent_wall + minted.lifetime, UTC)
        refresh = refresh_point(minted.sent_mono, minted.lifetime, definition.refresh_before)
        token = cls(secret, minted.sent_mono, refresh, expires_mono, expires_at, minted.scope)
        token.register()  # before the token leaves the cache
        return token


# ---------------------------------------------------------------------------------------
# HTTP with retries
# ---------------------------------------------------------------------------------------


@dataclass
class TokenRequest:
    """One attempt's request; built afresh for every attempt (a new ``jti`` each time)."""

    url: str
    data: dict[str, str] | None = None
    json: Any = None
    headers: dict[str, str] | None = None


class TokenHttp:
    """A shared ``httpx.Client`` for token requests, with retries and error mapping."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    headers={"User-Agent": "nbcreds", "Accept": "application/json"},
                    follow_redirects=False,
                    transport=deadline_transport(),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def send(
        self,
        definition: Definition,
        build: Callable[[], TokenRequest],
        sensitive: Callable[[], list[str]],
    ) -> tuple[httpx.Response, float, float]:
        """POST until a 2xx, a final refusal or the retries run out, all within the
        credential's ``timeout`` (one deadline for the whole exchange, retries and
        pauses included: a trickling server cannot hold the caller past it).

        Returns the response and the monotonic / wall times its request was sent.
        """
        import httpx

        client = self.client()
        policy = retry_policy
        attempt = 0
        deadline = Deadline(definition.timeout)
        while True:
            request = build()
            sent_mono, sent_wall = time.monotonic(), time.time()
            failure: str | None = None  # the transport error's class name; the error is dropped
            try:
                with deadline.watching():
                    response = client.post(
                        request.url,
                        data=request.data,
                        json=request.json,
                        headers=request.headers,
                        timeout=deadline.httpx_timeout(),
                    )
            except httpx.TransportError as exc:
                # its .request holds the Authorization header: keep only its class name, and
                # raise ours outside this block so no __context__ leads back to it
                failure = type(exc).__name__
            if failure is not None:
                if deadline.expired:
                    raise TokenRequestError(
                        f"Credential {definition.name!r}: {_url(request.url)} did not answer "
                        f"within {definition.timeout:g}s (the credential's timeout). Check the "
                        "server, or raise the credential's timeout setting."
                    )
                if attempt < policy.retries and deadline.remaining() > 0:
                    attempt += 1
                    pause = min(_backoff(attempt), deadline.remaining())
                    log.info(
                        "credential '%s': %s from %s, retry %d/%d in %.2fs",
                        definition.name,
                        failure,
                        _url(request.url),
                        attempt,
                        policy.retries,
                        pause,
                    )
                    time.sleep(pause)
                    continue
                raise TokenRequestError(
                    f"Credential {definition.name!r}: could not reach {_url(request.url)} "
                    f"({failure}) after {attempt + 1} attempts. Check the URL and "
                    "the network, then try again."
                )
            status = response.status_code
            if 200 <= status < 300:
                return response, sent_mono, sent_wall
            if status in RETRY_STATUSES and attempt < policy.retries:
                wait = _retry_after(response)
                pause = _backoff(attempt + 1) if wait is None else wait
                if (
                    wait is None or wait <= policy.max_retry_after
                ) and pause < deadline.remaining():
                    attempt += 1
                    log.info(
                        "credential '%s': HTTP %d from %s, retry %d/%d in %.2fs",
                        definition.name,
                        status,
                        _url(request.url),
                        attempt,
                        policy.retries,
                        pause,
                    )
                    response.close()
                    time.sleep(pause)
                    continue
            raise_for_response(definition, request.url, response, sensitive, attempt + 1)


def _backoff(attempt: int) -> float:
    base = min(retry_policy.backoff * 2.0 ** (attempt - 1), retry_policy.max_backoff)
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _url(url: str) -> str:
    """A URL fit for a message: no query string, no user info."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_ADVICE = {
    "invalid_client": "check the client id, its secret or key, and the client auth method",
    "invalid_grant": "check the assertion's issuer, subject, audience and signing key",
    "unauthorized_client": "the client may not use this grant type; check the server's "
    "client settings",
    "invalid_scope": "check the credential's scopes",
    "unsupported_grant_type": "the server does not support this credential type",
    "invalid_request": "check the credential's settings (audience, extra_params)",
}


def _server_field(value: object) -> str | None:
    """One of the server's error fields, masked (every encoding) before it is shortened."""
    return server_text(value) if isinstance(value, str) else None


_sensitive = sensitive  # raise_for_response's argument is named sensitive too


def raise_for_response(
    definition: Definition,
    url: str,
    response: httpx.Response,
    sensitive: Callable[[], list[str]],
    attempts: int = 1,
) -> NoReturn:
    """Raise a :class:`TokenRequestError` for a refusal, with the server's error fields."""
    status = response.status_code
    error = description = uri = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            error = body["error"]
            description = body.get("error_description")
            uri = body.get("error_uri")
        elif isinstance(body.get("message"), str):  # GitHub's error shape
            description = body["message"]
            uri = body.get("documentation_url")
    # the request's secrets are registered with the masker (a callable: a traceback
    # showing arguments never shows the values); a server echoing them -- raw, in a
    # Basic header's base64, percent-encoded -- is masked before anything is cut
    for value in sensitive():
        _sensitive(value, f"{definition.name}.request")
    error = _server_field(error)
    description = _server_field(description)
    uri = _server_field(uri)
    detail = ": ".join(x for x in (error, description) if x)
    message = (
        f"Credential {definition.name!r}: {_url(url)} refused the token request "
        f"(HTTP {status}{', ' + detail if detail else ''})"
    )
    if attempts > 1:
        message += f" after {attempts} attempts"
    advice = _ADVICE.get(error or "")
    if advice is None:
        if status in (401, 403):
            advice = "check the credential's client id, secret or key"
        elif status == 404:
            advice = "check the token endpoint URL (or the installation id)"
        elif status >= 500 or status in (408, 429):
            advice = "the server is failing or busy; try again later"
        else:
            advice = "check the credential's settings"
    raise TokenRequestError(
        f"{message}. What to do: {advice}.",
        error=error,
        error_description=description,
        error_uri=uri,
        status=status,
    )


# ---------------------------------------------------------------------------------------
# Cache and single-flight
# ---------------------------------------------------------------------------------------


def _rethrow(exc: BaseException) -> NoReturn:
    """Raise ``exc`` for one more waiter without sharing its traceback between threads."""
    if isinstance(exc, CredentialError):
        try:
            clone = copy.copy(exc)
        except Exception:  # pragma: no cover - a subclass with an odd constructor
            raise exc from None
        raise clone.with_traceback(None) from None
    raise exc


class TokenCache:
    """In-memory tokens with single-flight minting, for threads and asyncio tasks alike.

    A flight is a :class:`concurrent.futures.Future`: the first caller needing a
    token mints it (inline for a thread, in an executor thread for a task) and
    every other caller -- thread or task -- waits on the same future.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[CacheKey, CachedToken] = {}
        self._flights: dict[CacheKey, Future[CachedToken]] = {}

    def peek(self, key: CacheKey) -> CachedToken | None:
        """The cached token (even if due), or None. Never mints."""
        with self._lock:
            return self._tokens.get(key)

    def drop(self, key: CacheKey, token: str | None = None) -> bool:
        """Forget the token of ``key`` (only if it is still ``token``, when given)."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached is None:
                return False
            if token is not None and str.__str__(cached.secret) != str.__str__(token):
                return False
            del self._tokens[key]
        notify_change("credential")
        return True

    def drop_matching(self, predicate: Callable[[CacheKey], bool]) -> int:
        with self._lock:
            keys = [k for k in self._tokens if predicate(k)]
            for k in keys:
                del self._tokens[k]
        if keys:
            notify_change("credential")
        return len(keys)

    def clear(self) -> None:
        with self._lock:
            had = bool(self._tokens)
            self._tokens.clear()
        if had:
            notify_change("credential")

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

    def _join(self, key: CacheKey) -> tuple[CachedToken | None, Future[CachedToken], bool]:
        """A fresh cached token, or the flight to wait on and whether we lead it."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and not cached.due():
                return cached, Future(), False
            flight = self._flights.get(key)
            if flight is not None:
                return None, flight, False
            flight = Future()
            flight.set_running_or_notify_cancel()  # nobody can cancel a shared flight
            self._flights[key] = flight
            return None, flight, True

    def _lead(
        self, key: CacheKey, flight: Future[CachedToken], mint: Callable[[], CachedToken]
    ) -> None:
        try:
            token = mint()
        except BaseException as exc:
            with self._lock:
                self._flights.pop(key, None)
            flight.set_exception(exc)
            notify_change("credential")  # a failed mint shows as "failed: ..."
            return
        with self._lock:
            self._tokens[key] = token
            self._flights.pop(key, None)
        flight.set_result(token)
        notify_change("credential")  # minted or refreshed

    def get(self, key: CacheKey, mint: Callable[[], CachedToken]) -> CachedToken:
        """A current token for ``key``; at most one ``mint()`` runs per key at a time."""
        cached, flight, leader = self._join(key)
        if cached is not None:
            return cached
        if leader:
            self._lead(key, flight, mint)
            exc = flight.exception()
            if exc is not None:
                raise exc
            return flight.result()
        exc = flight.exception()
        if exc is not None:
            _rethrow(exc)
        return flight.result()

    async def aget(self, key: CacheKey, mint: Callable[[], CachedToken]) -> CachedToken:
        """Like :meth:`get` for asyncio tasks: the mint runs in an executor thread, so
        the event loop never blocks, and it shares flights with threads."""
        cached, flight, leader = self._join(key)
        if cached is not None:
            return cached
        if leader:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, self._lead, key, flight, mint)
        waited = asyncio.wrap_future(flight)
        try:
            # wake up now and then instead of one long await: a loop with no other timer
            # sleeps in select() until the flight ends, so a kernel interrupt (ipykernel
            # turns SIGINT into cancelling the cell's task) would not land before that --
            # minutes for a user sign-in. asyncio.wait never cancels the shared flight.
            while not waited.done():
                await asyncio.wait({waited}, timeout=0.25)
            return waited.result()
        except CredentialError as exc:
            if leader:
                raise
            _rethrow(exc)

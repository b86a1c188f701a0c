"""The public credential functions and the process's one engine.

``credential()`` keeps a tiny fast-path table keyed by ``(name, namespace
argument)``: a hit is served after a dict lookup, a clock read and identity
checks of the config object and the selected namespace -- no config walk, no lock.
A listener on the masking registry empties the table when one of its tokens is
no longer registered. Anything else (a miss, a token due for
refresh, a changed config or namespace) takes the full path through the
definition lookup and the single-flight cache.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import _context
from .. import namespaces as _namespaces
from .._exceptions import CredentialError, NbcredsError
from ..config import Config
from ..masking import _registry
from ..namespaces import display
from ..namespaces import resolve as resolve_namespace
from ..values import Secret
from ._definition import Definition, find_definition, visible_definitions
from ._engine import CachedToken, TokenCache, TokenHttp

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CredentialInfo",
    "CredentialListing",
    "TestResult",
    "auth",
    "credential",
    "credential_info",
    "engine",
    "invalidate",
    "list_credentials",
    "test_credential",
]


@dataclass(frozen=True)
class TestResult:
    """The outcome of :func:`test_credential`, like Kestra's Test button."""

    __test__ = False  # not a pytest test class

    success: bool
    message: str

    def __bool__(self) -> bool:
        return self.success


@dataclass(frozen=True)
class CredentialInfo:
    """What is known about a credential -- never its token."""

    name: str
    type: str
    description: str
    namespace: str | None  # the level defining it (None: tenant)
    level: str  # the same, for display: a namespace or "tenant"
    scopes: tuple[str, ...]
    cached: bool
    expires_at: datetime | None
    refresh_due: bool  # True when credential() would mint (nothing cached, or refresh time)
    caching_enabled: bool = True
    token_endpoint: str | None = None


@dataclass(frozen=True)
class CredentialListing:
    """One row of :func:`list_credentials`."""

    name: str
    type: str
    level: str | None
    inherited: bool
    cached: bool
    expires_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "level": display(self.level),
            "inherited": self.inherited,
            "cached": self.cached,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


# fast-path entry: (secret, valid-until monotonic, config, resolved ns,
#                   ns-from-config, NBCREDS_NAMESPACE seen)
_FastEntry = tuple[Secret, float, Any, str | None, bool, Any]


class CredentialEngine:
    """Definitions -> tokens: the single-flight cache, the HTTP client, the fast path."""

    def __init__(self) -> None:
        self.cache = TokenCache()
        self.http = TokenHttp()
        self.fast: dict[tuple[str, str | None], _FastEntry] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every drop, so a racing fill cannot resurrect

    def _mint(self, definition: Definition) -> CachedToken:
        from ._types import strategy

        minted = strategy(definition.type).mint(definition, self.http)
        return CachedToken.from_minted(minted, definition)

    def token(self, name: str, namespace: str | None) -> CachedToken:
        config = _context.get_config()
        ns = resolve_namespace(namespace)
        definition = find_definition(name, ns)
        if not definition.caching_enabled:
            return self._mint(definition)
        generation = self._generation
        token = self.cache.get(definition.cache_key, lambda: self._mint(definition))
        self._remember(name, namespace, ns, token, generation, config)
        return token

    async def atoken(self, name: str, namespace: str | None) -> CachedToken:
        config = _context.get_config()
        ns = resolve_namespace(namespace)
        definition = find_definition(name, ns)
        if not definition.caching_enabled:
            import asyncio

            return await asyncio.to_thread(self._mint, definition)
        generation = self._generation
        token = await self.cache.aget(definition.cache_key, lambda: self._mint(definition))
        self._remember(name, namespace, ns, token, generation, config)
        return token

    def _remember(
        self,
        name: str,
        namespace: str | None,
        ns: str | None,
        token: CachedToken,
        generation: int,
        config: Config,
    ) -> None:
        # the masker must know the value before anyone gets it (again); a clear() racing
        # with this bumps the generation through the listener, and the entry is not stored
        _registry.registry.register(token.secret, token.secret.label)
        from_config = config.default_namespace is not None
        until = min(token.refresh_mono, token.expires_mono)
        with self._lock:
            if generation != self._generation:
                return  # dropped meanwhile: never put a dropped token back on the fast path
            self.fast[(name, namespace)] = (
                token.secret,
                until,
                config,
                ns,
                from_config,
                _environ_data.get(_NS_ENV_KEY),
            )

    def fresh(self, definition: Definition) -> CachedToken:
        """Mint now, bypassing (and not touching) the cache."""
        return self._mint(definition)

    def registry_changed(self) -> None:
        """Masking-registry listener: if a fast-path token is no longer registered (a value
        was unmasked, the registry cleared), empty the fast path, so the next call takes
        the slow path and registers the token again before returning it."""
        with self._lock:
            entries = list(self.fast.values())
        if all(entry[0] in _registry.registry for entry in entries):
            return
        with self._lock:
            self._generation += 1
            self.fast.clear()

    def drop(self, definition: Definition, token: str | None = None) -> bool:
        with self._lock:
            self._generation += 1
            self.fast.clear()
        return self.cache.drop(definition.cache_key, token)

    def reset(self) -> None:
        """Forget every token, sign-ins' refresh tokens included (tests; also on demand).
        The HTTP client is kept; a refresh token in the OS keyring is kept."""
        from ._login import book

        with self._lock:
            self._generation += 1
            self.fast.clear()
        self.cache.clear()
        book.clear()

    def close(self) -> None:
        """Forget every token and close the HTTP client (a new one is made on demand)."""
        self.reset()
        self.http.close()


engine = CredentialEngine()
_fast = engine.fast
# Any change to the masking registry (a value removed, the registry cleared) empties the
# fast path, so the next call re-registers the token on the slow path before returning it.
_registry.registry.add_listener(engine.registry_changed)
_monotonic = time.monotonic
# os.environ.get costs microseconds for a missing key (a KeyError inside); the fast path
# reads the mapping's own dict instead (what os.environ.__getitem__ reads too).
_environ_data: dict[Any, Any] = getattr(os.environ, "_data", {})
_NS_ENV_KEY: Any = os.environ.encodekey("NBCREDS_NAMESPACE")


def _fast_lookup(name: str, namespace: str | None) -> Secret | None:
    hit = _fast.get((name, namespace))
    if hit is None or _monotonic() >= hit[1] or hit[2] is not _context._config:
        return None
    if namespace is None:
        if _namespaces._explicit:
            if _namespaces._current != hit[3]:
                return None
        elif not hit[4] and _environ_data.get(_NS_ENV_KEY) != hit[5]:
            return None
    return hit[0]


def credential(name: str, namespace: str | None = None) -> Secret:
    """The current access token of credential ``name`` (nearest definition from
    ``namespace``, default: the current namespace), minted or refreshed as needed.

    The value is registered with the masker before it is returned.
    """
    hit = _fast.get((name, namespace))
    if (
        hit is not None
        and _monotonic() < hit[1]
        and hit[2] is _context._config
        and (
            namespace is not None
            or (
                _namespaces._current == hit[3]
                if _namespaces._explicit
                else hit[4] or _environ_data.get(_NS_ENV_KEY) == hit[5]
            )
        )
    ):
        return hit[0]
    return engine.token(name, namespace).secret


async def acredential(name: str, namespace: str | None = None) -> Secret:
    """:func:`credential` for coroutines: a needed mint runs in a worker thread and
    shares its flight with every other caller, thread or task."""
    found = _fast_lookup(name, namespace)
    if found is not None:
        return found
    return (await engine.atoken(name, namespace)).secret


def credential_info(name: str, namespace: str | None = None) -> CredentialInfo:
    """Type, level, scopes and cache state of ``name``; never mints, never shows a token."""
    ns = resolve_namespace(namespace)
    definition = find_definition(name, ns)
    cached = engine.cache.peek(definition.cache_key) if definition.caching_enabled else None
    now = time.monotonic()
    usable = cached is not None and now < cached.expires_mono
    return CredentialInfo(
        name=definition.name,
        type=definition.type,
        description=definition.description,
        namespace=definition.level,
        level=display(definition.level),
        scopes=definition.scopes,
        cached=usable,
        expires_at=cached.expires_at if cached is not None else None,
        refresh_due=not usable or (cached is not None and cached.due(now)),
        caching_enabled=definition.caching_enabled,
        token_endpoint=definition.token_endpoint,
    )


def test_credential(name: str, namespace: str | None = None) -> TestResult:  # noqa: PT028
    """Mint a fresh token now (bypassing the cache) and report; never raises."""
    try:
        ns = resolve_namespace(namespace)
        definition = find_definition(name, ns)
        token = engine.fresh(definition)
    except NbcredsError as exc:
        return TestResult(False, str(exc))
    except Exception as exc:  # a test button must not blow up; name the kind only
        return TestResult(
            False,
            f"Credential '{name}': unexpected {type(exc).__name__}; "
            "this is a bug, please report it.",
        )
    parts = [
        f"Credential '{name}' ({definition.type}, level {display(definition.level)}): "
        "a token was obtained"
    ]
    if definition.token_endpoint:
        parts.append(f" from {definition.token_endpoint}")
    if math.isfinite(token.expires_mono):
        parts.append(f", valid for {int(token.expires_mono - token.sent_mono)} s")
    else:
        parts.append(", with no expiry given")
    if token.scope:
        parts.append(f", scopes: {token.scope}")
    return TestResult(True, "".join(parts) + ".")


test_credential.__test__ = False  # type: ignore[attr-defined]


def invalidate(name: str, namespace: str | None = None) -> bool:
    """Drop the cached token of ``name``; True if there was one."""
    ns = resolve_namespace(namespace)
    return engine.drop(find_definition(name, ns))


def list_credentials(namespace: str | None = None) -> list[CredentialListing]:
    """Credentials visible from ``namespace`` with the level each comes from (nearest wins)."""
    ns = resolve_namespace(namespace)
    rows = []
    now = time.monotonic()
    config = _context.get_config()
    from ._definition import _definitions

    for name, level, table in visible_definitions(ns):
        try:
            definition = _definitions.get(config, level, name, table)
            cached = engine.cache.peek(definition.cache_key)
        except CredentialError:
            definition, cached = None, None
        usable = cached is not None and now < cached.expires_mono
        rows.append(
            CredentialListing(
                name=name,
                type=str(table.get("type", "?")) if definition is None else definition.type,
                level=level,
                inherited=level != ns,
                cached=usable,
                expires_at=cached.expires_at if usable and cached is not None else None,
            )
        )
    return rows


def auth(name: str, namespace: str | None = None) -> httpx.Auth:
    """An ``httpx.Auth`` for ``Client`` and ``AsyncClient``: Bearer token, refreshed
    when due; on a 401 the cached token is dropped and the request retried once."""
    from ._auth import CredentialAuth

    return CredentialAuth(name, namespace)

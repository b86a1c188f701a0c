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

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from .. import _definition, plugins
from .._definition import Definition, definition_at
from .._exceptions import CredentialError, CredentialNotFound, NbcredsError
from .._session import notify_change, resolve_namespace, session
from ..masking import registry
from ..namespaces import display, lookup_chain
from ..values import Secret
from ._engine import CachedToken, TokenCache, TokenHttp

__all__ = [
    "CredentialInfo",
    "CredentialListing",
    "TestResult",
    "credential",
    "credential_info",
    "definition_table",
    "engine",
    "find_definition",
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
    # the last failed mint's message (an NbcredsError's text), cleared by a success
    error: str | None = None
    # a token is cached but its lifetime is over
    expired: bool = False

    @property
    def state(self) -> str:
        """``valid`` / ``expired`` / ``not_fetched`` / ``failed`` (:mod:`._status`)."""
        from ._status import token_state

        return token_state(
            cached=self.cached or self.expired, expires_at=self.expires_at, error=self.error
        )

    @property
    def status(self) -> str:
        """``valid · expires in 59 min`` / ``expired`` / ``not fetched yet`` / ``failed: …``."""
        from ._status import describe_token

        return describe_token(
            cached=self.cached or self.expired, expires_at=self.expires_at, error=self.error
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "level": display(self.level),
            "inherited": self.inherited,
            "cached": self.cached,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "state": self.state,
            "status": self.status,
            "error": self.error,
        }


# fast-path entry: (secret, valid-until monotonic, session generation, NBCREDS_NAMESPACE
# seen -- or _ANY when the namespace did not come from that variable)
_FastEntry = tuple[Secret, float, int, Any]
_ANY: Any = object()
_NS_ENV = "NBCREDS_NAMESPACE"


def find_definition(name: str, namespace: str | None) -> Definition:
    """The nearest definition of ``name`` seen from ``namespace`` (already resolved)."""
    if not isinstance(name, str) or not name:
        raise CredentialNotFound("A credential name must be a non-empty string.")
    config = session().config
    chain = lookup_chain(namespace)
    for level in chain:
        found = definition_at(config, level, name)
        if found is not None:
            return found
    looked = ", ".join(display(level) for level in chain)
    where = f"in namespace '{namespace}'" if namespace is not None else "at the tenant level"
    # a TOML key: bare when it can be, else quoted with JSON (= TOML basic string) escapes
    table_key = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)
    raise CredentialNotFound(
        f"Cannot find credential {name!r} {where} (looked in {looked} of {config.where}). "
        f"Define it in a [credentials.{table_key}] table (tenant) or "
        f'[namespaces."<ns>".credentials.{table_key}].'
    )


def definition_table(name: str, namespace: str | None) -> dict[str, Any] | None:
    """The table of credential ``name`` as the loaded config declares it at exactly
    ``namespace`` (``None``: the tenant level), or None (forms load it to edit)."""
    found = session().config.credentials_at(namespace).get(name)
    return dict(found) if isinstance(found, dict) else None


def visible_definitions(namespace: str | None) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(name, level, table) of every credential visible from ``namespace``, nearest wins."""
    config = session().config
    seen: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for level in lookup_chain(namespace):
        for name, table in config.credentials_at(level).items():
            seen.setdefault(name, (name, level, table))
    return [seen[k] for k in sorted(seen)]


class CredentialEngine:
    """Definitions -> tokens: the single-flight cache, the HTTP client, the fast path."""

    def __init__(self) -> None:
        self.cache = TokenCache()
        self.http = TokenHttp()
        self.fast: dict[tuple[str, str | None], _FastEntry] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every drop, so a racing fill cannot resurrect
        #: called by :meth:`reset` (the sign-in book forgets its refresh tokens)
        self.reset_hooks: list[Callable[[], None]] = []
        #: called with the definition whose waiter was interrupted (sign-ins register here)
        self.cancel_hooks: list[Callable[[Definition], object]] = []
        # cache key -> the last failed mint's message, for the listings' "failed: ..."
        self.failures: dict[Any, str] = {}

    def _mint(self, definition: Definition) -> CachedToken:
        ctype = plugins.credential_type(definition.type)
        if ctype is None:  # pragma: no cover - the definition was validated with it
            raise definition.error("type", "no installed plugin provides this type any more.")
        try:
            minted = ctype.strategy().mint(definition, self.http)
        except NbcredsError as exc:
            self.failures[definition.cache_key] = str(exc)  # our messages hold no secret
            raise
        except Exception as exc:
            self.failures[definition.cache_key] = f"unexpected {type(exc).__name__}"
            raise
        self.failures.pop(definition.cache_key, None)
        return CachedToken.from_minted(minted, definition)

    def token(self, name: str, namespace: str | None) -> CachedToken:
        seen = _seen(namespace)
        ns = resolve_namespace(namespace)
        definition = find_definition(name, ns)
        if not definition.caching_enabled:
            return self._mint(definition)
        generation = self._generation
        token = self.cache.get(definition.cache_key, lambda: self._mint(definition))
        self._remember(name, namespace, token, generation, seen)
        return token

    async def atoken(self, name: str, namespace: str | None) -> CachedToken:
        seen = _seen(namespace)
        ns = resolve_namespace(namespace)
        definition = find_definition(name, ns)
        if not definition.caching_enabled:
            import asyncio

            return await asyncio.to_thread(self._mint, definition)
        generation = self._generation
        try:
            token = await self.cache.aget(definition.cache_key, lambda: self._mint(definition))
        except BaseException as exc:
            import asyncio

            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                for cancel in list(self.cancel_hooks):
                    cancel(definition)  # an interrupted cell stops a sign-in it waited on
            raise
        self._remember(name, namespace, token, generation, seen)
        return token

    def _remember(
        self,
        name: str,
        namespace: str | None,
        token: CachedToken,
        generation: int,
        seen: tuple[int, Any],
    ) -> None:
        # the masker must know the value before anyone gets it (again); a clear() racing
        # with this bumps the generation through the listener, and the entry is not stored
        token.register()
        until = min(token.refresh_mono, token.expires_mono)
        with self._lock:
            if generation != self._generation:
                return  # dropped meanwhile: never put a dropped token back on the fast path
            self.fast[(name, namespace)] = (token.secret, until, *seen)

    def fresh(self, definition: Definition) -> CachedToken:
        """Mint now, bypassing (and not touching) the cache."""
        try:
            return self._mint(definition)
        finally:
            notify_change("credential")  # tested: its last failure is set or cleared

    def registry_changed(self) -> None:
        """Masking-registry listener: if a fast-path token is no longer registered (a value
        was unmasked, the registry cleared), empty the fast path, so the next call takes
        the slow path and registers the token again before returning it."""
        with self._lock:
            entries = list(self.fast.values())
        if all(entry[0] in registry for entry in entries):
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
        with self._lock:
            self._generation += 1
            self.fast.clear()
        self.cache.clear()
        self.failures.clear()
        for hook in list(self.reset_hooks):
            hook()

    def close(self) -> None:
        """Forget every token and close the HTTP client (a new one is made on demand)."""
        self.reset()
        self.http.close()


def _seen(namespace: str | None) -> tuple[int, Any]:
    """What a fast-path entry filled now depends on: the session generation (config and
    namespace selection), and ``$NBCREDS_NAMESPACE`` when the namespace comes from it."""
    state = session()
    generation = state.generation
    if namespace is not None or state.namespace_selected or state.config.default_namespace:
        return generation, _ANY
    return generation, os.environ.get(_NS_ENV)


engine = CredentialEngine()


def _resolve_secret(definition: Definition, key: str) -> str:
    from ._types import resolve_secret

    return resolve_secret(definition, key)


_definition.secret_resolver[:] = [_resolve_secret]  # Definition.secret(key), for every type
_fast = engine.fast
_session = session()
# Any change to the masking registry (a value removed, the registry cleared) empties the
# fast path, so the next call re-registers the token on the slow path before returning it.
registry.add_listener(engine.registry_changed)
_monotonic = time.monotonic


def _fast_lookup(name: str, namespace: str | None) -> Secret | None:
    hit = _fast.get((name, namespace))
    if (
        hit is not None
        and hit[2] == _session.generation
        and _monotonic() < hit[1]
        and (hit[3] is _ANY or os.environ.get(_NS_ENV) == hit[3])
    ):
        return hit[0]
    return None


def credential(name: str, namespace: str | None = None) -> Secret:
    """The current access token of credential ``name`` (nearest definition from
    ``namespace``, default: the current namespace), minted or refreshed as needed.

    The value is registered with the masker before it is returned.
    """
    hit = _fast.get((name, namespace))
    if (
        hit is not None
        and hit[2] == _session.generation
        and _monotonic() < hit[1]
        and (hit[3] is _ANY or os.environ.get(_NS_ENV) == hit[3])
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
    config = session().config
    for name, level, table in visible_definitions(ns):
        try:
            definition = definition_at(config, level, name)
            assert definition is not None
            cached = engine.cache.peek(definition.cache_key)
        except CredentialError:
            definition, cached = None, None
        usable = cached is not None and now < cached.expires_mono
        error = engine.failures.get(definition.cache_key) if definition is not None else None
        rows.append(
            CredentialListing(
                name=name,
                type=str(table.get("type", "?")) if definition is None else definition.type,
                level=level,
                inherited=level != ns,
                cached=usable,
                expires_at=cached.expires_at if cached is not None else None,
                error=error,
                expired=cached is not None and not usable,
            )
        )
    return rows


class UnsavedTest(NamedTuple):
    """What :func:`check_unsaved` found (never the token itself)."""

    type: str
    token_endpoint: str | None
    valid_for: int | None
    scope: str | None


def check_unsaved(name: str, namespace: str | None, table: dict[str, Any]) -> UnsavedTest:
    """Validate ``table`` as credential ``name`` at ``namespace`` exactly as the config
    would, against the loaded config (which is not changed, nothing is written), and
    mint a fresh token with it, bypassing the cache. The token is registered with the
    masker and not returned. Raises the engine's errors (CredentialConfigError carries
    the key at fault)."""
    import math

    from .._config_write import _clean
    from .._definition import build_definition
    from ..masking import registry

    definition = build_definition(session().config, namespace, name, _clean(table))
    token = engine.fresh(definition)
    registry.register(token.secret, token.secret.label)
    lifetime = token.expires_mono - token.sent_mono
    return UnsavedTest(
        type=definition.type,
        token_endpoint=definition.token_endpoint or None,
        valid_for=int(lifetime) if math.isfinite(lifetime) else None,
        scope=token.scope or None,
    )

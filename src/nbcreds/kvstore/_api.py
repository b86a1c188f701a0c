"""The KV facade: ``kv``, ``set_kv``, ``put_kv``, ``delete_kv``, ``kv_keys``, ...

Thin on purpose: validate (namespace, key, type, TTL), refuse secrets, encode,
then one backend call. ``kv()`` and ``set_kv()`` are the hot path, so they do
the least Python work possible (cached key validation, a cached snapshot of
the masking registry, no config lookup once the store exists).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import masking as _masking
from .._exceptions import KVConflict, KVNotFound, KVSecretRefused, KVValueError
from .._exceptions import NamespaceError as _NamespaceError
from .._session import resolve_namespace as _resolve_namespace
from .._session import session as _session
from ..config import Config, is_reference, parse_reference
from ..masking import registry as _registry
from ..values import Secret
from ._base import KVBackend
from ._types import (
    MISSING,
    KVEntry,
    KVItem,
    KVType,
    _valid_keys,
    check_key,
    decode,
    encode,
    ttl_seconds,
)

__all__ = [
    "delete_kv",
    "kv",
    "kv_entries",
    "kv_item",
    "kv_keys",
    "open_store",
    "purge_kv",
    "put_kv",
    "set_kv",
    "update_kv",
]

# a writer waits this long for another kernel or thread before giving up: long enough
# that a busy, shared machine never turns contention into an error (diskcache: 60 s)
DEFAULT_BUSY_TIMEOUT = 30.0

_KV_SETTINGS = {"backend", "path", "url", "busy_timeout", "connect_timeout", "timeout"}


# --- the store -----------------------------------------------------------------------------


def open_store(config: Config | None = None) -> KVBackend:
    """Build the backend ``[kv]`` describes (SQLite in the user data dir by default).

    The facade keeps one per loaded config (closed when the config reloads);
    call this directly to hold a store of your own (close it when done).
    """
    config = config if config is not None else _session().config
    settings = config.table("kv")
    for name in settings:
        if name not in _KV_SETTINGS:
            raise config.error(
                f"unknown setting; [kv] takes {', '.join(sorted(_KV_SETTINGS))}", "kv", name
            )
    backend = settings.get("backend", "sqlite")
    if backend == "sqlite":
        return _open_sqlite(config, settings)
    if backend in ("postgres", "postgresql"):
        return _open_postgres(config, settings)
    raise config.error(
        f'unknown KV backend {backend!r}; use "sqlite" (default) or "postgres"',
        "kv",
        "backend",
    )


def _seconds(config: Config, settings: Mapping[str, Any], name: str, default: float) -> float:
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise config.error("must be a number of seconds (e.g. 5 or 0.5)", "kv", name)
    return float(value)


def _open_sqlite(config: Config, settings: Mapping[str, Any]) -> KVBackend:
    from ._sqlite import SqliteBackend

    raw = settings.get("path")
    if raw is None:
        import platformdirs

        path = Path(platformdirs.user_data_dir("nbcreds")) / "kv.sqlite3"
    elif isinstance(raw, str) and raw:
        path = Path(raw).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path  # relative to the config file, like a project
    else:
        raise config.error("must be a file path", "kv", "path")
    return SqliteBackend(
        path, timeout=_seconds(config, settings, "busy_timeout", DEFAULT_BUSY_TIMEOUT)
    )


#: ``[kv] timeout`` on PostgreSQL: the longest one statement runs or waits for a lock.
DEFAULT_STATEMENT_TIMEOUT = 30.0


def _open_postgres(config: Config, settings: Mapping[str, Any]) -> KVBackend:
    from ._postgres import PostgresBackend

    raw = settings.get("url")
    if not isinstance(raw, str) or not raw:
        raise config.error(
            'the postgres backend needs url = "env:NBCREDS_KV_URL" (or a secret: / vault: '
            "reference to a postgresql:// URL)",
            "kv",
            "url",
        )
    if is_reference(raw):
        from ..secrets._resolver import resolve_reference, select_field

        ref = parse_reference(raw)
        data = resolve_reference(ref, None, label="[kv] url")
        if data is None:
            raise config.error(
                f"the reference {ref} is unset; set it to a postgresql:// URL", "kv", "url"
            )
        url = select_field(data, ref.field, "[kv] url")
    else:
        url = raw
    # the backend registers the URL and its password with the masker as it parses them
    return PostgresBackend(
        url,
        connect_timeout=_seconds(config, settings, "connect_timeout", 10.0),
        timeout=_seconds(config, settings, "timeout", DEFAULT_STATEMENT_TIMEOUT),
    )


_state = _session()


def _store() -> KVBackend:
    # one store per loaded config, made on first use and closed when the config changes
    return _state.per_config("kv", open_store)


# --- checks ----------------------------------------------------------------------------------


_valid_namespaces: set[str] = set()


def _namespace(namespace: str | None) -> str:
    """The namespace a KV call works in. Hot path: the session's current namespace,
    and explicit names are validated once."""
    if namespace is None:
        ns = _state.current_namespace()
    elif namespace.__class__ is str and namespace in _valid_namespaces:
        return namespace
    else:
        ns = _resolve_namespace(namespace)
        if ns is not None:
            if len(_valid_namespaces) > 10_000:
                _valid_namespaces.clear()
            _valid_namespaces.add(ns)
    if ns is None:
        raise _NamespaceError(
            "KV state always belongs to one namespace, and none is selected: call "
            "nbcreds.use_namespace('company.team') first or pass namespace='company.team'."
        )
    return ns


def _parents(ns: str) -> list[str]:
    parts = ns.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


_registered: tuple[int, tuple[str, ...]] = (-1, ())


def _secret_values() -> tuple[str, ...]:
    """The registered secret values, re-read only when the registry changed."""
    global _registered
    version = _registry.version
    if _registered[0] != version:
        version, values = _registry.snapshot()
        _registered = (version, tuple(values))
    return _registered[1]


def _strings(value: object) -> list[str]:
    """Every string inside a JSON value (keys too), to catch escaped secrets."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _refuse_secrets(key: str, ns: str, value: object, kind: str, text: str) -> None:
    """``KVSecretRefused`` when the value is, or contains, a secret. Names the key only.

    Uses the masking engine's matcher (``nbcreds.masking.contains_secret``) when
    it has one, else a substring test over the registry's values.
    """
    strings: list[str] = []
    if kind == "JSON":
        strings = _strings(value)
        if any(isinstance(s, Secret) for s in strings):
            raise _refused(key, ns, "contains a Secret")
    engine: Callable[[str], bool] | None = getattr(_masking, "contains_secret", None)
    if engine is None:
        values = _secret_values()
        if not values:
            return
        hit = any(v in text for v in values) or any(v in s for s in strings for v in values)
    else:
        hit = bool(engine(text)) or any(engine(s) for s in strings)
    if hit:
        raise _refused(key, ns, "contains a registered secret (or an encoding of one)")


def _refuse_secret_key(key: str, ns: str) -> None:
    """``KVSecretRefused`` when the key itself is, or contains, a registered secret:
    keys are stored and listed in clear. The message cannot name such a key."""
    engine: Callable[[str], bool] | None = getattr(_masking, "contains_secret", None)
    if engine is None:
        values = _secret_values()
        hit = bool(values) and any(v in key for v in values)
    else:
        hit = bool(engine(key))
    if hit:
        raise KVSecretRefused(
            f"Refusing a KV key in the namespace {ns!r}: the key itself is, or contains, a "
            "registered secret, and keys are stored and listed in clear. Choose a key that "
            "names the value instead (e.g. 'api_token_cursor')."
        )


def _refused(key: str, ns: str, why: str) -> KVSecretRefused:
    return KVSecretRefused(
        f"Refusing to store the key {key!r} in the namespace {ns!r}: the value {why}. "
        "The KV store holds state, not secrets -- keep the value in a secret source "
        "(env, Vault, session) and read it with nbcreds.secret('NAME')."
    )


def _check_description(key: str, ns: str, description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise KVValueError(f"A description must be a string, not {type(description).__name__}.")
    if isinstance(description, Secret):
        raise _refused(key, ns, "has a Secret as its description")
    if "\x00" in description:
        raise _unstorable(key, "a NUL character in its description")
    _refuse_secrets(key, ns, description, "STRING", description)  # stored in clear too
    return description


def _unstorable(key: str, what: str) -> KVValueError:
    return KVValueError(
        f"The value for the key '{key}' holds {what}, which the KV backends cannot store "
        "as text; remove it, or store the data encoded (e.g. base64 or JSON)."
    )


def _check_revision(if_revision: object) -> int | None:
    if if_revision is None:
        return None
    if isinstance(if_revision, bool) or not isinstance(if_revision, int) or if_revision < 0:
        raise KVValueError(
            "if_revision must be a revision number (>= 1, as returned by set_kv or kv_item), "
            "or 0 to create the key only if it does not exist."
        )
    return int(if_revision)


def _conflict(key: str, ns: str, overwrite: bool, if_revision: int | None) -> KVConflict:
    if if_revision:
        return KVConflict(
            f"The key '{key}' in the namespace '{ns}' is no longer at revision {if_revision} "
            "(another writer changed or removed it); read it again with kv_item() and retry."
        )
    why = "overwrite=False" if not overwrite else "if_revision=0 asks to create it"
    return KVConflict(
        f"The key '{key}' already exists in the namespace '{ns}' ({why}); delete it first, "
        "or write with overwrite=True."
    )


def _not_found(key: str, ns: str, inherit: bool) -> KVNotFound:
    message = f"The key '{key}' does not exist in the namespace '{ns}'."
    parents = _parents(ns)[1:]
    if inherit and parents:
        message = message[:-1] + f" (nor in its parents {', '.join(parents)})."
    return KVNotFound(message)


# --- the facade ------------------------------------------------------------------------------


def kv(
    key: str, namespace: str | None = None, *, default: Any = MISSING, inherit: bool = False
) -> Any:
    """The value of ``key`` in ``namespace`` (default: the current namespace).

    A missing or expired key returns ``default`` when one is given, else raises
    :class:`~nbcreds.KVNotFound`. With ``inherit=True`` the parents are tried
    too (``a.b.c``, ``a.b``, ``a``), nearest first.
    """
    ns = _namespace(namespace)
    if key.__class__ is not str or key not in _valid_keys:
        check_key(key)
    store = _store()
    row: Sequence[Any] | None = (
        store.get_first(_parents(ns), key) if inherit else store.get(ns, key)
    )
    if row is None:
        if default is MISSING:
            raise _not_found(key, ns, inherit)
        return default
    if row[0] == "STRING":
        return row[1]
    return decode(row[0], row[1])


def kv_item(
    key: str, namespace: str | None = None, *, default: Any = MISSING, inherit: bool = False
) -> KVItem:
    """The value and its metadata read together, for compare-and-set::

        item = kv_item("counter", default=0)
        set_kv("counter", item.value + 1, if_revision=item.revision)

    An absent key gives ``KVItem(default, None)`` (revision 0) when a default is given.
    """
    ns = _namespace(namespace)
    check_key(key)
    found = _store().get_item(_parents(ns) if inherit else [ns], key)
    if found is None:
        if default is MISSING:
            raise _not_found(key, ns, inherit)
        return KVItem(default, None)
    text, entry = found
    return KVItem(decode(entry.type, text), entry)


def set_kv(
    key: str,
    value: Any,
    namespace: str | None = None,
    *,
    type: KVType | str | None = None,
    ttl: str | _dt.timedelta | None = None,
    overwrite: bool = True,
    description: str | None = None,
    if_revision: int | None = None,
) -> int:
    """Store ``value`` under ``key`` in exactly one namespace; returns the new revision.

    ``type`` (``"NUMBER"``, ``KVType.JSON``...) is inferred when omitted; given
    with a string value, the string is parsed into that type. ``ttl`` is an
    ISO-8601 duration (``"PT1H"``, ``"P7D"``) or a ``timedelta``; **without a
    ttl the key never expires**, even if its previous value had a TTL.
    ``overwrite=False`` refuses an existing key and ``if_revision=N`` writes
    only if the key is still at revision N (``0``: only if absent) -- both raise
    :class:`~nbcreds.KVConflict` otherwise. A ``description`` of ``None`` keeps
    the current one. A :class:`~nbcreds.Secret`, or a value containing a
    registered secret, raises :class:`~nbcreds.KVSecretRefused`.
    """
    ns = _namespace(namespace)
    if key.__class__ is not str or key not in _valid_keys:
        check_key(key)
    _refuse_secret_key(key, ns)
    if type is None and value.__class__ is str:
        kind, text = "STRING", value
    else:
        if isinstance(value, Secret):
            raise _refused(key, ns, "is a Secret")
        kind, text = encode(value, type)
    _refuse_secrets(key, ns, value, kind, text)
    if "\x00" in text:
        raise _unstorable(key, "a NUL character")
    seconds = None if ttl is None else ttl_seconds(ttl)
    if if_revision is not None:
        if_revision = _check_revision(if_revision)
    if description is not None:
        _check_description(key, ns, description)
    try:
        revision = _store().set(
            ns,
            key,
            kind,
            text,
            ttl=seconds,
            description=description,
            create_only=not overwrite,
            if_revision=if_revision,
        )
    except UnicodeEncodeError:
        raise _unstorable(key, "a lone surrogate (text that is not valid Unicode)") from None
    if revision is None:
        raise _conflict(key, ns, overwrite, if_revision)
    _state.changed("kv")
    return revision


def put_kv(
    key: str,
    value: Mapping[str, Any],
    namespace: str | None = None,
    *,
    ttl: str | _dt.timedelta | None = None,
    overwrite: bool = True,
    description: str | None = None,
    if_revision: int | None = None,
) -> int:
    """Deep-merge the dict ``value`` into the JSON object stored under ``key``.

    Nested objects merge key by key; any other value (a list, a number, None)
    replaces. An absent key is created with ``value``. Atomic on both backends.
    ``ttl``, ``overwrite``, ``description`` and ``if_revision`` work as in
    :func:`set_kv`; the merged value keeps no expiry unless ``ttl`` is given.
    """
    ns = _namespace(namespace)
    check_key(key)
    _refuse_secret_key(key, ns)
    if not isinstance(value, Mapping):
        raise KVValueError(
            f"put_kv merges a dict into a JSON object, not a {type(value).__name__}; "
            "use set_kv to store other values."
        )
    plain = dict(value)
    kind, text = encode(plain, KVType.JSON)
    _refuse_secrets(key, ns, plain, kind, text)
    seconds = None if ttl is None else ttl_seconds(ttl)
    description = _check_description(key, ns, description)
    if_revision = _check_revision(if_revision)
    try:
        revision = _store().put(
            ns,
            key,
            text,
            ttl=seconds,
            description=description,
            create_only=not overwrite,
            if_revision=if_revision,
        )
    except UnicodeEncodeError:
        raise _unstorable(key, "a lone surrogate (text that is not valid Unicode)") from None
    if revision is None:
        raise _conflict(key, ns, overwrite, if_revision)
    _state.changed("kv")
    return revision


def update_kv(
    key: str,
    function: Callable[[Any], Any],
    namespace: str | None = None,
    *,
    default: Any = MISSING,
    ttl: str | _dt.timedelta | None = None,
    description: str | None = None,
    attempts: int = 1000,
) -> Any:
    """Atomically replace the value with ``function(value)`` (a compare-and-set loop);
    returns the new value. Safe across threads, kernels and machines::

        update_kv("runs", lambda n: n + 1, default=0)
    """
    for _ in range(attempts):
        item = kv_item(key, namespace, default=default)
        new = function(item.value)
        try:
            set_kv(key, new, namespace, ttl=ttl, description=description, if_revision=item.revision)
        except KVConflict:
            continue
        return new
    raise KVConflict(
        f"update_kv of the key '{key}' lost {attempts} compare-and-set races in a row; "
        "too many writers contend for it."
    )


def kv_change_marker() -> object | None:
    """A value that differs after any writer -- this process or another kernel -- changed
    the active KV store (SQLite: ``PRAGMA data_version``); ``None`` when the backend
    cannot tell. Cheap enough to poll every half second."""
    return _store().change_marker()


def kv_poll_marker() -> object | None:
    """:func:`kv_change_marker` for a live view polling it (the sidebar's watcher, the
    widgets' hub): ``None`` when no namespace is current (no KV is shown) and when the
    store is down or cannot tell (the view shows the store's error itself); never raises."""
    try:
        if _state.current_namespace() is None:
            return None
        return kv_change_marker()
    except Exception:
        return None


def delete_kv(key: str, namespace: str | None = None) -> bool:
    """Remove ``key``; ``True`` when a live key was removed, ``False`` when there was none."""
    ns = _namespace(namespace)
    check_key(key)
    deleted = _store().delete(ns, key)
    if deleted:
        _state.changed("kv")
    return deleted


def _check_prefix(prefix: object) -> str | None:
    if prefix is None or isinstance(prefix, str):
        return prefix
    raise KVValueError(f"A key prefix must be a string, not {type(prefix).__name__}.")


def kv_keys(prefix: str | None = None, namespace: str | None = None) -> list[str]:
    """The live keys of the namespace (starting with ``prefix``), sorted."""
    return _store().keys(_namespace(namespace), _check_prefix(prefix))


def kv_entries(prefix: str | None = None, namespace: str | None = None) -> list[KVEntry]:
    """Metadata of the live keys (type, revision, description, dates) -- never values."""
    return _store().entries(_namespace(namespace), _check_prefix(prefix))


def purge_kv(
    namespace: str | None = None, *, expired_only: bool = True, recursive: bool = False
) -> int:
    """Remove the expired keys of the namespace (all keys with ``expired_only=False``),
    and of its child namespaces with ``recursive=True``. Returns how many were removed."""
    purged = _store().purge(_namespace(namespace), expired_only=expired_only, recursive=recursive)
    if purged:
        _state.changed("kv")
    return purged

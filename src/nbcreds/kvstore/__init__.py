"""The KV store: typed, namespaced runtime state shared across notebooks and runs.

Kestra's KV semantics (types, TTL, revisions, ``overwrite``), plus
compare-and-set, on SQLite (embedded, the default) or PostgreSQL (shared).
State, never secrets: a :class:`~nbcreds.Secret` or a value containing a
registered secret is refused.

>>> import nbcreds as nc
>>> nc.use_namespace("company.team")                  # doctest: +SKIP
>>> nc.set_kv("cursor", 42, ttl="P7D")                # doctest: +SKIP
1
>>> nc.kv("cursor")                                   # doctest: +SKIP
42

``import nbcreds.kvstore`` never imports psycopg: the PostgreSQL backend loads
it when it first connects.
"""

from __future__ import annotations

from ._api import (
    delete_kv,
    kv,
    kv_change_marker,
    kv_entries,
    kv_item,
    kv_keys,
    kv_poll_marker,
    open_store,
    purge_kv,
    put_kv,
    set_kv,
    update_kv,
)
from ._base import KVBackend
from ._types import MISSING, KVEntry, KVItem, KVType, format_duration, parse_duration

__all__ = [
    "MISSING",
    "KVBackend",
    "KVEntry",
    "KVItem",
    "KVType",
    "delete_kv",
    "format_duration",
    "kv",
    "kv_change_marker",
    "kv_entries",
    "kv_item",
    "kv_keys",
    "kv_poll_marker",
    "open_store",
    "parse_duration",
    "purge_kv",
    "put_kv",
    "set_kv",
    "update_kv",
]

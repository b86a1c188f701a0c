"""The interface every KV backend implements, and the conformance contract.

A backend stores ``(type, text)`` pairs produced by :mod:`._types`; it knows
nothing of Python value types. Namespaces and keys arrive validated. Each
method is one atomic operation (one SQL statement or one transaction), so
compare-and-set and ``overwrite=False`` are safe across threads, processes
and machines. Expired keys are invisible to every method and removed lazily
(on the read that finds them) and by :meth:`KVBackend.purge`.

Write modes shared by :meth:`KVBackend.set` and :meth:`KVBackend.put`:

- ``create_only`` (``overwrite=False`` or ``if_revision=0``): write only when no
  live key exists;
- ``if_revision=N`` (N > 0): write only when the live key is at revision N;
- otherwise: upsert.

A write that loses returns ``None``; the facade turns it into
:class:`~nbcreds.KVConflict`. A new key (or one whose previous value had
expired) starts at revision 1; each write adds 1.
"""

from __future__ import annotations

import datetime as _dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from .._exceptions import KVBackendError, KVValueError
from .._text import shown
from ._types import KVEntry, KVType

__all__ = ["KVBackend", "damaged_row", "make_entry", "not_a_json_object"]


class KVBackend(ABC):
    """One KV database. Thread-safe; safe across processes sharing the database."""

    name: ClassVar[str]
    location: str
    """Where the data lives, for messages: a file path, or ``host:port/dbname``."""

    @abstractmethod
    def get(self, namespace: str, key: str) -> Sequence[Any] | None:
        """``(type, text, ...)`` of the live key, else ``None`` (an expired key is removed).

        Only the first two items count; a backend may return its row as it is."""

    @abstractmethod
    def get_first(self, namespaces: Sequence[str], key: str) -> tuple[str, str, str] | None:
        """``(type, text, namespace)`` in the first of ``namespaces`` that has the live key."""

    @abstractmethod
    def get_item(self, namespaces: Sequence[str], key: str) -> tuple[str, KVEntry] | None:
        """``(text, entry)`` in the first of ``namespaces`` that has the live key."""

    @abstractmethod
    def set(
        self,
        namespace: str,
        key: str,
        kind: str,
        text: str,
        *,
        ttl: float | None,
        description: str | None,
        create_only: bool,
        if_revision: int | None,
    ) -> int | None:
        """Write a value; the new revision, or ``None`` when the write mode refused it.

        ``ttl`` in seconds (``None``: the key never expires, even if it did before);
        ``description`` ``None`` keeps the current description.
        """

    @abstractmethod
    def put(
        self,
        namespace: str,
        key: str,
        patch: str,
        *,
        ttl: float | None,
        description: str | None,
        create_only: bool,
        if_revision: int | None,
    ) -> int | None:
        """Deep-merge the JSON object ``patch`` into the key's JSON object, atomically.

        An absent key is created with ``patch``. A live key that is not a JSON
        object raises :class:`KVValueError` (see :func:`not_a_json_object`).
        """

    @abstractmethod
    def delete(self, namespace: str, key: str) -> bool:
        """Remove the key; ``True`` when a live key was removed."""

    @abstractmethod
    def keys(self, namespace: str, prefix: str | None) -> list[str]:
        """Live keys of the namespace starting with ``prefix``, sorted."""

    @abstractmethod
    def entries(self, namespace: str, prefix: str | None) -> list[KVEntry]:
        """Metadata of the live keys starting with ``prefix``, sorted by key."""

    @abstractmethod
    def purge(self, namespace: str, *, expired_only: bool, recursive: bool) -> int:
        """Remove expired keys (or all keys) of the namespace (and its children); the count."""

    def change_marker(self) -> object | None:
        """A cheap value that differs after any writer (this process or another) changed
        the store; ``None`` when the backend cannot tell (watchers then rely on this
        process's own change notices). Called from a watcher thread every ~0.5 s."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections. The backend may be used again afterwards (it reconnects)."""


def not_a_json_object(namespace: str, key: str, kind: str) -> KVValueError:
    """The error of a ``put_kv`` onto a key that holds something else than a JSON object."""
    what = "a JSON value that is not an object" if kind == "JSON" else f"a {kind} value"
    return KVValueError(
        f"put_kv merges into a JSON object, but the key '{key}' in the namespace '{namespace}' "
        f"holds {what}; replace it with set_kv instead."
    )


def make_entry(
    to_datetime: Callable[[Any], _dt.datetime],
    key: str,
    namespace: str,
    kind: str,
    revision: int,
    description: str | None,
    created: Any,
    updated: Any,
    expires: Any,
    *,
    where: str = "the KV store",
) -> KVEntry:
    """A :class:`KVEntry` from a row's columns, in the order both backends select them.

    ``to_datetime`` turns the backend's stored time (SQLite: epoch seconds,
    PostgreSQL: ``timestamptz``) into an aware UTC ``datetime``; ``expires``
    ``None`` stays ``None`` (the key never expires). A damaged row (a time out of
    range or not a number, an unknown type) is a :class:`KVBackendError` naming
    ``where`` (the database), the namespace and the key.
    """
    try:
        return KVEntry(
            key=key,
            namespace=namespace,
            type=KVType(kind),
            revision=int(revision),
            description=description,
            created=to_datetime(created),
            updated=to_datetime(updated),
            expires=None if expires is None else to_datetime(expires),
        )
    except (ValueError, TypeError, OverflowError, OSError):
        pass
    raise damaged_row(where, namespace, key)


def damaged_row(where: str, namespace: str, key: str) -> KVBackendError:
    """The error for a row whose columns cannot be read back."""
    return KVBackendError(
        f"The KV database {where} holds a damaged row for key {shown(key)} in namespace "
        f"{shown(namespace)} (a time or type that cannot be read). Delete the key "
        "(delete_kv) and set it again, or restore the database from a backup."
    )

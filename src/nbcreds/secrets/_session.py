"""Session secrets: typed once (getpass or a widget), kept in process memory only."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .._session import notify_change
from ._base import SecretData, SecretSource, SourceHealth

__all__ = ["SessionSource"]


class SessionSource(SecretSource):
    """Values (or lazy bindings) held in this process only; forgotten on restart.

    A binding is either a value typed by the user, or a callable resolving
    another place (``%secret bind X --env VAR``) at each lookup.
    """

    name = "session"
    read_only = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str | None, str], str | Callable[[], SecretData | None]] = {}
        self._origin: dict[tuple[str | None, str], str] = {}

    def set(self, namespace: str | None, name: str, value: str) -> None:
        with self._lock:
            self._items[(namespace, name.upper())] = str.__str__(value)
            self._origin[(namespace, name.upper())] = "session"
        notify_change("secret")

    def bind(
        self,
        namespace: str | None,
        name: str,
        resolve: Callable[[], SecretData | None],
        origin: str,
    ) -> None:
        """Bind ``name`` to a resolver evaluated on every lookup."""
        with self._lock:
            self._items[(namespace, name.upper())] = resolve
            self._origin[(namespace, name.upper())] = origin
        notify_change("secret")

    def delete(self, namespace: str | None, name: str) -> bool:
        with self._lock:
            self._origin.pop((namespace, name.upper()), None)
            found = self._items.pop((namespace, name.upper()), None) is not None
        if found:
            notify_change("secret")
        return found

    def origin(self, namespace: str | None, name: str) -> str | None:
        with self._lock:
            return self._origin.get((namespace, name.upper()))

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        with self._lock:
            item = self._items.get((namespace, name.upper()))
        if item is None or isinstance(item, str):
            return item
        return item()

    def names(self, namespace: str | None) -> list[str]:
        with self._lock:
            return sorted(n for (ns, n) in self._items if ns == namespace)

    def health(self) -> SourceHealth:
        """Always usable: reports how many bindings this process holds (names only)."""
        with self._lock:
            count = len(self._items)
        return SourceHealth(ok=True, detail=f"{count} binding(s) in this process (memory only)")

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._origin.clear()

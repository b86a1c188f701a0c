"""The per-process registry of sensitive values.

Every value a secret source or credential produces is registered here before
anyone else sees it. The masking engine compiles its matcher from the
registry's snapshot and recompiles when :attr:`Registry.version` changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Registry", "registry"]


class Registry:
    """A thread-safe set of sensitive values, each with an optional label."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str | None] = {}
        self._version = 0
        self._listeners: list[Callable[[], None]] = []

    def register(self, value: str, label: str | None = None) -> None:
        """Add ``value`` (the first label given to a value is kept)."""
        if not isinstance(value, str):
            raise TypeError("only str values can be registered for masking")
        plain = str.__str__(value)
        if not plain:
            return
        with self._lock:
            if plain in self._values:
                if self._values[plain] is not None or label is None:
                    return
                # a label given later is kept: the compiled state must learn it
                self._values[plain] = label
                self._version += 1
                listeners = list(self._listeners)
            else:
                self._values[plain] = label
                self._version += 1
                listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def unregister(self, value: str) -> bool:
        """Remove ``value``; True if it was registered."""
        plain = str.__str__(value)
        with self._lock:
            if plain not in self._values:
                return False
            del self._values[plain]
            self._version += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return True

    def values(self) -> dict[str, str | None]:
        """A snapshot: value -> label."""
        with self._lock:
            return dict(self._values)

    def snapshot(self) -> tuple[int, dict[str, str | None]]:
        """The version and the values, read together."""
        with self._lock:
            return self._version, dict(self._values)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        with self._lock:
            return str.__str__(value) in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    @property
    def version(self) -> int:
        """A counter that changes whenever the set of values changes."""
        return self._version

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change (outside the lock)."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def clear(self) -> None:
        """Forget every value (tests)."""
        with self._lock:
            self._values.clear()
            self._version += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


registry = Registry()


def register(value: str, label: str | None = None) -> None:
    """Register ``value`` with the process registry."""
    registry.register(value, label)


def values() -> dict[str, str | None]:
    """The registered values (value -> label)."""
    return registry.values()


def mask(value: str, label: str | None = None) -> str:
    """Register ``value`` so that it never leaves the kernel in clear. Returns it."""
    registry.register(value, label)
    return value


def unmask(value: str) -> bool:
    """Stop masking ``value``; True if it was registered."""
    return registry.unregister(value)

"""Namespaces: Kestra's dotted hierarchy (``company.team.project``).

A name matches ``^[a-z0-9][a-z0-9._-]*$``, is at most 150 characters long and
has no empty segment. ``None`` stands for the tenant level, above every
namespace. The *selection* (:func:`nbcreds.use_namespace`) belongs to the
session (:mod:`nbcreds._session`); this module only knows names.
"""

from __future__ import annotations

import re

from ._exceptions import NamespaceError

__all__ = ["NAMESPACE_RULE", "display", "lookup_chain", "validate"]

NAMESPACE_RULE = (
    "a namespace matches ^[a-z0-9][a-z0-9._-]*$, is at most 150 characters "
    "and has no empty segment (e.g. 'company.team.project')"
)
_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
MAX_LENGTH = 150


def validate(name: object) -> str:
    """Return ``name`` if it is a valid namespace, else raise :class:`NamespaceError`."""
    if not isinstance(name, str):
        raise NamespaceError(f"Invalid namespace {name!r}: {NAMESPACE_RULE}.")
    shown = name if len(name) <= 60 else name[:57] + "..."
    if not name:
        raise NamespaceError(f"Invalid namespace '': {NAMESPACE_RULE}.")
    if len(name) > MAX_LENGTH:
        raise NamespaceError(
            f"Invalid namespace {shown!r}: it is {len(name)} characters long; {NAMESPACE_RULE}."
        )
    if not _PATTERN.fullmatch(name) or any(part == "" for part in name.split(".")):
        raise NamespaceError(f"Invalid namespace {shown!r}: {NAMESPACE_RULE}.")
    return name


def lookup_chain(namespace: str | None) -> list[str | None]:
    """Levels to search for ``namespace``, nearest first, ending with the tenant (``None``).

    >>> lookup_chain("a.b.c")
    ['a.b.c', 'a.b', 'a', None]
    """
    if namespace is None:
        return [None]
    validate(namespace)
    parts = namespace.split(".")
    chain: list[str | None] = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    chain.append(None)
    return chain


def display(namespace: str | None) -> str:
    """Human name of a level: the namespace, or ``tenant``."""
    return "tenant" if namespace is None else namespace

"""The base classes a plugin implements, re-exported by :mod:`nbcreds.plugins`.

They live here, below the secret sources and the token engine, so that the
declarations module (``plugins``) can offer them without importing either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from ._exceptions import SecretError, SecretReadOnly

if TYPE_CHECKING:
    from .plugins import Reference

__all__ = ["Minted", "SecretData", "SecretSource", "SourceHealth"]

#: What a source returns: one string, or a mapping of fields (a multi-key Vault secret).
SecretData = Union[str, Mapping[str, str]]  # noqa: UP007 (a runtime alias)


@dataclass(frozen=True)
class SourceHealth:
    """Whether a source can serve secrets now, as ``nbcreds doctor`` shows it.

    ``detail`` says what was found, ``hint`` what to do when ``ok`` is False; neither
    ever holds a secret. ``checked`` is False for a source that has no check.
    """

    ok: bool
    detail: str
    hint: str = ""
    checked: bool = True


class SecretSource(ABC):
    """A place secrets come from. ``namespace=None`` is the tenant level.

    ``get`` looks at exactly one level: the resolver walks the namespace
    hierarchy. It returns None when the level does not hold the name, and raises
    :class:`~nbcreds.SecretBackendError` when the source itself fails.
    """

    #: Short name shown to users (``env``, ``vault``, ``session``, ``config``).
    name: str = "source"
    #: Writes are refused when True.
    read_only: bool = True

    @abstractmethod
    def get(self, namespace: str | None, name: str) -> SecretData | None:
        """The secret ``name`` at exactly this level, or None."""

    @abstractmethod
    def names(self, namespace: str | None) -> list[str]:
        """Secret names held at exactly this level (never values)."""

    def set(self, namespace: str | None, name: str, value: str) -> None:
        """Store a secret at this level (sources that support writing)."""
        raise SecretReadOnly(
            f"The {self.name} secret source is read-only: cannot write secret '{name}'."
        )

    def read_reference(self, ref: Reference) -> SecretData | None:
        """The data an explicit reference of this source's scheme points to (``env:VAR``,
        ``vault:path#field``), or None when it is unset. Sources that declare reference
        schemes implement it."""
        raise SecretError(f"the {self.name} source cannot read {ref.scheme}: references")

    def describe(self) -> str:
        """One line for listings (no secret)."""
        return self.name

    def health(self) -> SourceHealth:
        """Check that the source is reachable and usable (optional: default "not checked").

        May do I/O (a server round trip); never raises for the source's own failures:
        they are reported as ``ok=False`` with a hint.
        """
        return SourceHealth(ok=True, detail="not checked", checked=False)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (optional)."""


@dataclass(frozen=True)
class Minted:
    """What a credential type's ``mint`` returns. ``lifetime`` (seconds, None: unknown)
    counts from ``sent_mono`` (``time.monotonic()`` when the request was sent).

    The token cache registers ``access_token`` with the masker before anyone gets it:
    a strategy need not.
    """

    access_token: str
    sent_mono: float
    sent_wall: float
    lifetime: float | None
    token_type: str = "Bearer"
    scope: str | None = None

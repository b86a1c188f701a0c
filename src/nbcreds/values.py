"""The :class:`Secret` value: a ``str`` that never shows itself."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["MASK", "Secret"]

MASK = "****"


class Secret(str):
    """A secret or token value.

    A ``str`` subclass, so it works wherever a string does (headers, f-strings,
    URLs). What changes is how it *shows*: ``repr``, IPython's pretty printer
    and the HTML repr render ``<Secret NAME ****>`` with a fixed mask (the
    value's length is never revealed). It refuses pickling. ``reveal()``
    returns a plain ``str``. Anything that prints the value itself is caught by
    the masker at the kernel's egress.
    """

    __slots__ = ("_label", "_source")

    _label: str
    _source: str

    def __new__(cls, value: str, label: str = "secret", source: str = "") -> Secret:
        obj = super().__new__(cls, value)
        obj._label = label
        obj._source = source
        return obj

    @property
    def label(self) -> str:
        """The secret's name (or the credential's), never its value."""
        return self._label

    @property
    def source(self) -> str:
        """Where the value came from (e.g. ``env``, ``vault``, ``session``, ``credential``)."""
        return self._source

    def reveal(self) -> str:
        """The value as a plain ``str`` (which no longer masks its repr)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"<Secret {self._label} {MASK}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        import html

        return f"<code>&lt;Secret {html.escape(self._label)} {MASK}&gt;</code>"

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"Secret {self._label} cannot be pickled: secrets must not reach a disk. "
            "Use .reveal() deliberately if you really need the plain value."
        )

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        self.__reduce__()

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self

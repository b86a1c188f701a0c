"""Text that goes into our messages: server answers and user-given names.

- :func:`server_text`: what a server sent (an ``error_description``, Vault's
  ``errors``) passes the masker -- every encoding of every registered value --
  *before* it is shortened, so a secret straddling the cut keeps no characters.
- :func:`shown`: a name as ``repr`` shows it, so a newline, NUL or escape
  sequence in a namespace, key or secret name is never echoed raw.
"""

from __future__ import annotations

__all__ = ["MAX_SERVER_TEXT", "server_text", "shown"]

#: Longest server text kept in a message (counted after masking).
MAX_SERVER_TEXT = 300


def server_text(text: str, limit: int | None = MAX_SERVER_TEXT) -> str:
    """Text a server sent, safe for a message: masked first, then shortened."""
    from .masking._engine import safe_masked

    clean = safe_masked(str.__str__(text))
    if limit is not None and len(clean) > limit:
        clean = clean[: max(0, limit - 3)] + "..."
    return clean


def shown(name: object) -> str:
    """``name`` quoted, control characters escaped (``'a\\nb'``), as ``repr`` does."""
    return repr(str.__str__(name)) if isinstance(name, str) else repr(name)

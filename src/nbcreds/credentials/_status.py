"""One vocabulary for a credential's token state, for every surface.

The sidebar, the dashboard widget, ``%credential list`` and the comm all say the
same thing with the same words::

    valid · expires in 59 min     a usable token is cached
    valid · no expiry             ... whose server gave no lifetime
    expired                       the cached token's lifetime is over
    not fetched yet               no token has been minted (or it was dropped)
    failed: <message>             the last attempt to mint one failed

:func:`token_state` gives the state's name (the comm sends it, and the
TypeScript side formats from it: ``labextension/src/model.ts``);
:func:`describe_token` gives the text. The message of a failure is an
``NbcredsError``'s text, which never holds a secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

__all__ = ["TOKEN_STATES", "TokenState", "describe_token", "duration", "token_state"]

TokenState = Literal["valid", "expired", "not_fetched", "failed"]
TOKEN_STATES: tuple[TokenState, ...] = ("valid", "expired", "not_fetched", "failed")


def duration(seconds: float) -> str:
    """``42 s``, ``59 min``, ``5 h``, ``3 d``: one unit, rounded down."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def token_state(
    *,
    cached: bool,
    expires_at: datetime | None,
    error: str | None = None,
    now: datetime | None = None,
) -> TokenState:
    """The state's name: a usable token wins, then a failure, then an expiry."""
    now = now or datetime.now(UTC)
    if cached and (expires_at is None or expires_at > now):
        return "valid"
    if error:
        return "failed"
    if cached or (expires_at is not None and expires_at <= now):
        return "expired"
    return "not_fetched"


def describe_token(
    *,
    cached: bool,
    expires_at: datetime | None,
    error: str | None = None,
    now: datetime | None = None,
) -> str:
    """The state as the user reads it (see the module docstring)."""
    now = now or datetime.now(UTC)
    state = token_state(cached=cached, expires_at=expires_at, error=error, now=now)
    if state == "valid":
        if expires_at is None:
            return "valid · no expiry"
        return f"valid · expires in {duration((expires_at - now).total_seconds())}"
    if state == "failed":
        return f"failed: {error}"
    return "expired" if state == "expired" else "not fetched yet"

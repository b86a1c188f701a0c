"""``oauth2_refresh_token``: your identity without a sign-in prompt -- a long-lived
refresh token held as a secret reference (``refresh_token = "secret:NAME"``).

The way to run user-identity notebooks headless (nbclient, papermill, schedulers):
each access token comes from the RFC 6749 §6 refresh grant. A rotated refresh token
(the server sends a new one) replaces the old one in memory (and in the OS keyring
with ``persist = "keyring"``); binding a new value to the secret starts over from it.
A refused refresh token (``invalid_grant``) is a :class:`~nbcreds.RefreshTokenRejected`
saying how to get a new one -- never a prompt, never a loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import TokenRequestError
from ..values import Secret
from ._engine import Minted, TokenHttp
from ._login import UserLogin, book, refresh_grant
from ._types import resolve_secret

if TYPE_CHECKING:
    from .._definition import Definition

__all__ = ["STRATEGY", "RefreshToken"]


class RefreshToken(UserLogin):
    can_sign_in = False

    def validate(self, definition: Definition) -> None:
        super().validate(definition)
        definition.reference("refresh_token")

    def held_refresh_token(self, definition: Definition) -> Secret:
        configured = resolve_secret(definition, "refresh_token")
        book.origin_changed(definition, configured)
        held = book.refresh_token(definition)
        if held is None:
            held = book.keep(definition, configured, save=False)
        return held

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        held = self.held_refresh_token(definition)
        configured = resolve_secret(definition, "refresh_token")
        if str.__str__(held) != configured:
            # a rotated (or keyring) token: if the server refuses it, the configured one
            # gets one try -- the user may have bound a fresh token meanwhile
            try:
                return refresh_grant(definition, http, str.__str__(held))
            except TokenRequestError as exc:
                if exc.error != "invalid_grant":
                    raise
                book.forget(definition)
                book.keep(definition, configured, save=False)
        return super().mint(definition, http)


STRATEGY = RefreshToken()

"""``oauth2_client_credentials``: the RFC 6749 §4.4 grant with a client secret."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import quote

from ._engine import Minted, TokenHttp, TokenRequest, sensitive
from ._types import (
    form_request,
    parse_token_response,
    resolve_secret,
    resolve_text,
    validate_extra_params,
)

if TYPE_CHECKING:
    from .._definition import Definition

__all__ = ["STRATEGY", "ClientCredentials", "basic_authorization"]

METHODS = ("client_secret_basic", "client_secret_post")


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header of RFC 6749 §2.3.1.

    Id and secret are form-urlencoded *before* base64. Spaces become ``%20``
    rather than ``+``: servers that decode with plain percent-decoding (authlib)
    and those that decode form-style (``+`` -> space) both read it back exactly.
    """
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


class ClientCredentials:
    def validate(self, definition: Definition) -> None:
        definition.text(
            "token_endpoint", required=True, hint="set it to the authorization server's token URL"
        )
        definition.text("client_id", required=True)
        definition.reference("client_secret")
        method = definition.get("client_auth_method") or "client_secret_basic"
        if method not in METHODS:
            raise definition.error("client_auth_method", f"must be one of {', '.join(METHODS)}.")
        validate_extra_params(definition)

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        client_id = resolve_text(definition, "client_id", required=True)
        secret = resolve_secret(definition, "client_secret")
        assert client_id is not None
        assert definition.token_endpoint is not None
        url = definition.token_endpoint
        method = definition.get("client_auth_method") or "client_secret_basic"
        form = {"grant_type": "client_credentials"}
        if definition.scopes:
            form["scope"] = " ".join(definition.scopes)
        if definition.audience:
            form["audience"] = definition.audience
        headers: dict[str, str] | None = None
        if method == "client_secret_basic":
            header = basic_authorization(client_id, secret)
            # the whole header too: a server echoing it masks as one piece
            sensitive(header.removeprefix("Basic "), f"{definition.name}.basic")
            headers = {"Authorization": header}
        else:
            form["client_id"] = client_id
            form["client_secret"] = secret

        def build() -> TokenRequest:
            return form_request(definition, url, form, headers)

        response, sent_mono, sent_wall = http.send(definition, build, lambda: [secret])
        return parse_token_response(definition, response, sent_mono, sent_wall)


STRATEGY = ClientCredentials()

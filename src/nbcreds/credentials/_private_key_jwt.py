"""``oauth2_private_key_jwt``: the client credentials grant, the client
authenticated by a signed JWT (RFC 7523 §2.2, OpenID Connect ``private_key_jwt``).

Every token request -- every retry too -- carries a fresh assertion with a new
``jti`` and an ``exp`` at most 5 minutes ahead, so a server rejecting replays
never sees one twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._engine import Minted, TokenHttp, TokenRequest
from ._types import (
    form_request,
    load_private_key,
    new_jti,
    now,
    parse_token_response,
    resolve_secret,
    resolve_text,
    sign_jwt,
    validate_algorithm,
    validate_extra_params,
    validate_lifetime,
)

if TYPE_CHECKING:
    from .._definition import Definition

__all__ = ["ASSERTION_TYPE", "STRATEGY", "PrivateKeyJWT"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 300.0


class PrivateKeyJWT:
    def validate(self, definition: Definition) -> None:
        definition.text(
            "token_endpoint", required=True, hint="set it to the authorization server's token URL"
        )
        definition.text("client_id", required=True)
        definition.reference("private_key")
        definition.text("key_id")
        validate_algorithm(definition)
        validate_lifetime(definition, 60.0, MAX_LIFETIME)
        definition.mapping("claims")
        validate_extra_params(definition)

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        client_id = resolve_text(definition, "client_id", required=True)
        assert client_id is not None
        assert definition.token_endpoint is not None
        url = definition.token_endpoint
        pem = resolve_secret(definition, "private_key")
        key = load_private_key(definition, "private_key", pem)
        lifetime = int(validate_lifetime(definition, 60.0, MAX_LIFETIME))
        audience = definition.audience or url
        extra: dict[str, Any] = definition.mapping("claims")
        assertions: list[str] = []

        def build() -> TokenRequest:
            issued = now()
            claims = {
                **extra,
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "iat": issued,
                "exp": issued + lifetime,
                "jti": new_jti(),
            }
            assertion = sign_jwt(
                definition, key, claims, definition.text("key_id"), definition.get("algorithm")
            )
            assertions.append(assertion)
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            }
            if definition.scopes:
                form["scope"] = " ".join(definition.scopes)
            return form_request(definition, url, form)

        response, sent_mono, sent_wall = http.send(definition, build, lambda: [pem, *assertions])
        return parse_token_response(definition, response, sent_mono, sent_wall)


STRATEGY = PrivateKeyJWT()

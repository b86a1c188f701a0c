"""``oauth2_jwt_bearer``: the JWT bearer authorization grant (RFC 7523 §2.1).

The assertion is signed with the credential's private key (RSA, EC or
Ed25519). With ``service_account`` (a Google service-account JSON key held in
a secret), issuer, key id, key and token endpoint come from that document and
the scopes travel in the assertion's ``scope`` claim, as Google expects.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._engine import Minted, TokenHttp, TokenRequest, sensitive
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

__all__ = ["GRANT_TYPE", "STRATEGY", "JWTBearer"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_LIFETIME = 3600.0
_SA_FIELDS = ("client_email", "private_key", "token_uri")


class JWTBearer:
    def validate(self, definition: Definition) -> None:
        has_sa = definition.get("service_account") is not None
        if has_sa:
            definition.reference("service_account")
            if definition.get("private_key") is not None:
                raise definition.error(
                    "private_key",
                    "cannot be combined with service_account "
                    "(the key comes from the service-account JSON).",
                )
        else:
            definition.text(
                "token_endpoint",
                required=True,
                hint="set it to the authorization server's token URL",
            )
            definition.text("issuer", required=True, hint="set it to the assertion's issuer")
            definition.reference("private_key")
        definition.text("subject")
        definition.text("key_id")
        validate_algorithm(definition)
        validate_lifetime(definition, 300.0, MAX_LIFETIME)
        definition.mapping("claims")
        validate_extra_params(definition)

    def _service_account(self, definition: Definition) -> dict[str, str]:
        raw = resolve_secret(definition, "service_account")
        try:
            document = json.loads(raw)
        except ValueError:
            raise definition.error(
                "service_account", "does not hold a service-account JSON key document."
            ) from None
        if not isinstance(document, dict):
            raise definition.error("service_account", "does not hold a JSON object.")
        missing = [f for f in _SA_FIELDS if not isinstance(document.get(f), str)]
        if missing:
            raise definition.error(
                "service_account",
                f"JSON lacks {', '.join(missing)}; "
                "download a new key file for the service account.",
            )
        return {k: v for k, v in document.items() if isinstance(v, str)}

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        scope_claim = False
        if definition.get("service_account") is not None:
            account = self._service_account(definition)
            pem = account["private_key"]
            sensitive(pem, f"{definition.name}.private_key")
            issuer = resolve_text(definition, "issuer") or account["client_email"]
            key_id = definition.text("key_id") or account.get("private_key_id")
            url = definition.token_endpoint or account["token_uri"]
            scope_claim = True
        else:
            pem = resolve_secret(definition, "private_key")
            issuer = resolve_text(definition, "issuer", required=True) or ""
            key_id = definition.text("key_id")
            assert definition.token_endpoint is not None
            url = definition.token_endpoint
        key = load_private_key(definition, "private_key", pem)
        subject = resolve_text(definition, "subject")
        lifetime = int(validate_lifetime(definition, 300.0, MAX_LIFETIME))
        audience = definition.audience or url
        extra: dict[str, Any] = definition.mapping("claims")
        assertions: list[str] = []

        def build() -> TokenRequest:
            issued = now()
            claims = {
                **extra,
                "iss": issuer,
                "aud": audience,
                "iat": issued,
                "exp": issued + lifetime,
                "jti": new_jti(),
            }
            if subject:
                claims["sub"] = subject
            form = {"grant_type": GRANT_TYPE}
            if definition.scopes:
                if scope_claim:
                    claims["scope"] = " ".join(definition.scopes)
                else:
                    form["scope"] = " ".join(definition.scopes)
            assertion = sign_jwt(definition, key, claims, key_id, definition.get("algorithm"))
            assertions.append(assertion)
            form["assertion"] = assertion
            return form_request(definition, url, form)

        response, sent_mono, sent_wall = http.send(definition, build, lambda: [pem, *assertions])
        return parse_token_response(definition, response, sent_mono, sent_wall)


STRATEGY = JWTBearer()

"""What every credential type shares: the strategy protocol, secret references,
private keys, JWT signing and the OAuth2 token response.

Each type lives in its own module and is imported on first use, so that
``import nbcreds.credentials`` pulls in neither PyJWT nor cryptography.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from .._builtins import ALGORITHMS_ALL as ALGORITHMS
from .._exceptions import SecretError, TokenRequestError
from ..plugins import Strategy, is_reference, parse_reference
from ._engine import Minted, TokenRequest, sensitive, token_lifetime

if TYPE_CHECKING:
    import httpx

    from .._definition import Definition
    from ..plugins import Reference

__all__ = [
    "ALGORITHMS",
    "Strategy",
    "load_private_key",
    "new_jti",
    "parse_token_response",
    "resolve_secret",
    "resolve_text",
    "sign_jwt",
]


def resolve_secret(definition: Definition, key: str, data: Any = None) -> str:
    """Resolve the reference in ``key`` at the level defining the credential.

    ``secret:NAME`` goes through the namespace hierarchy and the sources like
    ``secret()``, starting at the credential's own level (so the token a cache
    entry holds never depends on who asked). The value is registered with the
    masker (by the resolver, the one place source values are) before it is used.
    """
    from ..secrets._resolver import registered, select_field

    ref_text = definition.reference(key)
    assert ref_text is not None
    ref, resolved = _resolve(definition, key, ref_text, hint=True)
    label = f"{definition.name}.{key}"
    if (
        isinstance(resolved, dict)
        and ref.field is None
        and "value" not in resolved
        and len(resolved) > 1
    ):
        return registered(json.dumps(resolved), label)  # a whole JSON document (a key file)
    try:
        value = select_field(resolved, ref.field, ref.target)
    except SecretError as exc:
        raise definition.error(key, str(exc)) from None
    return registered(value, label)


def resolve_text(definition: Definition, key: str, *, required: bool = False) -> str | None:
    """A non-secret setting: a literal, or a reference resolved now."""
    text = definition.text(key, required=required)
    if text is None or not is_reference(text):
        return text
    from ..secrets._resolver import select_field

    ref, resolved = _resolve(definition, key, text, hint=False, secret=False)
    return select_field(resolved, ref.field, ref.target)


def _resolve(
    definition: Definition, key: str, text: str, *, hint: bool, secret: bool = True
) -> tuple[Reference, Any]:
    """The reference ``text`` in ``key`` parsed and resolved at the credential's level.

    An unreadable or unset reference is an error naming ``key`` and the reference;
    ``hint`` adds how to set it.
    """
    from ..secrets._resolver import resolve_reference

    ref = parse_reference(text)
    try:
        resolved = resolve_reference(
            ref, definition.level, secret=secret, label=f"{definition.name}.{key}"
        )
    except SecretError as exc:
        raise definition.error(key, f"refers to {ref}, which cannot be read: {exc}") from None
    if resolved is None:
        how = (
            f" Set it (e.g. nbcreds.bind_secret('{ref.target}', ...) or a "
            f"SECRET_{ref.target.upper()} variable) and retry."
            if hint
            else ""
        )
        raise definition.error(key, f"refers to {ref}, which is not set.{how}")
    return ref, resolved


def load_private_key(definition: Definition, key: str, pem: str) -> Any:
    """A cryptography private key from PEM text; errors never quote the key."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = pem.strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")  # a PEM squeezed onto one line (env vars, JSON)
    try:
        loaded = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise definition.error(
            key,
            "is not an unencrypted PEM private key (RSA, EC or Ed25519). Store the "
            "whole '-----BEGIN PRIVATE KEY-----' block in the secret.",
        ) from None
    except Exception:  # cryptography may raise its own UnsupportedAlgorithm
        raise definition.error(
            key, "holds a key type that is not supported (use RSA, EC or Ed25519)."
        ) from None
    if not isinstance(
        loaded,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise definition.error(
            key, "holds a key type that is not supported (use RSA, EC or Ed25519)."
        )
    return loaded


def default_algorithm(private_key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {"secp384r1": "ES384", "secp521r1": "ES512"}.get(private_key.curve.name, "ES256")
    return "EdDSA"


def check_algorithm(definition: Definition, private_key: Any, algorithm: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    curve = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
    if isinstance(private_key, rsa.RSAPrivateKey):
        ok = algorithm[:2] in ("RS", "PS")
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        ok = curve.get(algorithm) == private_key.curve.name
    else:
        ok = algorithm == "EdDSA"
    if not ok:
        raise definition.error(
            "algorithm",
            f"'{algorithm}' does not fit the private key's type; use "
            f"{default_algorithm(private_key)} (or leave algorithm unset).",
        )


def validate_algorithm(definition: Definition) -> None:
    algorithm = definition.get("algorithm")
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise definition.error("algorithm", f"must be one of {', '.join(ALGORITHMS)}.")


def sign_jwt(
    definition: Definition,
    private_key: Any,
    claims: dict[str, Any],
    key_id: str | None,
    algorithm: str | None,
) -> str:
    """Sign ``claims`` with PyJWT; the assertion is registered with the masker."""
    import jwt

    alg = algorithm or default_algorithm(private_key)
    check_algorithm(definition, private_key, alg)
    headers = {"kid": key_id} if key_id else None
    assertion = jwt.encode(claims, private_key, algorithm=alg, headers=headers)
    return sensitive(assertion, f"{definition.name}.assertion")


def new_jti() -> str:
    return secrets.token_urlsafe(24)


def now() -> int:
    return int(time.time())


def parse_token_response(
    definition: Definition, response: httpx.Response, sent_mono: float, sent_wall: float
) -> Minted:
    """An RFC 6749 §5.1 token response -> :class:`Minted` (``expires_in`` from sending)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenRequestError(
            f"Credential '{definition.name}': the token endpoint answered HTTP "
            f"{response.status_code} without an access_token. Check token_endpoint.",
            status=response.status_code,
        )
    assert isinstance(body, dict)  # the token cache registers the token (one place)
    lifetime = token_lifetime(body.get("expires_in"), definition.name)
    token_type = body.get("token_type") if isinstance(body.get("token_type"), str) else "Bearer"
    scope = body.get("scope") if isinstance(body.get("scope"), str) else None
    return Minted(token, sent_mono, sent_wall, lifetime, str(token_type), scope)


def form_request(
    definition: Definition, url: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> TokenRequest:
    """The common body: the definition's scopes and ``extra_params`` added to ``form``."""
    extra = definition.mapping("extra_params")
    data = {k: str(v) for k, v in extra.items()}
    data.update(form)
    return TokenRequest(url=url, data=data, headers=headers)


def validate_extra_params(definition: Definition) -> None:
    for name, value in definition.mapping("extra_params").items():
        if not isinstance(value, str | int | float | bool):
            raise definition.error(f"extra_params.{name}", "must be a string or a number.")
        if isinstance(value, str) and is_reference(value):
            raise definition.error(
                f"extra_params.{name}", "cannot hold a reference; extra parameters are not secret."
            )


def validate_lifetime(definition: Definition, default: float, maximum: float) -> float:
    lifetime = definition.duration("assertion_lifetime", default)
    if lifetime <= 0 or lifetime > maximum:
        raise definition.error(
            "assertion_lifetime",
            f"must be more than 0 and at most {int(maximum)} seconds "
            f'(e.g. "PT{int(min(default, maximum) // 60) or 1}M").',
        )
    return lifetime

"""Credentials: OAuth2 and GitHub App tokens minted in memory, refreshed before
expiry, single-flight, never persisted.

Four types share one engine: ``oauth2_client_credentials``,
``oauth2_jwt_bearer``, ``oauth2_private_key_jwt`` and ``github_app``.
Importing this package loads neither PyJWT nor cryptography (nor httpx):
each type's module is imported when a token is first minted.
"""

from __future__ import annotations

from ._api import (
    CredentialInfo,
    CredentialListing,
    TestResult,
    acredential,
    auth,
    credential,
    credential_info,
    engine,
    invalidate,
    list_credentials,
    test_credential,
)
from ._definition import Definition, parse_duration
from ._engine import RetryPolicy, TokenCache, refresh_point, retry_policy

__all__ = [
    "CredentialInfo",
    "CredentialListing",
    "Definition",
    "RetryPolicy",
    "TestResult",
    "TokenCache",
    "acredential",
    "auth",
    "credential",
    "credential_info",
    "engine",
    "invalidate",
    "list_credentials",
    "parse_duration",
    "refresh_point",
    "retry_policy",
    "test_credential",
]

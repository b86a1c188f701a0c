"""Credentials: OAuth2 and GitHub App tokens minted in memory, refreshed before
expiry, single-flight, never persisted.

Seven types share one engine: ``oauth2_client_credentials``,
``oauth2_jwt_bearer``, ``oauth2_private_key_jwt``, ``github_app``, and the user
sign-in types ``oauth2_device_code``, ``oauth2_authorization_code`` and
``oauth2_refresh_token`` (``_login.py``: refresh tokens, sign-in state, login/logout).
Importing this package loads neither PyJWT nor cryptography (nor httpx):
each type's module is imported when a token is first minted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._config_write import CREDENTIAL_NAME_RULE
from .._definition import Definition, parse_duration
from ._api import (
    CredentialInfo,
    CredentialListing,
    TestResult,
    acredential,
    check_unsaved,
    credential,
    credential_info,
    definition_table,
    engine,
    invalidate,
    list_credentials,
    test_credential,
)
from ._engine import RetryPolicy, TokenCache, refresh_point, retry_policy
from ._login import (
    LoginState,
    add_login_listener,
    login,
    login_state,
    logout,
    remove_login_listener,
)

if TYPE_CHECKING:
    from ._auth import auth

__all__ = [
    "CREDENTIAL_NAME_RULE",
    "CredentialInfo",
    "CredentialListing",
    "Definition",
    "LoginState",
    "RetryPolicy",
    "TestResult",
    "TokenCache",
    "acredential",
    "add_login_listener",
    "auth",
    "check_unsaved",
    "credential",
    "credential_info",
    "definition_table",
    "engine",
    "invalidate",
    "list_credentials",
    "login",
    "login_state",
    "logout",
    "parse_duration",
    "refresh_point",
    "remove_login_listener",
    "retry_policy",
    "test_credential",
]


def __getattr__(name: str) -> Any:
    # auth() needs httpx: imported on first use
    if name == "auth":
        from ._auth import auth

        return auth
    raise AttributeError(f"module 'nbcreds.credentials' has no attribute {name!r}")

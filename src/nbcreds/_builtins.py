"""nbcreds' own secret source types and credential types, as plugin declarations.

They are registered through the entry points in ``pyproject.toml``
(``nbcreds.secret_sources``, ``nbcreds.credential_types``), exactly as a
third-party package registers its own. This module is light: each ``build``
and ``strategy`` imports its implementation when it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .plugins import CredentialType, Setting, SourceContext, SourceType, Strategy

if TYPE_CHECKING:
    from .secrets._base import SecretSource

__all__ = [
    "AUTHORIZATION_CODE",
    "CLIENT_CREDENTIALS",
    "DEVICE_CODE",
    "ENV",
    "GITHUB_APP",
    "JWT_BEARER",
    "PRIVATE_KEY_JWT",
    "REFRESH_TOKEN",
    "SESSION",
]


# --- secret sources ------------------------------------------------------------------------


def _build_session(ctx: SourceContext) -> SecretSource:
    from .secrets._session import SessionSource

    source: SecretSource = ctx.keep("session", SessionSource)
    return source


SESSION = SourceType(
    name="session",
    build=_build_session,
    position=0,
    description="values typed once (getpass, a widget), kept in process memory only",
)


def _build_env(ctx: SourceContext) -> SecretSource:
    from .secrets._env import EnvSource

    return EnvSource(prefix=str(ctx.settings["prefix"]), raw=bool(ctx.settings["raw"]))


def _not_empty(value: Any) -> str | None:
    return None if value else "must not be empty"


ENV = SourceType(
    name="env",
    build=_build_env,
    position=10,
    schemes=("env",),
    reference_forms={"env": "env:VAR"},
    reference_labels={"env": "environment variable"},
    settings=(
        Setting(
            "prefix",
            default="SECRET_",
            check=_not_empty,
            help="the prefix of Kestra-style SECRET_<NAME> variables",
        ),
        Setting(
            "raw",
            kind="boolean",
            default=False,
            help="true: values as they are; false: base64 (Kestra's convention)",
        ),
    ),
    description="environment variables: SECRET_<NAME> holding base64; env:VAR references raw",
)


# --- credential types ----------------------------------------------------------------------


def _strategy(module: str) -> Callable[[], Strategy]:
    def load() -> Strategy:
        found: Strategy = importlib.import_module(module).STRATEGY
        return found

    return load


ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
ALGORITHMS_ALL = (*ALGORITHMS, "EdDSA")

_TOKEN_ENDPOINT = Setting(
    "token_endpoint",
    required=True,
    label="Token endpoint",
    placeholder="https://idp.example/oauth/token",
    help="the authorization server's token URL",
)
_SCOPES = Setting("scopes", kind="words", label="Scopes", placeholder="space separated")
_AUDIENCE = Setting("audience", label="Audience")
_KEY_ID = Setting("key_id", label="Key ID", placeholder="kid (optional)")
_ALGORITHM = Setting("algorithm", choices=ALGORITHMS_ALL, label="Algorithm")
_LIFETIME = Setting("assertion_lifetime", kind="duration", help='e.g. "PT5M"')
_CLAIMS = Setting("claims", kind="table", help="extra claims of the assertion")
_EXTRA = Setting("extra_params", kind="table", help="extra form parameters of the request")

CLIENT_CREDENTIALS = CredentialType(
    name="oauth2_client_credentials",
    position=0,
    label="OAuth2 client credentials",
    strategy=_strategy("nbcreds.credentials._client_credentials"),
    fields=(
        _TOKEN_ENDPOINT,
        Setting("client_id", kind="text_or_int", required=True, label="Client ID"),
        Setting("client_secret", required=True, secret=True, label="Client secret"),
        Setting(
            "client_auth_method",
            choices=("client_secret_basic", "client_secret_post"),
            label="Client auth",
        ),
        _SCOPES,
        _AUDIENCE,
        _EXTRA,
    ),
    description="RFC 6749 §4.4 grant with a client secret",
)

JWT_BEARER = CredentialType(
    name="oauth2_jwt_bearer",
    position=10,
    label="OAuth2 JWT bearer (RFC 7523 grant)",
    strategy=_strategy("nbcreds.credentials._jwt_bearer"),
    fields=(
        Setting(
            "token_endpoint",
            label="Token endpoint",
            placeholder="https://idp.example/oauth/token",
            help="needed unless service_account gives it",
        ),
        Setting("issuer", kind="text_or_int", label="Issuer"),
        Setting("subject", kind="text_or_int", label="Subject"),
        Setting("private_key", secret=True, label="Private key"),
        _KEY_ID,
        _ALGORITHM,
        _SCOPES,
        _AUDIENCE,
        _LIFETIME,
        _CLAIMS,
        Setting("service_account", secret=True, help="a Google service-account JSON key"),
        _EXTRA,
    ),
    description="RFC 7523 §2.1: a signed JWT exchanged for a token (Google service accounts)",
)

PRIVATE_KEY_JWT = CredentialType(
    name="oauth2_private_key_jwt",
    position=20,
    label="OAuth2 private_key_jwt (RFC 7523 client auth)",
    strategy=_strategy("nbcreds.credentials._private_key_jwt"),
    fields=(
        _TOKEN_ENDPOINT,
        Setting("client_id", kind="text_or_int", required=True, label="Client ID"),
        Setting("private_key", required=True, secret=True, label="Private key"),
        _KEY_ID,
        _ALGORITHM,
        _SCOPES,
        _AUDIENCE,
        _LIFETIME,
        _CLAIMS,
        _EXTRA,
    ),
    description="client credentials grant authenticated with a signed JWT (RFC 7523 §2.2)",
)

GITHUB_APP = CredentialType(
    name="github_app",
    position=30,
    label="GitHub App",
    strategy=_strategy("nbcreds.credentials._github_app"),
    fields=(
        Setting("app_id", kind="text_or_int", label="App ID", help="or client_id"),
        Setting("client_id", kind="text_or_int", label="Client ID", help="or app_id"),
        Setting("installation_id", kind="text_or_int", required=True, label="Installation ID"),
        Setting("private_key", required=True, secret=True, label="Private key"),
        Setting("api_url", label="API URL", placeholder="https://api.github.com"),
        Setting("repositories", kind="words", help="restrict the token to these"),
        Setting("permissions", kind="table", help="restrict the token's permissions"),
    ),
    description="an installation access token of a GitHub App",
)


# user sign-in (credentials/_login.py): the fields all three share, then each type's own
def _user_fields(*own: Setting) -> tuple[Setting, ...]:
    return (
        *own,
        _TOKEN_ENDPOINT,
        Setting("client_id", kind="text_or_int", required=True, label="Client ID"),
        Setting("client_secret", secret=True, label="Client secret", help="confidential clients"),
        _SCOPES,
        _AUDIENCE,
        Setting("revocation_endpoint", label="Revocation endpoint", help="RFC 7009, for logout"),
        Setting(
            "persist",
            choices=("memory", "keyring"),
            label="Keep the refresh token",
            help="memory (this kernel only) or keyring (survives a restart)",
        ),
    )


DEVICE_CODE = CredentialType(
    name="oauth2_device_code",
    position=40,
    label="Sign in: OAuth2 device code (RFC 8628)",
    strategy=_strategy("nbcreds.credentials._device_code"),
    fields=_user_fields(
        Setting(
            "device_authorization_endpoint", required=True, label="Device authorization endpoint"
        ),
    ),
    description="sign in as yourself: a code shown in the cell, entered on any device",
)

AUTHORIZATION_CODE = CredentialType(
    name="oauth2_authorization_code",
    position=50,
    label="Sign in: OAuth2 authorization code + PKCE",
    strategy=_strategy("nbcreds.credentials._authorization_code"),
    fields=_user_fields(
        Setting("authorization_endpoint", required=True, label="Authorization endpoint"),
        Setting("login_timeout", kind="duration", help='how long to wait (e.g. "PT5M")'),
    ),
    description="sign in as yourself in a browser on this machine (loopback redirect)",
)

REFRESH_TOKEN = CredentialType(
    name="oauth2_refresh_token",
    position=60,
    label="OAuth2 refresh token",
    strategy=_strategy("nbcreds.credentials._refresh_token"),
    fields=_user_fields(
        Setting("refresh_token", required=True, secret=True, label="Refresh token")
    ),
    description="a refresh token you already hold, exchanged (and rotated) for access tokens",
)

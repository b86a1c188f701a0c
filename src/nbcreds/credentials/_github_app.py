"""``github_app``: a GitHub App installation token.

An App JWT (RS256, ``iat`` = now - 60 s against clock drift, ``exp`` = now + 9
min, ``iss`` = app id or client id) buys a token from
``POST {api_url}/app/installations/{id}/access_tokens``; its expiry comes from
the answer's ``expires_at``. GitHub Enterprise Server: set ``api_url`` to
``https://HOST/api/v3``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._exceptions import TokenRequestError
from ._engine import Minted, TokenHttp, TokenRequest, lifetime_error, token_lifetime
from ._types import load_private_key, now, resolve_secret, resolve_text, sign_jwt

if TYPE_CHECKING:
    from .._definition import Definition

__all__ = ["DEFAULT_API_URL", "STRATEGY", "GitHubApp"]

DEFAULT_API_URL = "https://api.github.com"
_NOT_HERE = ("token_endpoint", "scopes", "audience")


class GitHubApp:
    def validate(self, definition: Definition) -> None:
        for key in _NOT_HERE:
            if definition.get(key) is not None:
                raise definition.error(
                    key,
                    "does not apply to github_app: the token URL comes "
                    "from api_url and installation_id; restrict the token "
                    "with repositories and permissions.",
                )
        if definition.get("app_id") is None and definition.get("client_id") is None:
            raise definition.error("app_id", "is missing; set app_id (or the App's client_id).")
        if definition.get("app_id") is not None:
            definition.text("app_id")
        definition.text("client_id")
        installation = definition.text(
            "installation_id", required=True, hint="find it in the App's installation settings URL"
        )
        if installation is not None and not installation.isdigit():
            raise definition.error("installation_id", "must be a number.")
        definition.reference("private_key")
        api = definition.text("api_url")
        if api is not None and not api.startswith(("http://", "https://")):
            raise definition.error(
                "api_url",
                "must be an http:// or https:// URL such as "
                "https://api.github.com or https://HOST/api/v3.",
            )
        definition.string_list("repositories")
        for name, level in definition.mapping("permissions").items():
            if level not in ("read", "write", "admin"):
                raise definition.error(f"permissions.{name}", "must be read, write or admin.")

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        issuer = resolve_text(definition, "client_id") or resolve_text(definition, "app_id")
        assert issuer is not None
        pem = resolve_secret(definition, "private_key")
        key = load_private_key(definition, "private_key", pem)
        api = (definition.text("api_url") or DEFAULT_API_URL).rstrip("/")
        installation = definition.text("installation_id")
        url = f"{api}/app/installations/{installation}/access_tokens"
        body: dict[str, Any] = {}
        if definition.string_list("repositories"):
            body["repositories"] = list(definition.string_list("repositories"))
        if definition.mapping("permissions"):
            body["permissions"] = definition.mapping("permissions")
        jwts: list[str] = []

        def build() -> TokenRequest:
            issued = now()
            app_jwt = sign_jwt(
                definition,
                key,
                {"iat": issued - 60, "exp": issued + 540, "iss": issuer},
                None,
                "RS256",
            )
            jwts.append(app_jwt)
            return TokenRequest(
                url=url,
                json=body or None,
                headers={
                    "Authorization": f"Bearer {app_jwt}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
            )

        response, sent_mono, sent_wall = http.send(definition, build, lambda: [pem, *jwts])
        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenRequestError(
                f"Credential '{definition.name}': GitHub answered HTTP {response.status_code} "
                "without a token. Check api_url.",
                status=response.status_code,
            )
        assert isinstance(answer, dict)  # the token cache registers the token (one place)
        lifetime = _lifetime(definition.name, answer.get("expires_at"), sent_wall)
        return Minted(token, sent_mono, sent_wall, lifetime, "token", None)


def _lifetime(credential: str, expires: object, sent_wall: float) -> float | None:
    """Seconds from sending until GitHub's ``expires_at`` (ISO 8601), by the rule of
    :func:`token_lifetime` (clamped; an unreadable date is a TokenRequestError)."""
    if expires is None:
        return None
    seconds: float | None = None
    if isinstance(expires, str):
        try:
            when = datetime.fromisoformat(expires)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)  # GitHub writes Z; a bare time is UTC too
            seconds = when.timestamp() - sent_wall
        except (ValueError, OverflowError, OSError):
            seconds = None
    if seconds is None:
        raise lifetime_error(credential, "expires_at", expires)
    return token_lifetime(seconds, credential, "expires_at")


STRATEGY = GitHubApp()

"""github_app against the GitHub-API-shaped server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import nbcreds
from nbcreds import CredentialConfigError, TokenRequestError
from nbcreds.testing.leaks import assert_no_leak


def app_config(
    api_url: str, issuer_key: str, issuer: str, installation: int, extra: str = ""
) -> str:
    return (
        "[credentials.gh]\n"
        'type = "github_app"\n'
        f'{issuer_key} = "{issuer}"\n'
        f"installation_id = {installation}\n"
        'private_key = "secret:GH_KEY"\n'
        f'api_url = "{api_url}"\n' + extra
    )


def test_installation_token(github: Any, keys: Any, write_config: Any, env_secret: Any) -> None:
    github.add_app(1001, keys["rsa"].public_pem, installations=[42])
    env_secret("GH_KEY", keys["rsa"].private_pem)
    write_config(app_config(github.api_url, "app_id", "1001", 42))
    before = time.time()

    token = nbcreds.credential("gh")

    assert github.issued(token)
    assert token.startswith("ghs_")
    claims = github.jwts[-1]
    assert claims["iss"] == "1001"
    assert claims["iat"] <= before - 59  # backdated a minute against clock drift
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["exp"] <= time.time() + 9 * 60 + 1
    sent = github.requests[-1]
    assert sent.path == "/app/installations/42/access_tokens"
    assert sent.headers["Accept"] == "application/vnd.github+json"
    info = nbcreds.credential_info("gh")
    assert info.cached
    assert not info.refresh_due
    assert info.expires_at is not None
    left = (info.expires_at - datetime.now(UTC)).total_seconds()
    assert 3500 < left <= 3600  # from the answer's expires_at (second precision)


def test_client_id_as_issuer_and_restrictions(
    github: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("Iv1.app")
    github.add_app(1002, keys["rsa"].public_pem, client_id=client_id, installations=[7])
    nbcreds.bind_secret("GH_KEY", keys["rsa"].private_pem)
    write_config(
        app_config(
            github.api_url,
            "client_id",
            client_id,
            7,
            'repositories = ["repo-a", "repo-b"]\n'
            '[credentials.gh.permissions]\ncontents = "read"\n',
        )
    )
    assert github.issued(nbcreds.credential("gh"))
    assert github.jwts[-1]["iss"] == client_id
    assert github.requests[-1].json() == {
        "repositories": ["repo-a", "repo-b"],
        "permissions": {"contents": "read"},
    }


def test_unknown_installation_is_not_found(github: Any, keys: Any, write_config: Any) -> None:
    github.add_app(1003, keys["rsa"].public_pem, installations=[1])
    nbcreds.bind_secret("GH_KEY", keys["rsa"].private_pem)
    write_config(app_config(github.api_url, "app_id", "1003", 999))
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("gh")
    assert info.value.status == 404
    assert info.value.error_description == "Not Found"
    assert info.value.error_uri == "https://docs.github.com/rest"
    assert github.token_requests == 1


def test_wrong_key_is_refused_without_leaking_the_jwt(
    github: Any, keys: Any, write_config: Any
) -> None:
    github.add_app(1004, keys["rsa"].public_pem, installations=[1])
    nbcreds.bind_secret("GH_KEY", keys["rsa2"].private_pem)
    write_config(app_config(github.api_url, "app_id", "1004", 1))
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("gh")
    assert info.value.status == 401
    assert github.token_requests == 1
    app_jwt = github.requests[-1].headers["Authorization"].removeprefix("Bearer ")
    assert_no_leak(str(info.value) + repr(info.value), [app_jwt, keys["rsa2"].private_pem])


def test_short_lived_installation_token_is_refreshed(
    github: Any, keys: Any, write_config: Any
) -> None:
    github.add_app(1005, keys["rsa"].public_pem, installations=[5])
    nbcreds.bind_secret("GH_KEY", keys["rsa"].private_pem)
    write_config(app_config(github.api_url, "app_id", "1005", 5))
    github.token_lifetime = 3
    first = nbcreds.credential("gh")
    deadline = time.monotonic() + 10
    while not nbcreds.credential_info("gh").refresh_due and time.monotonic() < deadline:
        time.sleep(0.1)
    second = nbcreds.credential("gh")
    assert first != second
    assert github.token_requests == 2


def test_auth_against_the_github_resource(github: Any, keys: Any, write_config: Any) -> None:
    github.add_app(1006, keys["rsa"].public_pem, installations=[6])
    nbcreds.bind_secret("GH_KEY", keys["rsa"].private_pem)
    write_config(app_config(github.api_url, "app_id", "1006", 6))
    with httpx.Client(auth=nbcreds.auth("gh")) as client:
        assert client.get(github.resource_url).json()["owner"] == "1006"
        github.revoke_all()
        assert client.get(github.resource_url).status_code == 200
    assert github.token_requests == 2


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('token_endpoint = "https://x.example/token"\n', "token_endpoint"),
        ('scopes = ["repo"]\n', "scopes"),
        ('[credentials.gh.permissions]\ncontents = "everything"\n', "permissions.contents"),
    ],
)
def test_github_app_definition_errors(write_config: Any, extra: str, key: str) -> None:
    with pytest.raises(CredentialConfigError) as info:  # at load, not at first use
        write_config(app_config("https://api.github.com", "app_id", "1", 1, extra))
    assert info.value.key == key
    assert f"key '{key}'" in str(info.value)
    assert "'gh'" in str(info.value)


def test_installation_id_must_be_numeric(write_config: Any) -> None:
    with pytest.raises(CredentialConfigError, match="installation_id"):
        write_config(
            '[credentials.gh]\ntype = "github_app"\napp_id = 1\n'
            'installation_id = "abc"\nprivate_key = "secret:GH_KEY"\n'
        )

"""nbcreds.auth(): httpx Auth for sync and async clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

import nbcreds
from nbcreds import CredentialNotFound


@pytest.fixture
def api(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("auth")
    oauth.add_client(client_id, client_secret="auth-secret-value")
    nbcreds.bind_secret("CLIENT_SECRET", "auth-secret-value")
    write_config(
        "[credentials.api]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        'client_secret = "secret:CLIENT_SECRET"\n'
    )


def test_sync_bearer_and_retry_once_on_401(oauth: Any, api: None) -> None:
    with httpx.Client(auth=nbcreds.auth("api")) as client:
        first = client.get(oauth.resource_url)
        assert first.status_code == 200
        assert client.get(oauth.resource_url).status_code == 200
        assert oauth.token_requests == 1  # cached between requests
        oauth.revoke_all()
        again = client.post(oauth.resource_url, content=b"payload")
        assert again.status_code == 200
    assert oauth.token_requests == 2
    assert oauth.resource_requests == 4  # 200, 200, 401, 200
    assert oauth.requests[-1].body == b"payload"  # the body was replayed


def test_sync_gives_up_after_one_retry(oauth: Any, api: None) -> None:
    oauth.resource_status = 401
    with httpx.Client(auth=nbcreds.auth("api")) as client:
        assert client.get(oauth.resource_url).status_code == 401
    assert oauth.resource_requests == 2
    assert oauth.token_requests == 2


def test_async_bearer_and_retry_once_on_401(oauth: Any, api: None) -> None:
    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=nbcreds.auth("api")) as client:
            codes = [(await client.get(oauth.resource_url)).status_code]
            oauth.revoke_all()
            codes.append((await client.get(oauth.resource_url)).status_code)
            return codes

    assert asyncio.run(main()) == [200, 200]
    assert oauth.token_requests == 2
    assert oauth.resource_requests == 3


def test_async_concurrent_requests_share_one_token(oauth: Any, api: None) -> None:
    oauth.delay = 0.3

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=nbcreds.auth("api")) as client:
            answers = await asyncio.gather(*(client.get(oauth.resource_url) for _ in range(16)))
            return [a.status_code for a in answers]

    assert asyncio.run(main()) == [200] * 16
    assert oauth.token_requests == 1


def test_concurrent_401s_cause_one_new_token(oauth: Any, api: None) -> None:
    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=nbcreds.auth("api")) as client:
            await client.get(oauth.resource_url)
            oauth.revoke_all()
            oauth.delay = 0.3
            answers = await asyncio.gather(*(client.get(oauth.resource_url) for _ in range(8)))
            return [a.status_code for a in answers]

    assert asyncio.run(main()) == [200] * 8
    assert oauth.token_requests == 2


def test_unknown_credential_fails_at_creation() -> None:
    with pytest.raises(CredentialNotFound):
        nbcreds.auth("nope")


def test_namespace_is_fixed_when_the_auth_is_made(oauth: Any, api: None) -> None:
    nbcreds.use_namespace("team.a")
    auth = nbcreds.auth("api")
    nbcreds.use_namespace(None)
    assert "team.a" in repr(auth)
    with httpx.Client(auth=auth) as client:
        assert client.get(oauth.resource_url).status_code == 200

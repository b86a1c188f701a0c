"""Token endpoint faults: refused, trickling, swallowing, echoing the request, lying
about lifetimes. Each: TokenRequestError, advice, no client secret in any form."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

import nbcreds
from nbcreds import TokenRequestError
from nbcreds.credentials._client_credentials import basic_authorization
from nbcreds.testing._net import free_port
from nbcreds.testing._proxy import TcpProxy

from .conftest import (
    FaultClock,
    ScriptedTokenServer,
    client_log,
    no_secret_anywhere,
    says_what_to_do,
)

CLIENT_ID = "fault-client"
# '+', '/' and '=' and a space: the percent-encoded and Basic forms differ from the raw
SECRET = "s3cr3t+/=value with space-0123456789abcdef"


def define(
    write_config: Any, endpoint: str, *, method: str = "client_secret_basic", **kw: str
) -> None:
    lines = [
        "[credentials.api]",
        'type = "oauth2_client_credentials"',
        f"token_endpoint = {json.dumps(endpoint)}",
        f"client_id = {json.dumps(CLIENT_ID)}",
        'client_secret = "secret:CLIENT_SECRET"',
        f'client_auth_method = "{method}"',
        *(f"{k} = {json.dumps(v)}" for k, v in kw.items()),
    ]
    write_config("\n".join(lines) + "\n")
    nbcreds.bind_secret("CLIENT_SECRET", SECRET)


def secret_forms() -> list[str]:
    """The secret, the Basic header's base64 and the form-encoded value."""
    header = basic_authorization(CLIENT_ID, SECRET).removeprefix("Basic ")
    return [SECRET, header, quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode()]


def test_token_endpoint_refused(
    write_config: Any, fault_clock: FaultClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    define(write_config, f"http://127.0.0.1:{free_port()}/token")
    with pytest.raises(TokenRequestError) as info, fault_clock:
        nbcreds.credential("api")
    says_what_to_do(str(info.value), "could not reach", "Check the URL")
    assert info.value.__context__ is None
    no_secret_anywhere(info.value, secret_forms(), client_log(caplog))


@pytest.mark.parametrize("mode", ["trickle", "swallow", "delay"])
def test_token_endpoint_slow_fails_at_the_deadline(
    mode: str,
    oauth: Any,
    write_config: Any,
    proxy_to: Callable[..., TcpProxy],
    fault_clock: FaultClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    oauth.add_client(CLIENT_ID, client_secret=SECRET)
    proxy = proxy_to(oauth.port, mode=mode, rate=20.0, delay=60.0)
    define(write_config, f"{proxy.url()}/token", timeout="PT1S")
    with pytest.raises(TokenRequestError) as info, fault_clock:
        nbcreds.credential("api")
    says_what_to_do(str(info.value), "did not answer within 1s", "timeout")
    no_secret_anywhere(info.value, secret_forms(), client_log(caplog))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_token_server_echoing_the_request(
    method: str, token_server: ScriptedTokenServer, write_config: Any, fault_clock: FaultClock
) -> None:
    def echo(request: dict[str, Any]) -> tuple[int, Any]:
        seen = f"Authorization: {request['headers'].get('Authorization')} body: {request['body']}"
        # padding first so the secret straddles the 300-character cut
        return 400, {"error": "invalid_request", "error_description": "x" * 280 + seen}

    token_server.answer = echo
    define(write_config, token_server.token_endpoint, method=method)
    with pytest.raises(TokenRequestError) as info, fault_clock:
        nbcreds.credential("api")
    assert info.value.error == "invalid_request"
    assert info.value.error_description is not None
    result = nbcreds.test_credential("api")
    assert not result.success
    no_secret_anywhere(info.value, secret_forms(), result.message, info.value.error_description)
    # what is left of the secret after the cut is not a usable prefix either
    assert SECRET[:8] not in str(info.value)


@pytest.mark.parametrize(
    ("expires_in", "outcome"),
    [
        (None, "no expiry"),
        ("3600", 3600.0),
        (-5, 0.0),
        (1e12, 365 * 86400.0),
        ("inf", 365 * 86400.0),
        ("1e400", 365 * 86400.0),
        ("NaN", "error"),
        ("soon", "error"),
        (True, "error"),
        ([60], "error"),
    ],
)
def test_expires_in_is_clamped_or_refused(
    expires_in: Any,
    outcome: Any,
    token_server: ScriptedTokenServer,
    write_config: Any,
) -> None:
    token = "tok-" + "a" * 24
    body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    token_server.answer = lambda request: (200, body)
    define(write_config, token_server.token_endpoint)
    if outcome == "error":
        with pytest.raises(TokenRequestError) as info:
            nbcreds.credential("api")
        says_what_to_do(str(info.value), "expires_in", "not a number")
        return
    assert nbcreds.credential("api").reveal() == token
    info_ = nbcreds.credential_info("api")
    if outcome == "no expiry":
        assert info_.expires_at is None
    else:
        assert info_.expires_at is not None
        assert info_.expires_at.year < 9999


def test_http_magic_refused_keeps_no_header(write_config: Any, fault_clock: FaultClock) -> None:
    from nbcreds._exceptions import HttpRequestError
    from nbcreds.http import request

    nbcreds.bind_secret("API_KEY", SECRET)
    text = (
        f"GET http://127.0.0.1:{free_port()}/x\nAuthorization: Bearer {{{{ secret('API_KEY') }}}}"
    )
    with pytest.raises(HttpRequestError) as info, fault_clock:
        request(text)
    says_what_to_do(str(info.value), "connection refused", "is the server running")
    assert info.value.__context__ is None
    no_secret_anywhere(info.value, [SECRET])


@pytest.mark.parametrize(
    ("expires_at", "outcome"),
    [
        ("2999-01-01T00:00:00Z", 365 * 86400.0),  # clamped to a year
        ("1999-01-01T00:00:00Z", 0.0),  # in the past: used once
        ("not a date", "error"),
        ("+999999-01-01T00:00:00Z", "error"),
        (12, "error"),
    ],
)
def test_github_expires_at_is_clamped_or_refused(
    expires_at: Any,
    outcome: Any,
    token_server: ScriptedTokenServer,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setenv("GH_KEY", pem)
    token = "ghs_" + "b" * 36
    token_server.answer = lambda request: (201, {"token": token, "expires_at": expires_at})
    api_url = token_server.token_endpoint.removesuffix("/token")
    write_config(
        "[credentials.gh]\n"
        'type = "github_app"\napp_id = "1"\ninstallation_id = 7\n'
        'private_key = "env:GH_KEY"\n'
        f'api_url = "{api_url}"\n'
    )
    if outcome == "error":
        with pytest.raises(TokenRequestError) as info:
            nbcreds.credential("gh")
        says_what_to_do(str(info.value), "expires_at", "not a number of seconds or a date")
        return
    assert nbcreds.credential("gh").reveal() == token
    expiry = nbcreds.credential_info("gh").expires_at
    assert expiry is not None
    assert expiry.year < 9999

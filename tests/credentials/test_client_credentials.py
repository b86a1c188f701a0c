"""oauth2_client_credentials against the real authlib server."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import unquote, unquote_plus

import httpx
import pytest

import nbcreds
from nbcreds import CredentialConfigError, TokenRequestError
from nbcreds.credentials._client_credentials import basic_authorization
from nbcreds.masking import registry
from nbcreds.testing.leaks import assert_no_leak

ODD_ID = "my app+/:=%41 & x"
ODD_SECRET = "s3 cr+/:=%zz et%20+ =="


def define(
    write_config: Any,
    endpoint: str,
    client_id: str,
    *,
    method: str | None = None,
    extra: str = "",
    name: str = "api",
) -> None:
    lines = [
        f"[credentials.{name}]",
        'type = "oauth2_client_credentials"',
        f"token_endpoint = {json.dumps(endpoint)}",
        f"client_id = {json.dumps(client_id)}",
        'client_secret = "secret:CLIENT_SECRET"',
    ]
    if method:
        lines.append(f'client_auth_method = "{method}"')
    write_config("\n".join(lines) + "\n" + extra)


def test_basic_auth_form_urlencodes_before_base64() -> None:
    header = basic_authorization(ODD_ID, ODD_SECRET)
    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    user, _, password = decoded.partition(":")
    assert ":" not in user  # the id's colon is encoded, so the split is unambiguous
    # both decoders a server may use read the pair back exactly
    assert (unquote(user), unquote(password)) == (ODD_ID, ODD_SECRET)
    assert (unquote_plus(user), unquote_plus(password)) == (ODD_ID, ODD_SECRET)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_odd_characters_authenticate(
    oauth: Any, write_config: Any, env_secret: Any, unique: Any, method: str
) -> None:
    client_id = unique(ODD_ID)
    oauth.add_client(client_id, client_secret=ODD_SECRET, auth_methods=[method])
    env_secret("CLIENT_SECRET", ODD_SECRET)
    define(write_config, oauth.token_endpoint, client_id, method=method)

    token = nbcreds.credential("api")

    assert oauth.issued(token)
    assert token in registry
    assert repr(token) == "<Secret api ****>"
    sent = oauth.requests[-1]
    if method == "client_secret_basic":
        assert sent.headers["Authorization"].startswith("Basic ")
        assert "client_secret" not in sent.form
    else:
        assert "Authorization" not in sent.headers
        assert sent.form["client_id"] == client_id
        assert sent.form["client_secret"] == ODD_SECRET


def test_scopes_audience_and_extra_params_are_sent(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("scoped")
    oauth.add_client(client_id, client_secret="scoped-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "scoped-secret-1")
    define(
        write_config,
        oauth.token_endpoint,
        client_id,
        extra='scopes = ["read", "write"]\naudience = "https://api.example"\n'
        '[credentials.api.extra_params]\nresource = "https://res.example"\n',
    )
    nbcreds.credential("api")
    form = oauth.requests[-1].form
    assert form["scope"] == "read write"
    assert form["audience"] == "https://api.example"
    assert form["resource"] == "https://res.example"
    assert form["grant_type"] == "client_credentials"


def test_invalid_client_is_not_retried_and_carries_error_fields(
    oauth: Any, write_config: Any, unique: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nbcreds")
    caplog.set_level(logging.DEBUG, logger="httpx")
    client_id = unique("wrong")
    oauth.add_client(client_id, client_secret="the-right-secret")
    wrong = "the-wrong-secret-value"
    nbcreds.bind_secret("CLIENT_SECRET", wrong)
    define(write_config, oauth.token_endpoint, client_id)

    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")

    err = info.value
    assert err.error == "invalid_client"
    assert err.status == 401
    assert err.error_description
    assert oauth.token_requests == 1
    assert "invalid_client" in str(err)
    assert "api" in str(err)
    assert_no_leak(str(err) + repr(err) + caplog.text, [wrong, "the-right-secret"])


def test_server_errors_are_retried_then_succeed(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("flaky")
    oauth.add_client(client_id, client_secret="flaky-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "flaky-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(2, 503)

    token = nbcreds.credential("api")

    assert oauth.issued(token)
    assert oauth.token_requests == 3


def test_retries_are_bounded(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("down")
    oauth.add_client(client_id, client_secret="down-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "down-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(10, 500, body={"error": "server_error", "error_description": "boom"})

    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")

    assert oauth.token_requests == 4  # the first attempt and 3 retries
    assert info.value.status == 500
    assert info.value.error == "server_error"
    assert "4 attempts" in str(info.value)


def test_429_honours_retry_after(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("busy")
    oauth.add_client(client_id, client_secret="busy-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "busy-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(1, 429, headers={"Retry-After": "0"})
    oauth.fail_next(1, 408)
    assert oauth.issued(nbcreds.credential("api"))
    assert oauth.token_requests == 3

    nbcreds.invalidate("api")
    oauth.reset()
    oauth.fail_next(1, 429, headers={"Retry-After": "3600"})
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")
    assert info.value.status == 429
    assert oauth.token_requests == 1  # an hour's wait is refused, not slept through


def test_dropped_connection_is_retried(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("drop")
    oauth.add_client(client_id, client_secret="drop-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "drop-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.drop_next(1)

    assert oauth.issued(nbcreds.credential("api"))
    assert oauth.dropped == 1
    assert oauth.token_requests == 1


def test_unreachable_endpoint_fails_after_retries(write_config: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nbcreds.bind_secret("CLIENT_SECRET", "unreachable-secret")
    define(write_config, f"http://127.0.0.1:{port}/token", "nobody")
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")
    assert "could not reach" in str(info.value)
    assert "4 attempts" in str(info.value)
    assert info.value.status is None


def test_slow_response_succeeds_and_timeout_bounds_the_whole_request(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("slow")
    oauth.add_client(client_id, client_secret="slow-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "slow-secret-1")
    define(write_config, oauth.token_endpoint, client_id, extra='timeout = "PT0.25S"\n')
    oauth.delay = 0.1
    assert oauth.issued(nbcreds.credential("api"))

    nbcreds.invalidate("api")
    oauth.reset()
    oauth.delay = 0.6
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")
    # the timeout is one deadline for the whole exchange, retries included: no time
    # is left for a retry, and the message names the setting
    assert "did not answer within 0.25s" in str(info.value)
    assert "timeout" in str(info.value).split("within")[1]
    assert oauth.token_requests == 1


def test_non_json_error_body(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("html")
    oauth.add_client(client_id, client_secret="html-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "html-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(1, 403, body="<html>forbidden</html>")
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")
    assert info.value.status == 403
    assert info.value.error is None
    assert oauth.token_requests == 1


def test_error_description_echoing_the_secret_is_scrubbed(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    secret = "echoed-secret-value-42"
    nbcreds.bind_secret("CLIENT_SECRET", secret)
    client_id = unique("echo")
    oauth.add_client(client_id, client_secret=secret)
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(
        1, 400, body={"error": "invalid_request", "error_description": f"bad secret {secret}"}
    )
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("api")
    assert info.value.error == "invalid_request"
    assert_no_leak(str(info.value) + str(info.value.error_description), [secret])


def test_missing_secret_names_the_reference(oauth: Any, write_config: Any) -> None:
    define(write_config, oauth.token_endpoint, "someone")
    with pytest.raises(CredentialConfigError) as info:
        nbcreds.credential("api")
    message = str(info.value)
    assert "client_secret" in message
    assert "CLIENT_SECRET" in message
    assert "tenant" in message
    assert oauth.token_requests == 0


def test_response_without_access_token(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("empty")
    oauth.add_client(client_id, client_secret="empty-secret-1")
    nbcreds.bind_secret("CLIENT_SECRET", "empty-secret-1")
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(1, 200, body={"token_type": "Bearer"})
    with pytest.raises(TokenRequestError, match="without an access_token"):
        nbcreds.credential("api")


def test_httpx_log_lines_carry_no_secret(
    oauth: Any, write_config: Any, unique: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    caplog.set_level(logging.DEBUG, logger="nbcreds")
    client_id = unique("logs")
    secret = "log-secret-value-77"
    oauth.add_client(client_id, client_secret=secret)
    nbcreds.bind_secret("CLIENT_SECRET", secret)
    define(write_config, oauth.token_endpoint, client_id)
    oauth.fail_next(1, 502)
    token = nbcreds.credential("api")
    with httpx.Client(auth=nbcreds.auth("api")) as client:
        assert client.get(oauth.resource_url).status_code == 200
    assert "HTTP Request" in caplog.text  # httpx did log
    assert_no_leak(caplog.text, [secret, token, basic_authorization(client_id, secret)[6:]])

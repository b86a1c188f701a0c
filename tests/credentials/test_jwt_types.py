"""oauth2_private_key_jwt and oauth2_jwt_bearer against the real authlib server."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest

import nbcreds
from nbcreds import CredentialConfigError, TokenRequestError
from nbcreds.testing.leaks import assert_no_leak

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def pkjwt_config(endpoint: str, client_id: str, extra: str = "") -> str:
    return (
        "[credentials.pk]\n"
        'type = "oauth2_private_key_jwt"\n'
        f"token_endpoint = {json.dumps(endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        'private_key = "secret:PK_KEY"\n'
        'key_id = "kid-1"\n' + extra
    )


def bearer_config(endpoint: str, issuer: str, extra: str = "") -> str:
    return (
        "[credentials.jb]\n"
        'type = "oauth2_jwt_bearer"\n'
        f"token_endpoint = {json.dumps(endpoint)}\n"
        f"issuer = {json.dumps(issuer)}\n"
        'subject = "alice@example.com"\n'
        'private_key = "secret:JB_KEY"\n' + extra
    )


# -- private_key_jwt ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_private_key_jwt_is_verified_by_the_server(
    oauth: Any, keys: Any, write_config: Any, env_secret: Any, unique: Any, kind: str
) -> None:
    client_id = unique(f"pk-{kind}")
    oauth.add_client(client_id, public_key=keys[kind].public_pem)
    env_secret("PK_KEY", keys[kind].private_pem)
    write_config(pkjwt_config(oauth.token_endpoint, client_id, 'scopes = ["read"]\n'))

    token = nbcreds.credential("pk")

    assert oauth.issued(token)
    claims = oauth.assertions[-1]
    assert claims["iss"] == claims["sub"] == client_id
    assert claims["aud"] == oauth.token_endpoint
    assert 0 < claims["exp"] - claims["iat"] <= 300
    form = oauth.requests[-1].form
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert form["scope"] == "read"
    header = jwt.get_unverified_header(form["client_assertion"])
    assert header["alg"] == keys[kind].algorithm
    assert header["kid"] == "kid-1"


def test_private_key_jwt_fresh_jti_and_replay_rejected(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("pk-replay")
    oauth.add_client(client_id, public_key=keys["rsa"].public_pem)
    nbcreds.bind_secret("PK_KEY", keys["rsa"].private_pem)
    write_config(pkjwt_config(oauth.token_endpoint, client_id))

    first = nbcreds.credential("pk")
    nbcreds.invalidate("pk")
    second = nbcreds.credential("pk")

    assert first != second
    jtis = [c["jti"] for c in oauth.assertions]
    assert len(jtis) == 2
    assert jtis[0] != jtis[1]
    replay = oauth.requests[-1].form
    answer = httpx.post(oauth.token_endpoint, data=replay)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"
    assert "used before" in answer.json()["error_description"]


def test_private_key_jwt_retry_uses_a_new_assertion(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("pk-retry")
    oauth.add_client(client_id, public_key=keys["ec"].public_pem)
    nbcreds.bind_secret("PK_KEY", keys["ec"].private_pem)
    write_config(pkjwt_config(oauth.token_endpoint, client_id))
    oauth.fail_next(1, 503)
    assert oauth.issued(nbcreds.credential("pk"))
    sent = [r.form["client_assertion"] for r in oauth.requests]
    assert len(sent) == 2
    assert sent[0] != sent[1]


def test_private_key_jwt_wrong_key_is_invalid_client(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("pk-wrong")
    oauth.add_client(client_id, public_key=keys["rsa"].public_pem)
    nbcreds.bind_secret("PK_KEY", keys["rsa2"].private_pem)
    write_config(pkjwt_config(oauth.token_endpoint, client_id))
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("pk")
    assert info.value.error == "invalid_client"
    assert oauth.token_requests == 1
    sent = oauth.requests[-1].form["client_assertion"]
    assert_no_leak(
        str(info.value) + repr(info.value),
        [sent, keys["rsa2"].private_pem, *keys["rsa2"].private_pem.splitlines()[1:-1]],
    )


def test_private_key_jwt_audience_may_be_the_issuer(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    client_id = unique("pk-aud")
    oauth.add_client(client_id, public_key=keys["rsa"].public_pem)
    nbcreds.bind_secret("PK_KEY", keys["rsa"].private_pem)
    write_config(
        pkjwt_config(oauth.token_endpoint, client_id, f"audience = {json.dumps(oauth.issuer)}\n")
    )
    assert oauth.issued(nbcreds.credential("pk"))
    assert oauth.assertions[-1]["aud"] == oauth.issuer


def test_server_rejects_an_assertion_living_too_long(oauth: Any, keys: Any, unique: Any) -> None:
    client_id = unique("pk-long")
    oauth.add_client(client_id, public_key=keys["rsa"].public_pem)
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": oauth.token_endpoint,
            "iat": now,
            "exp": now + 3600,
            "jti": "x1",
        },
        keys["rsa"].private_pem,
        algorithm="RS256",
    )
    answer = httpx.post(
        oauth.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == "invalid_client"


def test_private_key_jwt_lifetime_over_five_minutes_is_a_config_error(
    oauth: Any, write_config: Any
) -> None:
    with pytest.raises(CredentialConfigError) as info:  # at load, not at first use
        write_config(pkjwt_config(oauth.token_endpoint, "c", 'assertion_lifetime = "PT10M"\n'))
    assert "assertion_lifetime" in str(info.value)
    assert "'pk'" in str(info.value)


def test_algorithm_not_matching_the_key(oauth: Any, keys: Any, write_config: Any) -> None:
    nbcreds.bind_secret("PK_KEY", keys["rsa"].private_pem)
    write_config(pkjwt_config(oauth.token_endpoint, "c", 'algorithm = "ES256"\n'))
    with pytest.raises(CredentialConfigError, match="algorithm"):
        nbcreds.credential("pk")
    assert oauth.token_requests == 0


def test_a_non_pem_key_is_a_config_error_without_the_value(oauth: Any, write_config: Any) -> None:
    junk = "not-a-private-key-material-123"
    nbcreds.bind_secret("PK_KEY", junk)
    write_config(pkjwt_config(oauth.token_endpoint, "c"))
    with pytest.raises(CredentialConfigError) as info:
        nbcreds.credential("pk")
    assert "private_key" in str(info.value)
    assert_no_leak(str(info.value), [junk])


# -- jwt-bearer grant ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_jwt_bearer_grant(oauth: Any, keys: Any, write_config: Any, unique: Any, kind: str) -> None:
    issuer = unique(f"issuer-{kind}")
    oauth.add_client(issuer, public_key=keys[kind].public_pem, subjects=["alice@example.com"])
    nbcreds.bind_secret("JB_KEY", keys[kind].private_pem)
    write_config(
        bearer_config(
            oauth.token_endpoint,
            issuer,
            'scopes = ["a", "b"]\nassertion_lifetime = "PT2M"\n'
            '[credentials.jb.claims]\ntenant = "acme"\n',
        )
    )

    token = nbcreds.credential("jb")

    assert oauth.issued(token)
    claims = oauth.assertions[-1]
    assert claims["iss"] == issuer
    assert claims["sub"] == "alice@example.com"
    assert claims["aud"] == oauth.token_endpoint
    assert claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 120
    form = oauth.requests[-1].form
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert form["scope"] == "a b"
    assert jwt.get_unverified_header(form["assertion"])["alg"] == keys[kind].algorithm


def test_jwt_bearer_wrong_key_is_invalid_grant(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    issuer = unique("issuer-wrong")
    oauth.add_client(issuer, public_key=keys["rsa"].public_pem)
    nbcreds.bind_secret("JB_KEY", keys["rsa2"].private_pem)
    write_config(bearer_config(oauth.token_endpoint, issuer))
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("jb")
    assert info.value.error == "invalid_grant"
    assert info.value.status == 400
    assert oauth.token_requests == 1
    assert_no_leak(str(info.value), [oauth.requests[-1].form["assertion"]])


def test_jwt_bearer_unknown_subject_is_refused(
    oauth: Any, keys: Any, write_config: Any, unique: Any
) -> None:
    issuer = unique("issuer-sub")
    oauth.add_client(issuer, public_key=keys["rsa"].public_pem, subjects=["bob"])
    nbcreds.bind_secret("JB_KEY", keys["rsa"].private_pem)
    write_config(bearer_config(oauth.token_endpoint, issuer))
    with pytest.raises(TokenRequestError) as info:
        nbcreds.credential("jb")
    assert info.value.error == "invalid_grant"


def test_google_service_account_json(
    oauth: Any, keys: Any, write_config: Any, env_secret: Any, unique: Any
) -> None:
    email = unique("svc") + "@project.iam.gserviceaccount.com"
    oauth.add_client(email, public_key=keys["rsa"].public_pem)
    document = {
        "type": "service_account",
        "project_id": "project",
        "private_key_id": "abc123",
        "private_key": keys["rsa"].private_pem,
        "client_email": email,
        "client_id": "1234",
        "token_uri": oauth.token_endpoint,
    }
    env_secret("GOOGLE_SA", json.dumps(document))
    write_config(
        "[credentials.gcp]\n"
        'type = "oauth2_jwt_bearer"\n'
        'service_account = "secret:GOOGLE_SA"\n'
        'scopes = ["https://www.googleapis.com/auth/cloud-platform"]\n'
    )

    token = nbcreds.credential("gcp")

    assert oauth.issued(token)
    claims = oauth.assertions[-1]
    assert claims["iss"] == email
    assert claims["aud"] == oauth.token_endpoint
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert "sub" not in claims
    form = oauth.requests[-1].form
    assert "scope" not in form  # Google reads scopes from the assertion
    assert jwt.get_unverified_header(form["assertion"])["kid"] == "abc123"
    info = nbcreds.credential_info("gcp")
    assert info.type == "oauth2_jwt_bearer"
    assert_no_leak(repr(info), [token, keys["rsa"].private_pem])


def test_service_account_must_be_a_reference(write_config: Any) -> None:
    with pytest.raises(CredentialConfigError) as info:  # at load, not at first use
        write_config('[credentials.gcp]\ntype = "oauth2_jwt_bearer"\nservice_account = "{}"\n')
    assert "service_account" in str(info.value)
    assert "reference" in str(info.value)

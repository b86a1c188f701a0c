"""oauth2_refresh_token against the real authlib server: access tokens from a refresh
token held as a secret reference, rotation, invalid_grant as a typed error (never a
prompt, never a loop), headless use, revocation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import nbcreds
from nbcreds import RefreshTokenRejected
from nbcreds.credentials._login import book
from nbcreds.masking import registry
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture(autouse=True)
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """This type never prompts: every test runs as a headless run would."""
    monkeypatch.setenv("NBCREDS_INTERACTIVE", "0")


def define(write_config: Any, oauth: Any, client_id: str, extra: str = "") -> None:
    write_config(
        "[credentials.me]\n"
        'type = "oauth2_refresh_token"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        'refresh_token = "secret:MY_REFRESH_TOKEN"\n' + extra
    )


def held() -> str:
    found = book.refresh_token_for("me")
    assert found is not None
    return str.__str__(found)


def refreshes(oauth: Any) -> int:
    return sum(1 for r in oauth.requests if r.form.get("grant_type") == "refresh_token")


def test_masked_token_from_the_refresh_token_and_rotation(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any, capsys: Any
) -> None:
    client = unique("rt")
    oauth.add_client(client, public=True)
    configured = oauth.issue_refresh_token(client, "read")
    env_secret("MY_REFRESH_TOKEN", configured)
    define(write_config, oauth, client)

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    assert token in registry
    assert repr(token) == "<Secret me ****>"
    assert configured in registry  # the refresh token is masked too
    rotated = held()
    assert rotated != configured
    assert rotated in registry
    assert not oauth.refresh_token_valid(configured)
    assert oauth.refresh_token_valid(rotated)
    sent = oauth.requests[-1].form
    assert sent == {"client_id": client, "grant_type": "refresh_token", "refresh_token": configured}

    nbcreds.invalidate("me")  # keeps the sign-in: the rotated token is used next
    again = nbcreds.credential("me")
    assert again != token
    assert oauth.issued(again)
    assert oauth.requests[-1].form["refresh_token"] == rotated
    assert_no_leak(capsys.readouterr().out, [configured, rotated, str.__str__(token)])


def test_refreshes_before_expiry(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-expiry")
    oauth.add_client(client, public=True)
    oauth.token_lifetime = 2
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    define(write_config, oauth, client)
    first = nbcreds.credential("me")

    while not nbcreds.credential_info("me").refresh_due:
        time.sleep(0.05)
    second = nbcreds.credential("me")

    assert second != first
    assert oauth.issued(second)
    assert refreshes(oauth) == 2


def test_without_rotation_the_same_refresh_token_stays(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-norotate")
    oauth.add_client(client, public=True)
    oauth.rotate_refresh_tokens = False
    configured = oauth.issue_refresh_token(client)
    env_secret("MY_REFRESH_TOKEN", configured)
    define(write_config, oauth, client)

    nbcreds.credential("me")
    nbcreds.invalidate("me")
    nbcreds.credential("me")

    assert held() == configured
    assert oauth.refresh_token_valid(configured)


def test_invalid_grant_is_a_typed_error_never_a_loop(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-ig")
    oauth.add_client(client, public=True)
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    define(write_config, oauth, client)
    oauth.revoke_refresh_tokens()

    with pytest.raises(RefreshTokenRejected) as info:
        nbcreds.credential("me")

    assert info.value.error == "invalid_grant"
    assert "'me'" in str(info.value)
    assert "bind it" in str(info.value)
    assert refreshes(oauth) == 1
    with pytest.raises(RefreshTokenRejected):
        nbcreds.credential("me")
    assert refreshes(oauth) == 2  # one request per call, no retry loop


def test_rotated_token_refused_falls_back_once_to_a_newly_bound_one(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-rebind")
    oauth.add_client(client, public=True)
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    define(write_config, oauth, client)
    nbcreds.credential("me")
    oauth.revoke_refresh_tokens()  # the rotated one held in memory is dead now
    fresh = oauth.issue_refresh_token(client)
    env_secret("MY_REFRESH_TOKEN", fresh)  # the user binds a new refresh token
    nbcreds.invalidate("me")

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    assert oauth.requests[-1].form["refresh_token"] == fresh


def test_confidential_client(oauth: Any, write_config: Any, unique: Any, env_secret: Any) -> None:
    client = unique("rt-conf")
    oauth.add_client(client, client_secret="rt client secret")
    env_secret("RT_CLIENT_SECRET", "rt client secret")
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    define(write_config, oauth, client, 'client_secret = "secret:RT_CLIENT_SECRET"\n')

    assert oauth.issued(nbcreds.credential("me"))
    assert oauth.requests[-1].headers["Authorization"].startswith("Basic ")


def test_refresh_token_must_be_a_reference(oauth: Any, write_config: Any) -> None:
    with pytest.raises(nbcreds.ConfigError, match="refresh_token"):
        write_config(
            "[credentials.me]\n"
            'type = "oauth2_refresh_token"\n'
            f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
            'client_id = "x"\n'
            'refresh_token = "a-literal-refresh-token-value"\n'
        )


def test_unset_refresh_token_says_how_to_bind_it(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    client = unique("rt-unset")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    with pytest.raises(nbcreds.CredentialConfigError, match="MY_REFRESH_TOKEN"):
        nbcreds.credential("me")


def test_logout_revokes_the_refresh_token(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-logout")
    oauth.add_client(client, public=True)
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    define(write_config, oauth, client)
    token = nbcreds.credential("me")
    rotated = held()

    message = nbcreds.logout("me")

    assert "revoked the refresh token and the access token" in message
    assert not oauth.refresh_token_valid(rotated)
    assert not oauth.issued(token)
    assert nbcreds.login_state("me").status == "configured"
    with pytest.raises(RefreshTokenRejected):  # the configured one was rotated away
        nbcreds.credential("me")


def test_logout_without_revocation_endpoint_says_so(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any
) -> None:
    client = unique("rt-norevoke")
    oauth.add_client(client, public=True)
    env_secret("MY_REFRESH_TOKEN", oauth.issue_refresh_token(client))
    write_config(
        "[credentials.me]\n"
        'type = "oauth2_refresh_token"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"client_id = {json.dumps(client)}\n"
        'refresh_token = "secret:MY_REFRESH_TOKEN"\n'
    )
    nbcreds.credential("me")

    message = nbcreds.logout("me")

    assert "no revocation_endpoint" in message
    assert oauth.counts["revocation"] == 0


def test_login_and_logout_refuse_other_types(oauth: Any, write_config: Any) -> None:
    write_config(
        "[credentials.api]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        'client_id = "x"\n'
        'client_secret = "secret:X"\n'
    )
    with pytest.raises(nbcreds.CredentialConfigError, match="has no sign-in"):
        nbcreds.logout("api")


# --- persist = "keyring": the real Secret Service (gnome-keyring on a private bus) -----


def test_persist_keyring_keeps_the_rotated_token_across_a_restart(
    oauth: Any, write_config: Any, unique: Any, env_secret: Any, keyring_env: str
) -> None:
    import keyring

    client = unique("rt-keyring")
    oauth.add_client(client, public=True)
    configured = oauth.issue_refresh_token(client)
    env_secret("MY_REFRESH_TOKEN", configured)
    define(write_config, oauth, client, 'persist = "keyring"\n')

    nbcreds.credential("me")
    stored = keyring.get_password("nbcreds", "credential:tenant/me")
    assert stored == held() != configured  # the rotated token, in the OS keyring
    assert nbcreds.login_state("me").persisted is True

    nbcreds.credentials.engine.reset()  # a kernel restart: nothing left in memory
    token = nbcreds.credential("me")  # the configured token was rotated away: keyring's

    assert oauth.issued(token)
    assert oauth.requests[-1].form["refresh_token"] == stored
    assert keyring.get_password("nbcreds", "credential:tenant/me") == held() != stored

    nbcreds.logout("me")
    assert keyring.get_password("nbcreds", "credential:tenant/me") is None

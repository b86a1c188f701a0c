"""oauth2_device_code (RFC 8628) against the real authlib server: the prompt, polling
(authorization_pending, slow_down, access_denied, expired_token), refresh with
rotation, invalid_grant -> one fresh sign-in, single flight, cancel, headless."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nbcreds
from nbcreds import (
    AuthorizationDenied,
    AuthorizationExpired,
    CredentialConfigError,
    LoginError,
    LoginRequired,
)
from nbcreds.masking import registry
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture(autouse=True)
def someone_at_the_keyboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCREDS_INTERACTIVE", "1")


def define(
    write_config: Any, oauth: Any, client_id: str, *, name: str = "me", extra: str = ""
) -> None:
    write_config(
        f"[credentials.{name}]\n"
        'type = "oauth2_device_code"\n'
        f"device_authorization_endpoint = {json.dumps(oauth.device_authorization_endpoint)}\n"
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        'scopes = ["read", "offline_access"]\n' + extra
    )


def pending_code(name: str = "me", timeout: float = 30.0) -> str:
    """Wait (on a condition) until the sign-in of ``name`` is pending; its user code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = nbcreds.login_state(name)
        if state.status == "pending" and state.user_code:
            return state.user_code
        time.sleep(0.02)
    raise AssertionError(f"the sign-in of {name!r} never became pending")


@pytest.fixture
def approver(oauth: Any) -> Iterator[Callable[..., threading.Thread]]:
    """Start a thread that plays the user: waits for the code, then decides."""
    threads: list[threading.Thread] = []

    def start(
        name: str = "me", *, approve: bool = True, before: Callable[[], None] | None = None
    ) -> threading.Thread:
        def run() -> None:
            code = pending_code(name)
            if before is not None:
                before()
            oauth.approve(code, approved=approve)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(timeout=30)


def test_sign_in_shows_link_and_code_then_masked_token(
    oauth: Any, write_config: Any, unique: Any, approver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = unique("device")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    approver()

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    assert token in registry
    assert repr(token) == "<Secret me ****>"
    out = capsys.readouterr().out
    assert oauth.verification_uri in out
    assert "user_code=" in out  # verification_uri_complete is shown too
    state = nbcreds.login_state("me")
    assert state.status == "signed_in"
    assert state.user_code is None
    assert oauth.counts["device_authorization"] == 1
    assert oauth.counts["device_token"] == 1
    assert oauth.counts["device_poll"] >= 1
    # what the device authorization sent: the client id and scopes, no secret
    sent = next(r for r in oauth.requests if r.path == "/device_authorization")
    assert sent.form == {"client_id": client, "scope": "read offline_access"}
    assert_no_leak(out, [str.__str__(token)])


def test_confidential_client_authenticates_with_its_secret(
    oauth: Any, write_config: Any, unique: Any, approver: Any, env_secret: Any
) -> None:
    client = unique("device-conf")
    oauth.add_client(client, client_secret="device s3cret +/=")
    env_secret("DEVICE_SECRET", "device s3cret +/=")
    define(write_config, oauth, client, extra='client_secret = "secret:DEVICE_SECRET"\n')
    approver()

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    polls = [r for r in oauth.requests if r.path == "/token"]
    assert all(r.headers["Authorization"].startswith("Basic ") for r in polls)
    assert all("client_secret" not in r.form for r in polls)


def test_refresh_before_expiry_without_a_new_prompt_and_rotation(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-refresh")
    oauth.add_client(client, public=True)
    oauth.token_lifetime = 2  # refresh point: 80 % of 2 s
    define(write_config, oauth, client)
    approver()
    first = nbcreds.credential("me")
    rotated_from = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))

    while nbcreds.credential_info("me").refresh_due is False:
        time.sleep(0.05)
    second = nbcreds.credential("me")

    assert second != first
    assert oauth.issued(second)
    assert oauth.counts["device_authorization"] == 1  # no new prompt
    assert oauth.counts["refresh_token"] == 1
    held = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))
    assert held != rotated_from  # rotation: the new refresh token replaced the old
    assert not oauth.refresh_token_valid(rotated_from)
    assert oauth.refresh_token_valid(held)
    assert held in registry


def test_invalidate_keeps_the_sign_in(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-inv")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    approver()
    first = nbcreds.credential("me")

    assert nbcreds.invalidate("me") is True
    second = nbcreds.credential("me")

    assert second != first
    assert oauth.counts["device_authorization"] == 1
    assert oauth.counts["refresh_token"] == 1


def test_invalid_grant_leads_to_one_fresh_sign_in(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-ig")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    approver()
    nbcreds.credential("me")
    oauth.revoke_refresh_tokens()
    nbcreds.invalidate("me")
    approver()

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    assert oauth.counts["device_authorization"] == 2  # exactly one new sign-in
    refreshes = [r for r in oauth.requests if r.form.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1  # the refused refresh was not retried


def test_slow_down_adds_five_seconds(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-slow")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    # approve only after the slowed-down poll, so that the poll after it is measured
    oauth.slow_down_next(1)

    def after_two_polls() -> None:
        while oauth.counts["device_poll"] < 2:
            time.sleep(0.02)

    approver(before=after_two_polls)
    nbcreds.credential("me")

    times = next(iter(oauth.poll_times.values()))
    assert len(times) >= 2
    # the first poll got slow_down: the next came after interval (1 s) + 5 s, not 1 s
    assert times[1] - times[0] >= 6.0


def test_access_denied_is_a_typed_error(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-deny")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    approver(approve=False)

    with pytest.raises(AuthorizationDenied) as info:
        nbcreds.credential("me")

    assert info.value.error == "access_denied"
    assert "'me'" in str(info.value)
    assert "refused" in str(info.value)
    assert isinstance(info.value, LoginError)
    assert isinstance(info.value, nbcreds.TokenRequestError)
    assert nbcreds.login_state("me").status == "signed_out"


def test_expired_token_is_a_typed_error(oauth: Any, write_config: Any, unique: Any) -> None:
    client = unique("device-exp")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)

    def expire() -> None:
        pending_code()
        oauth.expire_device_codes()

    thread = threading.Thread(target=expire, daemon=True)
    thread.start()
    with pytest.raises(AuthorizationExpired) as info:
        nbcreds.credential("me")
    thread.join()

    assert info.value.error == "expired_token"
    assert "expired" in str(info.value)


def test_code_lifetime_runs_out_on_the_client_side(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    client = unique("device-life")
    oauth.add_client(client, public=True)
    oauth.device_code_lifetime = 2
    define(write_config, oauth, client)

    with pytest.raises(AuthorizationExpired):
        nbcreds.credential("me")


def test_logout_cancels_a_pending_sign_in(oauth: Any, write_config: Any, unique: Any) -> None:
    client = unique("device-cancel")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    messages: list[str] = []

    def cancel() -> None:
        pending_code()
        messages.append(nbcreds.logout("me"))

    thread = threading.Thread(target=cancel, daemon=True)
    thread.start()
    with pytest.raises(LoginError, match="cancelled"):
        nbcreds.credential("me")
    thread.join()
    polls = oauth.counts["device_poll"]
    time.sleep(2.5)  # more than two intervals: polling has stopped

    assert oauth.counts["device_poll"] == polls
    assert nbcreds.login_state("me").status == "signed_out"


def test_logout_revokes_and_next_call_signs_in_again(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    client = unique("device-logout")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    approver()
    token = nbcreds.credential("me")
    refresh = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))

    message = nbcreds.logout("me")

    assert "revoked the refresh token and the access token" in message
    assert not oauth.refresh_token_valid(refresh)
    assert not oauth.issued(token)
    assert nbcreds.login_state("me").status == "signed_out"
    assert [r["hint"] for r in oauth.revocations] == ["refresh_token", "access_token"]
    approver()
    again = nbcreds.credential("me")
    assert oauth.issued(again)
    assert oauth.counts["device_authorization"] == 2


def test_headless_fails_at_once_naming_the_credential(
    oauth: Any, write_config: Any, unique: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = unique("device-headless")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    monkeypatch.setenv("NBCREDS_INTERACTIVE", "0")

    with pytest.raises(LoginRequired) as info:
        nbcreds.credential("me")

    text = str(info.value)
    assert "'me'" in text
    assert "oauth2_refresh_token" in text
    assert "refresh_token =" in text
    assert oauth.counts["device_authorization"] == 0  # nothing was started


def test_headless_rule_without_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbcreds.credentials._login import interactive

    monkeypatch.delenv("NBCREDS_INTERACTIVE")
    assert interactive() is False  # pytest: no IPython shell, stdin is not a terminal


def test_single_flight_sixteen_callers_one_prompt(
    oauth: Any, write_config: Any, unique: Any, approver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = unique("device-flight")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(9)

    def thread_caller() -> None:
        barrier.wait()
        value = nbcreds.credential("me")
        with lock:
            results.append(str.__str__(value))

    async def tasks() -> list[str]:
        from nbcreds.credentials import acredential

        await asyncio.to_thread(barrier.wait)
        found = await asyncio.gather(*(acredential("me") for _ in range(8)))
        return [str.__str__(x) for x in found]

    threads = [threading.Thread(target=thread_caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    approver()
    results.extend(asyncio.run(tasks()))
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 16
    assert len(set(results)) == 1
    assert oauth.counts["device_authorization"] == 1
    assert oauth.counts["device_token"] == 1
    assert capsys.readouterr().out.count("Sign in for credential 'me'") == 1
    print(
        f"\n16 concurrent callers (8 threads, 8 asyncio tasks): "
        f"{oauth.counts['device_authorization']} device authorization, "
        f"{oauth.counts['device_token']} token exchange, "
        f"{oauth.counts['device_poll']} polls"
    )


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('persist = "disk"\n', "persist"),
        ('revocation_endpoint = "ftp://x"\n', "revocation_endpoint"),
        ('client_secret = "literal"\n', "client_secret"),
        ('refresh_token = "secret:X"\n', "refresh_token"),
    ],
)
def test_bad_settings_are_refused(oauth: Any, write_config: Any, extra: str, key: str) -> None:
    text = (
        "[credentials.me]\n"
        'type = "oauth2_device_code"\n'
        f"device_authorization_endpoint = {json.dumps(oauth.device_authorization_endpoint)}\n"
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        'client_id = "x"\n' + extra
    )
    # everything is refused when the file loads: a literal secret by the config's literal
    # check (ConfigError), the rest by the definition's validation (CredentialConfigError)
    with pytest.raises((nbcreds.ConfigError, CredentialConfigError), match=f"key '{key}'"):
        write_config(text)


def test_missing_device_endpoint_is_a_config_error(oauth: Any, write_config: Any) -> None:
    with pytest.raises(CredentialConfigError, match="device_authorization_endpoint"):
        write_config(  # at load, not at first use
            "[credentials.me]\n"
            'type = "oauth2_device_code"\n'
            f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
            'client_id = "x"\n'
        )


def test_sidebar_and_dashboard_show_the_pending_sign_in(
    oauth: Any, write_config: Any, unique: Any
) -> None:
    from nbcreds import comm
    from nbcreds.widgets import dashboard

    client = unique("device-surfaces")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    dash = dashboard(interval=None)
    creds = dash.credentials  # one HTML table; cells holds what it shows
    assert creds.cells["me"][2] == "not signed in"
    tested = comm.handle({"v": 1, "id": 1, "op": "test_credential", "name": "me"})
    assert tested["result"]["success"] is False
    assert "%credential login me" in tested["result"]["message"]
    assert oauth.counts["device_authorization"] == 0  # the sidebar never starts a sign-in
    seen: dict[str, Any] = {}

    def look_then_approve() -> None:
        code = pending_code()
        seen["login"] = next(
            c["login"] for c in comm.build_state()["credentials"] if c["name"] == "me"
        )
        dash.credentials.tick()
        seen["status"] = creds.cells["me"][2]
        oauth.approve(code)

    thread = threading.Thread(target=look_then_approve, daemon=True)
    thread.start()
    token = nbcreds.credential("me")
    thread.join()

    login = seen["login"]
    assert login["status"] == "pending"
    assert login["verification_uri"] == oauth.verification_uri
    assert login["user_code"]
    assert login["user_code"] in login["verification_uri_complete"]
    assert login["user_code"] in seen["status"]
    assert "href=" in seen["status"]
    dash.credentials.tick()
    assert creds.cells["me"][2].startswith("signed in")
    after = next(c for c in comm.build_state()["credentials"] if c["name"] == "me")
    assert after["login"]["status"] == "signed_in"
    assert after["login"]["user_code"] is None
    assert_no_leak(json.dumps(comm.build_state()), [str.__str__(token)])
    dash.close()


def test_credential_login_and_logout_magics(
    oauth: Any, write_config: Any, unique: Any, approver: Any
) -> None:
    import atexit

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from nbcreds.ipython import _magics

    client = unique("device-magic")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    _magics.register(shell)
    try:
        approver()
        with capture_output() as cap:
            shell.run_line_magic("credential", "login me")
        assert "Credential 'me': signed in" in cap.stdout
        assert "Sign in for credential 'me'" in cap.stdout
        assert nbcreds.login_state("me").status == "signed_in"
        with capture_output() as cap:
            shell.run_line_magic("credential", "login me")  # already signed in: no prompt
        assert "Sign in for" not in cap.stdout
        assert oauth.counts["device_authorization"] == 1
        table = shell.run_line_magic("credential", "info me")
        assert {"field": "sign_in", "value": "signed_in"} in table.rows
        with capture_output() as cap:
            shell.run_line_magic("credential", "logout me")
        assert "revoked the refresh token and the access token" in cap.stdout
        assert nbcreds.login_state("me").status == "signed_out"
    finally:
        _magics.unregister(shell)
        atexit.unregister(shell.atexit_operations)
        InteractiveShell.clear_instance()

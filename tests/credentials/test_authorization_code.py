"""oauth2_authorization_code against the real authlib server: PKCE S256, the loopback
redirect on 127.0.0.1 with a random port, state, prompt=consent, refresh, errors.

The user agent here is a :mod:`webbrowser` controller (the module's own extension
point) that loads the authorization page and presses Approve or Deny over HTTP, then
follows the redirect to the kernel's loopback server -- what a browser does. The
Chromium version of the same is in test_user_login_browser.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

import nbcreds
from nbcreds import AuthorizationDenied, LoginError, LoginRequired
from nbcreds.credentials._authorization_code import code_challenge
from nbcreds.masking import registry


class UserAgent(webbrowser.BaseBrowser):
    """Plays the person at the browser, in a thread (``open`` returns at once)."""

    def __init__(self) -> None:
        super().__init__("nbcreds-test-agent")
        self.behave: Callable[[str], None] | None = None
        self.opened: list[str] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        if self.behave is None:
            return False
        thread = threading.Thread(target=self.behave, args=(url,), daemon=True)
        thread.start()
        self.threads.append(thread)
        return True


_agent = UserAgent()
webbrowser.register("nbcreds-test-agent", None, _agent, preferred=True)


@pytest.fixture
def agent(oauth: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserAgent]:
    monkeypatch.setenv("NBCREDS_INTERACTIVE", "1")
    _agent.opened.clear()
    _agent.behave = lambda url: approve(oauth, url)
    yield _agent
    for thread in _agent.threads:
        thread.join(timeout=30)
    _agent.threads.clear()
    _agent.behave = None


def approve(oauth: Any, url: str, *, decision: bool = True) -> None:
    location = oauth.decide_authorization(url, approve=decision)
    httpx.get(location)  # the browser follows the redirect to the kernel's loopback


def define(
    write_config: Any, oauth: Any, client_id: str, *, scopes: str = '["read"]', extra: str = ""
) -> None:
    write_config(
        "[credentials.me]\n"
        'type = "oauth2_authorization_code"\n'
        f"authorization_endpoint = {json.dumps(oauth.authorization_endpoint)}\n"
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        f"scopes = {scopes}\n" + extra
    )


def test_pkce_s256_loopback_and_masked_token(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent
) -> None:
    client = unique("web")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    assert token in registry
    assert repr(token) == "<Secret me ****>"
    assert len(agent.opened) == 1
    asked = oauth.authorization_requests[-1]
    assert asked["code_challenge_method"] == "S256"
    assert asked["response_type"] == "code"
    assert asked["client_id"] == client
    assert "prompt" not in asked  # no offline_access asked
    redirect = urlsplit(asked["redirect_uri"])
    assert (redirect.scheme, redirect.hostname, redirect.path) == ("http", "127.0.0.1", "/callback")
    assert redirect.port not in (None, 80)
    exchange = next(r for r in oauth.requests if r.form.get("grant_type") == "authorization_code")
    # the verifier sent matches the challenge of the authorization request (S256)
    assert code_challenge(exchange.form["code_verifier"]) == asked["code_challenge"]
    assert exchange.form["redirect_uri"] == asked["redirect_uri"]
    assert exchange.form["code_verifier"] in registry
    assert oauth.counts["authorization_code"] == 1
    assert nbcreds.login_state("me").status == "signed_in"


def test_random_port_each_sign_in(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent
) -> None:
    client = unique("web-port")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    nbcreds.credential("me")
    nbcreds.logout("me")
    nbcreds.credential("me")

    first, second = (urlsplit(r["redirect_uri"]).port for r in oauth.authorization_requests)
    assert first != second
    assert len({r["state"] for r in oauth.authorization_requests}) == 2  # a new state each time


def test_offline_access_asks_consent_and_refresh_rotates(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent
) -> None:
    client = unique("web-offline")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client, scopes='["read", "offline_access"]')
    first = nbcreds.credential("me")
    assert oauth.authorization_requests[-1]["prompt"] == "consent"
    held = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))

    nbcreds.invalidate("me")
    second = nbcreds.credential("me")

    assert second != first
    assert oauth.issued(second)
    assert len(agent.opened) == 1  # refreshed, no second browser
    rotated = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))
    assert rotated != held
    assert not oauth.refresh_token_valid(held)


def test_confidential_client_sends_basic_auth(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent, env_secret: Any
) -> None:
    client = unique("web-conf")
    oauth.add_client(client, client_secret="web s3cret")
    env_secret("WEB_SECRET", "web s3cret")
    define(write_config, oauth, client, extra='client_secret = "secret:WEB_SECRET"\n')

    token = nbcreds.credential("me")

    assert oauth.issued(token)
    exchange = next(r for r in oauth.requests if r.form.get("grant_type") == "authorization_code")
    assert exchange.headers["Authorization"].startswith("Basic ")


def test_denied_is_a_typed_error(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent
) -> None:
    client = unique("web-deny")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    agent.behave = lambda url: approve(oauth, url, decision=False)

    with pytest.raises(AuthorizationDenied) as info:
        nbcreds.credential("me")

    assert info.value.error == "access_denied"
    assert oauth.counts["authorization_code"] == 0


def test_wrong_state_is_refused(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent
) -> None:
    client = unique("web-state")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)

    def forged(url: str) -> None:
        location = oauth.decide_authorization(url)
        parts = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "forged"
        httpx.get(urlunsplit(parts._replace(query=urlencode(query))))

    agent.behave = forged
    with pytest.raises(LoginError, match="state did not match"):
        nbcreds.credential("me")
    assert oauth.counts["authorization_code"] == 0  # the code was never exchanged


def test_login_timeout(oauth: Any, write_config: Any, unique: Any, agent: UserAgent) -> None:
    client = unique("web-timeout")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client, extra='login_timeout = "PT1S"\n')
    agent.behave = lambda url: None  # the browser opens; nobody signs in

    with pytest.raises(LoginError, match="login_timeout") as info:
        nbcreds.credential("me")
    assert "oauth2_device_code" in str(info.value)


def test_headless_fails_at_once(
    oauth: Any, write_config: Any, unique: Any, agent: UserAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = unique("web-headless")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    monkeypatch.setenv("NBCREDS_INTERACTIVE", "0")

    with pytest.raises(LoginRequired, match="'me'"):
        nbcreds.credential("me")
    assert agent.opened == []


def test_no_browser_says_use_the_device_type(
    oauth: Any, write_config: Any, unique: Any, tmp_path: Path
) -> None:
    """A kernel host without a browser (no DISPLAY, no BROWSER): webbrowser finds none."""
    client = unique("web-nobrowser")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "TERM")
    }
    env["NBCREDS_INTERACTIVE"] = "1"
    env["NBCREDS_CONFIG"] = str(Path.cwd() / "nbcreds.toml")
    script = (
        "import nbcreds\n"
        "try:\n"
        "    nbcreds.credential('me')\n"
        "except nbcreds.BrowserUnavailable as exc:\n"
        "    print('BrowserUnavailable:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "BrowserUnavailable:" in result.stdout
    assert "oauth2_device_code" in result.stdout
    assert oauth.counts["authorization_code"] == 0


def test_logout_revokes(oauth: Any, write_config: Any, unique: Any, agent: UserAgent) -> None:
    client = unique("web-logout")
    oauth.add_client(client, public=True)
    define(write_config, oauth, client, scopes='["read", "offline_access"]')
    token = nbcreds.credential("me")
    refresh = str.__str__(nbcreds.credentials._login.book.refresh_token_for("me"))

    message = nbcreds.logout("me")

    assert "revoked" in message
    assert not oauth.issued(token)
    assert not oauth.refresh_token_valid(refresh)
    assert oauth.counts["revocation"] == 2

"""``oauth2_authorization_code``: sign in as yourself in a browser, with PKCE (RFC 7636,
S256) and a loopback redirect (RFC 8252 §7.3) on ``127.0.0.1`` and a random port.

For kernels on the user's own machine: the browser must reach ``127.0.0.1`` of the
kernel. The kernel opens the authorization page with :mod:`webbrowser` (the link is
shown too), receives the code on a one-shot local HTTP server, checks ``state`` and
exchanges the code with its ``code_verifier``. ``prompt=consent`` is asked when
``offline_access`` is among the scopes (strict OpenID servers issue a refresh token
only then). When no browser can be opened the sign-in fails at once and says to use
``oauth2_device_code``, which works from anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .._exceptions import AuthorizationDenied, BrowserUnavailable, LoginError
from ._engine import Minted, TokenHttp, sensitive
from ._login import (
    LoginState,
    Prompt,
    UserLogin,
    book,
    now_utc,
    post_form,
    token_response,
    validate_url,
)

if TYPE_CHECKING:
    from .._definition import Definition

__all__ = ["STRATEGY", "AuthorizationCode", "code_challenge"]

CALLBACK = "/callback"
DEFAULT_TIMEOUT = 300.0

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>nbcreds sign-in</title></head>"
    "<body style='font-family:sans-serif'><h1 id='result'>{title}</h1><p>{text}</p></body></html>"
)


def code_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of RFC 7636 §4.2."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Callback:
    """What the one-shot redirect server received."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.done = threading.Event()
        self.code: str | None = None
        self.error: str | None = None
        self.error_description: str | None = None


def _handler(callback: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the query holds the code: never log it

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != CALLBACK or callback.done.is_set():
                self._answer(404, "Not found", "This sign-in is finished or unknown.")
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if query.get("state") != callback.state:
                callback.error = "state_mismatch"
                self._answer(
                    400, "Sign-in refused", "The answer did not carry this sign-in's state."
                )
            elif "error" in query:
                callback.error = query["error"]
                callback.error_description = query.get("error_description")
                self._answer(200, "Sign-in not completed", "You can close this tab.")
            elif query.get("code"):
                callback.code = query["code"]
                sensitive(callback.code, "authorization_code")
                self._answer(200, "Signed in", "You can close this tab and go back to Jupyter.")
            else:
                callback.error = "invalid_request"
                self._answer(400, "Sign-in refused", "The answer carried no code.")
            callback.done.set()

        def _answer(self, status: int, title: str, text: str) -> None:
            body = _PAGE.format(title=title, text=text).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


class AuthorizationCode(UserLogin):
    def validate(self, definition: Definition) -> None:
        super().validate(definition)
        validate_url(definition, "authorization_endpoint")
        timeout = definition.duration("login_timeout", DEFAULT_TIMEOUT)
        if timeout <= 0:
            raise definition.error("login_timeout", 'must be a positive duration such as "PT5M".')

    def sign_in(self, definition: Definition, http: TokenHttp) -> tuple[Minted, str | None]:
        import webbrowser

        endpoint = validate_url(definition, "authorization_endpoint")
        timeout = definition.duration("login_timeout", DEFAULT_TIMEOUT)
        verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
        sensitive(verifier, f"{definition.name}.code_verifier")
        state = secrets.token_urlsafe(24)
        callback = _Callback(state)
        server = HTTPServer(("127.0.0.1", 0), _handler(callback))
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK}"
        client_id = definition.text("client_id", required=True)
        assert client_id is not None
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if definition.scopes:
            params["scope"] = " ".join(definition.scopes)
            if "offline_access" in definition.scopes:
                params["prompt"] = "consent"
        if definition.audience:
            params["audience"] = definition.audience
        url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
        pending = LoginState(
            "pending", "authorization_code", authorization_url=url, expires_at=now_utc(timeout)
        )
        prompt = Prompt(
            f"Sign in for credential '{definition.name}'",
            [("Opening your browser at", url)],
            url,
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"nbcreds-login-{definition.name}",
            daemon=True,
        )
        thread.start()
        try:
            with book.pending(definition, pending) as cancel:
                prompt.show()
                try:
                    opened = webbrowser.open(url)
                except Exception:  # a broken browser command is no browser
                    opened = False
                if not opened:
                    message = (
                        f"Credential '{definition.name}' (oauth2_authorization_code): no browser "
                        "can be opened from this kernel, and the sign-in redirect to "
                        "127.0.0.1 must reach it. Use type oauth2_device_code instead (same "
                        "client and token endpoint, plus the server's "
                        "device_authorization_endpoint): it works from any kernel."
                    )
                    prompt.done("No browser could be opened: use oauth2_device_code.")
                    raise BrowserUnavailable(message)
                deadline = time.monotonic() + timeout
                try:
                    while not callback.done.is_set():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise LoginError(
                                f"Credential '{definition.name}': nobody completed the sign-in "
                                f"in the browser within {int(timeout)} s (login_timeout). Call "
                                "credential() again; if the browser runs on another machine "
                                "than the kernel, use type oauth2_device_code."
                            )
                        prompt.progress(
                            f"Waiting for the browser... {int(left)} s left. To cancel, "
                            "interrupt the kernel."
                        )
                        if cancel.wait(min(1.0, left)):
                            raise LoginError(
                                f"Credential '{definition.name}': the sign-in was cancelled "
                                "(logout, or an interrupted cell waiting for it). Call "
                                "credential() again to start over."
                            )
                except KeyboardInterrupt:
                    prompt.done("Sign-in cancelled (kernel interrupted). Run the cell again.")
                    raise
                if callback.error == "access_denied":
                    prompt.done("The sign-in was refused.")
                    raise AuthorizationDenied(
                        f"Credential '{definition.name}': the sign-in was refused "
                        "(access_denied). Call credential() again and approve the request.",
                        error="access_denied",
                        error_description=callback.error_description,
                    )
                if callback.error is not None or callback.code is None:
                    what = (
                        "the answer's state did not match this sign-in (a stale tab or a "
                        "forged request)"
                        if callback.error == "state_mismatch"
                        else f"the server answered {callback.error}"
                    )
                    prompt.done("The sign-in failed.")
                    raise LoginError(
                        f"Credential '{definition.name}': {what}. Call credential() again "
                        "to start a new sign-in."
                    )
                code = callback.code
                assert definition.token_endpoint is not None
                form = {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                }
                answer = post_form(
                    definition, http, definition.token_endpoint, form, [code, verifier]
                )
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        minted, refresh = token_response(definition, *answer)
        prompt.done(f"Signed in: credential '{definition.name}' holds your token.")
        return minted, refresh


STRATEGY = AuthorizationCode()

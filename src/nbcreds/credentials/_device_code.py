"""``oauth2_device_code``: sign in as yourself with the device authorization grant
(RFC 8628) -- works on remote kernels, since nothing has to reach the kernel.

The kernel asks the ``device_authorization_endpoint`` for a device code, shows the
verification link and the user code in the cell output, and polls the
``token_endpoint`` at the server's ``interval`` (``slow_down`` adds 5 s,
``authorization_pending`` keeps waiting, ``access_denied`` and ``expired_token``
end with :class:`~nbcreds.AuthorizationDenied` / :class:`~nbcreds.AuthorizationExpired`).
Interrupting the kernel stops the polling. The device code is registered with the
masker; the user code is meant to be shown.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from .._exceptions import AuthorizationDenied, AuthorizationExpired, LoginError, TokenRequestError
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

__all__ = ["GRANT_TYPE", "STRATEGY", "DeviceCode"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
SLOW_DOWN = 5.0


class DeviceCode(UserLogin):
    def validate(self, definition: Definition) -> None:
        super().validate(definition)
        validate_url(definition, "device_authorization_endpoint")

    def sign_in(self, definition: Definition, http: TokenHttp) -> tuple[Minted, str | None]:
        url = validate_url(definition, "device_authorization_endpoint")
        form: dict[str, str] = {}
        if definition.scopes:
            form["scope"] = " ".join(definition.scopes)
        if definition.audience:
            form["audience"] = definition.audience
        response, _, _ = post_form(definition, http, url, form, [])
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        device_code = body.get("device_code")
        user_code = body.get("user_code")
        verification = body.get("verification_uri") or body.get("verification_url")
        if not all(isinstance(x, str) and x for x in (device_code, user_code, verification)):
            raise LoginError(
                f"Credential '{definition.name}': the device authorization endpoint answered "
                f"HTTP {response.status_code} without device_code, user_code and "
                "verification_uri. Check device_authorization_endpoint."
            )
        assert isinstance(device_code, str)
        assert isinstance(user_code, str)
        assert isinstance(verification, str)
        sensitive(device_code, f"{definition.name}.device_code")
        complete = body.get("verification_uri_complete")
        complete = complete if isinstance(complete, str) and complete else None
        interval = _seconds(body.get("interval"), DEFAULT_INTERVAL)
        lifetime = _seconds(body.get("expires_in"), 600.0)
        deadline = time.monotonic() + lifetime

        lines = [("Open", verification), ("Code", user_code)]
        if complete is not None:
            lines.append(("Or open (code filled in)", complete))
        prompt = Prompt(f"Sign in for credential '{definition.name}'", lines, complete)
        state = LoginState(
            "pending",
            "device_code",
            user_code=user_code,
            verification_uri=verification,
            verification_uri_complete=complete,
            expires_at=now_utc(lifetime),
        )
        assert definition.token_endpoint is not None
        started = time.monotonic()
        with book.pending(definition, state) as cancel:
            prompt.show()
            try:
                while True:
                    left = deadline - time.monotonic()
                    prompt.progress(
                        f"Waiting for you to approve... {int(time.monotonic() - started)} s; "
                        f"the code expires in {max(0, int(left))} s. To cancel, interrupt "
                        "the kernel."
                    )
                    if left <= 0:
                        raise _expired(definition)
                    if cancel.wait(min(interval, left)):
                        raise LoginError(
                            f"Credential '{definition.name}': the sign-in was cancelled "
                            "(logout, or an interrupted cell waiting for it). Call "
                            "credential() again to start over."
                        )
                    poll = {"grant_type": GRANT_TYPE, "device_code": device_code}
                    try:
                        answer = post_form(
                            definition, http, definition.token_endpoint, poll, [device_code]
                        )
                    except TokenRequestError as exc:
                        if exc.error == "authorization_pending":
                            continue
                        if exc.error == "slow_down":
                            interval += SLOW_DOWN
                            continue
                        if exc.error == "access_denied":
                            raise AuthorizationDenied(
                                f"Credential '{definition.name}': the sign-in was refused "
                                "(access_denied). Call credential() again to retry, and approve "
                                "the request on the verification page.",
                                error=exc.error,
                                error_description=exc.error_description,
                                status=exc.status,
                            ) from None
                        if exc.error == "expired_token":
                            raise _expired(definition, exc) from None
                        raise
                    break
            except KeyboardInterrupt:
                prompt.done("Sign-in cancelled (kernel interrupted). Run the cell again to retry.")
                raise
            except LoginError as exc:
                prompt.done(_first_sentence(str(exc)))
                raise
        minted, refresh = token_response(definition, *answer)
        prompt.done(f"Signed in: credential '{definition.name}' holds your token.")
        return minted, refresh


def _expired(definition: Definition, exc: TokenRequestError | None = None) -> AuthorizationExpired:
    return AuthorizationExpired(
        f"Credential '{definition.name}': the sign-in code expired before it was approved "
        "(expired_token). Call credential() again for a new code, and approve it in time.",
        error="expired_token",
        error_description=exc.error_description if exc is not None else None,
        status=exc.status if exc is not None else None,
    )


def _seconds(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        seconds = float(value)
    except ValueError:
        return default
    if not math.isfinite(seconds) or seconds <= 0:
        return default
    return seconds


def _first_sentence(text: str) -> str:
    head, _, _ = text.partition(". ")
    return head.rstrip(".") + "."


STRATEGY = DeviceCode()

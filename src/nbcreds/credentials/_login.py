"""What the three user-login types share (``oauth2_device_code``,
``oauth2_authorization_code``, ``oauth2_refresh_token``).

- :class:`LoginBook` holds, per credential definition, the refresh token (a
  :class:`~nbcreds.values.Secret` registered with the masker, in memory; in the OS
  keyring only with ``persist = "keyring"``) and the sign-in state the surfaces show
  (``signed_out`` / ``pending`` with the code and link / ``signed_in``).
- :class:`UserLogin` is the strategy base: refresh with the refresh token when there
  is one (rotation kept), otherwise an interactive sign-in -- once; ``invalid_grant``
  on a refresh leads to one fresh sign-in, never a loop.
- :func:`interactive` is the headless rule: a sign-in needs someone to answer it.
- :class:`Prompt` shows the sign-in in the cell's output (IPython display when a
  kernel runs us, else ``print``) and keeps one progress line up to date.
- :func:`login` / :func:`logout` back ``%credential login|logout``; logout revokes
  (RFC 7009) when the definition has a ``revocation_endpoint``.

Single flight comes from the engine: a sign-in *is* the mint of the access token, so
every caller waiting for the same credential waits on the same sign-in.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import (
    CredentialConfigError,
    LoginError,
    LoginRequired,
    RefreshTokenRejected,
    TokenRequestError,
)
from .._session import resolve_namespace
from ..namespaces import display
from ..values import Secret
from ._api import engine, find_definition
from ._engine import Minted, TokenHttp, TokenRequest, sensitive
from ._types import parse_token_response, resolve_secret, resolve_text

if TYPE_CHECKING:
    import httpx

    from .._definition import Definition

__all__ = [
    "INTERACTIVE_ENV",
    "KEYRING_SERVICE",
    "LoginBook",
    "LoginState",
    "Prompt",
    "UserLogin",
    "add_login_listener",
    "book",
    "cancel_pending",
    "interactive",
    "keyring_username",
    "login",
    "login_state",
    "logout",
    "remove_login_listener",
]

log = logging.getLogger("nbcreds.credentials")

#: ``NBCREDS_INTERACTIVE=1`` / ``0`` overrides the headless rule (see :func:`interactive`)
INTERACTIVE_ENV: Final = "NBCREDS_INTERACTIVE"
KEYRING_SERVICE: Final = "nbcreds"
USER_TYPES: Final = frozenset(
    {"oauth2_device_code", "oauth2_authorization_code", "oauth2_refresh_token"}
)
PERSIST_CHOICES: Final = ("memory", "keyring")

Key = tuple[str, str | None, str, str]


def keyring_username(definition: Definition) -> str:
    """The keyring entry of a persisted refresh token: ``credential:<level>/<name>``."""
    return f"credential:{display(definition.level)}/{definition.name}"


@dataclass(frozen=True)
class LoginState:
    """What the sidebar, the widget and ``%credential info`` show -- never a token.

    ``user_code`` and the links are meant for the person signing in (they are shown
    in the cell output anyway); they are not secrets.
    """

    status: str = "signed_out"  # signed_out | pending | signed_in
    flow: str = ""  # device_code | authorization_code | refresh_token
    user_code: str | None = None
    verification_uri: str | None = None
    verification_uri_complete: str | None = None
    authorization_url: str | None = None
    expires_at: datetime | None = None
    persisted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "flow": self.flow,
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "authorization_url": self.authorization_url,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "persisted": self.persisted,
        }


class LoginBook:
    """Refresh tokens and sign-in states of this kernel, per definition (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh: dict[Key, Secret] = {}
        self._origin: dict[Key, str] = {}  # hash of the configured refresh token it came from
        self._states: dict[Key, LoginState] = {}
        self._cancels: dict[Key, threading.Event] = {}
        self._listeners: list[Callable[[str, LoginState], None]] = []

    def add_listener(self, listener: Callable[[str, LoginState], None]) -> None:
        """Call ``listener(credential name, new state)`` on every sign-in state change
        (the comm pushes a pending sign-in to the sidebar while its cell still runs)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, LoginState], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _changed(self, definition: Definition, state: LoginState) -> None:
        from .. import _login_events  # listeners that subscribed without importing us

        for listener in [*self._listeners, *_login_events.listeners]:
            try:
                listener(definition.name, state)
            except Exception:  # a surface failing must not break a sign-in
                log.debug("sign-in state listener failed", exc_info=True)

    # -- refresh tokens -----------------------------------------------------------
    def refresh_token(self, definition: Definition) -> Secret | None:
        key = definition.cache_key
        with self._lock:
            found = self._refresh.get(key)
        if found is not None:
            return found
        if _persist(definition) == "keyring":
            stored = _keyring_get(definition)
            if stored:
                return self.keep(definition, stored, save=False)
        return None

    def keep(self, definition: Definition, value: str, *, save: bool = True) -> Secret:
        """Hold ``value`` as the refresh token (masked first; keyring when opted in)."""
        sensitive(value, f"{definition.name}.refresh_token")
        secret = Secret(value, f"{definition.name}.refresh_token", "credential")
        state = LoginState(
            "signed_in", _flow(definition), persisted=_persist(definition) == "keyring"
        )
        with self._lock:
            self._refresh[definition.cache_key] = secret
            changed = self._states.get(definition.cache_key) != state
            self._states[definition.cache_key] = state
        if changed:
            self._changed(definition, state)
        if save and _persist(definition) == "keyring":
            _keyring_set(definition, value)
        return secret

    def origin_changed(self, definition: Definition, configured: str) -> bool:
        """For ``oauth2_refresh_token``: True when the configured token changed since it
        was last seen in this kernel (the user bound a new one): the held (rotated) one
        is dropped. The first sight records it and keeps a token from the keyring."""
        digest = hashlib.sha256(configured.encode()).hexdigest()
        with self._lock:
            previous = self._origin.get(definition.cache_key)
            self._origin[definition.cache_key] = digest
            changed = previous is not None and previous != digest
            if changed:
                self._refresh.pop(definition.cache_key, None)
            return changed

    def forget(self, definition: Definition) -> Secret | None:
        """Drop the refresh token (memory and keyring); the state becomes signed out."""
        with self._lock:
            old = self._refresh.pop(definition.cache_key, None)
            had = self._states.pop(definition.cache_key, None)
        if had is not None:
            self._changed(definition, LoginState(flow=_flow(definition)))
        if _persist(definition) == "keyring":
            _keyring_delete(definition)
        return old

    # -- states -------------------------------------------------------------------
    def state(self, definition: Definition) -> LoginState:
        with self._lock:
            found = self._states.get(definition.cache_key)
        if found is not None:
            return found
        return LoginState(flow=_flow(definition))

    def set_state(self, definition: Definition, state: LoginState) -> None:
        with self._lock:
            changed = self._states.get(definition.cache_key) != state
            self._states[definition.cache_key] = state
        if changed:
            self._changed(definition, state)

    @contextmanager
    def pending(self, definition: Definition, state: LoginState) -> Iterator[threading.Event]:
        """Mark a sign-in as pending for its duration; yields its cancel event."""
        cancel = threading.Event()
        key = definition.cache_key
        with self._lock:
            previous = self._states.get(key)
            self._states[key] = state
            self._cancels[key] = cancel
        self._changed(definition, state)
        try:
            yield cancel
        except BaseException:
            back = previous if previous is not None and previous.status == "signed_in" else None
            with self._lock:
                if back is not None:
                    self._states[key] = back
                else:
                    self._states.pop(key, None)
            self._changed(definition, back or LoginState(flow=_flow(definition)))
            raise
        finally:
            with self._lock:
                self._cancels.pop(key, None)

    def cancel(self, definition: Definition) -> bool:
        with self._lock:
            event = self._cancels.get(definition.cache_key)
        if event is None:
            return False
        event.set()
        return True

    def refresh_token_for(self, name: str, namespace: str | None = None) -> Secret | None:
        """The refresh token held for credential ``name`` (tests, diagnostics)."""
        return self.refresh_token(_definition(name, namespace))

    def clear(self) -> None:
        """Forget every refresh token and state in memory (tests). The keyring is kept."""
        with self._lock:
            for event in self._cancels.values():
                event.set()
            self._refresh.clear()
            self._origin.clear()
            self._states.clear()


book = LoginBook()
engine.reset_hooks.append(book.clear)  # forgetting every token forgets sign-ins too


def cancel_pending(definition: Definition) -> bool:
    """Stop a pending sign-in of ``definition`` (its waiters get a ``LoginError``); True
    if one was pending. An interrupted ``await acredential(...)`` calls this: the
    sign-in runs in a worker thread that a kernel interrupt does not reach."""
    if definition.type not in USER_TYPES:
        return False
    return book.cancel(definition)


engine.cancel_hooks.append(cancel_pending)


def add_login_listener(listener: Callable[[str, LoginState], None]) -> None:
    """Be told ``(credential name, state)`` whenever a sign-in's state changes."""
    book.add_listener(listener)


def remove_login_listener(listener: Callable[[str, LoginState], None]) -> None:
    book.remove_listener(listener)


def _flow(definition: Definition) -> str:
    return definition.type.removeprefix("oauth2_")


def _persist(definition: Definition) -> str:
    return str(definition.get("persist") or "memory")


# ---------------------------------------------------------------------------------------
# keyring (opt-in; lazy import)
# ---------------------------------------------------------------------------------------


def _keyring() -> Any:
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise LoginError(
            'persist = "keyring" needs the keyring package: pip install keyring '
            "(or remove persist to keep the refresh token in memory only)."
        ) from None
    return keyring


def _keyring_failed(definition: Definition, action: str, exc: Exception) -> LoginError:
    return LoginError(
        f"Credential '{definition.name}': could not {action} the refresh token in the OS "
        f"keyring ({type(exc).__name__}). Unlock or set up the keyring (Secret Service, "
        'macOS Keychain, Windows Credential Locker), or remove persist = "keyring".'
    )


def _keyring_get(definition: Definition) -> str | None:
    kr = _keyring()
    try:
        value = kr.get_password(KEYRING_SERVICE, keyring_username(definition))
    except Exception as exc:
        raise _keyring_failed(definition, "read", exc) from None
    return value if isinstance(value, str) and value else None


def _keyring_set(definition: Definition, value: str) -> None:
    kr = _keyring()
    failure: LoginError | None = None
    try:
        kr.set_password(KEYRING_SERVICE, keyring_username(definition), value)
    except Exception as exc:
        failure = _keyring_failed(definition, "store", exc)
    if failure is not None:  # raised outside: the backend's error may quote what it was given
        raise failure


def _keyring_delete(definition: Definition) -> None:
    kr = _keyring()
    try:
        kr.delete_password(KEYRING_SERVICE, keyring_username(definition))
    except kr.errors.PasswordDeleteError:
        pass  # nothing stored
    except Exception as exc:
        raise _keyring_failed(definition, "delete", exc) from None


# ---------------------------------------------------------------------------------------
# the headless rule and the prompt
# ---------------------------------------------------------------------------------------


def interactive() -> bool:
    """Can a person answer a sign-in now?

    1. ``NBCREDS_INTERACTIVE=1`` / ``0`` decides (set it in CI or a scheduler).
    2. In a Jupyter kernel: the request being executed allowed stdin. A frontend with
       a person (JupyterLab, Notebook, VS Code) sends ``allow_stdin = true``; nbclient,
       papermill and ``jupyter nbconvert --execute`` send ``false``.
    3. Terminal IPython: yes. Plain Python: when stdin is a terminal.
    """
    forced = os.environ.get(INTERACTIVE_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    ip = _ipython()
    if ip is not None:
        kernel = getattr(ip, "kernel", None)
        if kernel is None:
            return True
        return bool(getattr(kernel, "_allow_stdin", False))
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (ValueError, OSError):
        return False


def _ipython() -> Any:
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def require_interactive(definition: Definition) -> None:
    if interactive():
        return
    raise LoginRequired(
        f"Credential '{definition.name}' ({definition.type}, level "
        f"{display(definition.level)}) needs a person to sign in, and this run has no one "
        "to answer (a headless run: nbclient, papermill, a script without a terminal). "
        "Provide a refresh token instead: define an oauth2_refresh_token credential with "
        'refresh_token = "secret:NAME" (get one by signing in once interactively), or set '
        f"{INTERACTIVE_ENV}=1 if someone can answer."
    )


class Prompt:
    """The sign-in instructions in the cell output, with one updated progress line."""

    def __init__(self, title: str, lines: list[tuple[str, str]], link: str | None) -> None:
        self.title = title
        self.lines = lines  # (label, value) shown as text; a value starting http is a link
        self.link = link
        self._handle: Any = None
        self._progress = ""
        self._shown_text = False

    def _html(self) -> str:
        rows = []
        for label, value in self.lines:
            shown = html.escape(value)
            if value.startswith(("http://", "https://")):
                shown = f'<a href="{shown}" target="_blank" rel="noopener">{shown}</a>'
            elif label.lower().startswith("code"):
                shown = f"<code style='font-size:1.3em'>{shown}</code>"
            rows.append(f"<div>{html.escape(label)}: {shown}</div>")
        progress = f"<div><em>{html.escape(self._progress)}</em></div>" if self._progress else ""
        return (
            f"<div class='nbcreds-login'><strong>{html.escape(self.title)}</strong>"
            f"{''.join(rows)}{progress}</div>"
        )

    def _text(self) -> str:
        body = "\n".join(f"  {label}: {value}" for label, value in self.lines)
        tail = f"\n  {self._progress}" if self._progress else ""
        return f"{self.title}\n{body}{tail}"

    def show(self) -> None:
        ip = _ipython()
        if ip is not None and getattr(ip, "kernel", None) is not None:
            from IPython.display import HTML, display

            self._handle = display(HTML(self._html()), display_id=True)  # type: ignore[no-untyped-call]
            return
        print(self._text(), flush=True)
        self._shown_text = True

    def progress(self, text: str) -> None:
        self._progress = text
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self._html()))  # type: ignore[no-untyped-call]

    def done(self, text: str) -> None:
        """The final line (signed in, denied, cancelled...)."""
        if self._handle is not None:
            self.progress(text)
        else:
            print(f"  {text}", flush=True)


# ---------------------------------------------------------------------------------------
# token requests shared by the three types
# ---------------------------------------------------------------------------------------


def client_auth(definition: Definition) -> tuple[dict[str, str], dict[str, str] | None, str | None]:
    """Form fields, headers and secret for the client: ``client_secret_basic`` with a
    ``client_secret``, else a public client sending only ``client_id`` (RFC 6749 §2.1)."""
    from ._client_credentials import basic_authorization

    client_id = resolve_text(definition, "client_id", required=True)
    assert client_id is not None
    if definition.get("client_secret") is None:
        return {"client_id": client_id}, None, None
    secret = resolve_secret(definition, "client_secret")
    return {}, {"Authorization": basic_authorization(client_id, secret)}, secret


def post_form(
    definition: Definition,
    http: TokenHttp,
    url: str,
    form: dict[str, str],
    sensitive: list[str],
) -> tuple[httpx.Response, float, float]:
    fields, headers, secret = client_auth(definition)
    data = {**fields, **form}
    values = [v for v in (*sensitive, secret) if v]

    def build() -> TokenRequest:
        return TokenRequest(url=url, data=data, headers=headers)

    return http.send(definition, build, lambda: values)


def token_response(
    definition: Definition, response: httpx.Response, sent_mono: float, sent_wall: float
) -> tuple[Minted, str | None]:
    """The access token (registered with the masker) and a new refresh token, if any."""
    minted = parse_token_response(definition, response, sent_mono, sent_wall)
    try:
        body = response.json()
    except ValueError:  # pragma: no cover - parse_token_response already read it
        body = {}
    refresh = body.get("refresh_token") if isinstance(body, dict) else None
    if isinstance(refresh, str) and refresh:
        return minted, sensitive(refresh, f"{definition.name}.refresh_token")
    return minted, None


def refresh_grant(definition: Definition, http: TokenHttp, refresh_token: str) -> Minted:
    """RFC 6749 §6: a new access token; a rotated refresh token replaces the old one."""
    assert definition.token_endpoint is not None
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    response, sent_mono, sent_wall = post_form(
        definition, http, definition.token_endpoint, form, [refresh_token]
    )
    minted, rotated = token_response(definition, response, sent_mono, sent_wall)
    if rotated is not None and rotated != refresh_token:
        book.keep(definition, rotated)
    else:
        book.set_state(
            definition,
            LoginState("signed_in", _flow(definition), persisted=_persist(definition) == "keyring"),
        )
    return minted


def revoke(definition: Definition, http: TokenHttp, token: str, hint: str) -> bool:
    """RFC 7009: ask the server to revoke ``token``; True when it answered 200."""
    url = resolve_text(definition, "revocation_endpoint")
    if url is None:
        return False
    post_form(definition, http, url, {"token": token, "token_type_hint": hint}, [token])
    return True


def validate_common(definition: Definition) -> None:
    """Checks every user-login type shares (endpoints, client, persist)."""
    definition.text(
        "token_endpoint", required=True, hint="set it to the authorization server's token URL"
    )
    definition.text("client_id", required=True)
    definition.reference("client_secret", required=False)
    url = definition.text("revocation_endpoint")
    if url is not None and not url.startswith(("http://", "https://")):
        raise definition.error("revocation_endpoint", "must be an http:// or https:// URL.")
    persist = definition.get("persist")
    if persist is not None and persist not in PERSIST_CHOICES:
        raise definition.error(
            "persist",
            'must be "memory" (the default: the refresh token lives in this kernel only) '
            'or "keyring" (kept in the OS keyring, so a restart needs no new sign-in).',
        )


def validate_url(definition: Definition, key: str) -> str:
    url = definition.text(key, required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise definition.error(key, "must be an http:// or https:// URL.")
    return url


class UserLogin:
    """Strategy base: refresh when a refresh token is held, else sign in (once)."""

    #: False for oauth2_refresh_token: a refused refresh token is an error, not a prompt
    can_sign_in = True

    def validate(self, definition: Definition) -> None:
        validate_common(definition)

    def held_refresh_token(self, definition: Definition) -> Secret | None:
        return book.refresh_token(definition)

    def mint(self, definition: Definition, http: TokenHttp) -> Minted:
        held = self.held_refresh_token(definition)
        if held is not None:
            try:
                return refresh_grant(definition, http, str.__str__(held))
            except TokenRequestError as exc:
                if exc.error != "invalid_grant":
                    raise
                book.forget(definition)
                if not self.can_sign_in:
                    raise RefreshTokenRejected(
                        f"Credential '{definition.name}': the token endpoint refused the "
                        "refresh token (invalid_grant: revoked, expired or already rotated). "
                        "Get a new refresh token (sign in once with an oauth2_device_code or "
                        "oauth2_authorization_code credential), bind it to the secret "
                        "refresh_token names, and retry.",
                        error=exc.error,
                        error_description=exc.error_description,
                        status=exc.status,
                    ) from None
                log.info(
                    "credential '%s': refresh token refused, signing in again", definition.name
                )
        if not self.can_sign_in:  # pragma: no cover - the refresh_token type always holds one
            raise CredentialConfigError(f"Credential '{definition.name}' has no refresh token.")
        require_interactive(definition)
        minted, refresh = self.sign_in(definition, http)
        if refresh is not None:
            book.keep(definition, refresh)
        else:
            book.set_state(definition, LoginState("signed_in", _flow(definition)))
        return minted

    def sign_in(self, definition: Definition, http: TokenHttp) -> tuple[Minted, str | None]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# facade helpers
# ---------------------------------------------------------------------------------------


def _definition(name: str, namespace: str | None) -> Definition:

    definition = find_definition(name, resolve_namespace(namespace))
    if definition.type not in USER_TYPES:
        raise CredentialConfigError(
            f"Credential '{name}' is of type {definition.type}, which has no sign-in; "
            f"login and logout apply to {', '.join(sorted(USER_TYPES))}."
        )
    return definition


def login_state(name: str, namespace: str | None = None) -> LoginState:
    """The sign-in state of ``name`` (pending with code and link, signed in, signed out)."""

    definition = find_definition(name, resolve_namespace(namespace))
    if definition.type not in USER_TYPES:
        return LoginState(status="", flow="")
    state = book.state(definition)
    if state.status == "signed_out" and definition.type == "oauth2_refresh_token":
        return replace(state, status="configured")
    return state


def login(name: str, namespace: str | None = None, *, force: bool = False) -> str:
    """Sign in now (``%credential login``): mint through the engine, so a sign-in already
    running is joined, not repeated. ``force`` forgets the current sign-in first."""
    definition = _definition(name, namespace)
    if force:
        book.forget(definition)
        engine.drop(definition)
    token = engine.token(name, namespace)
    until = (
        f" (token valid until {token.expires_at:%Y-%m-%d %H:%M:%S} UTC)"
        if token.expires_at is not None
        else ""
    )
    return f"Credential '{name}': signed in{until}."


def logout(name: str, namespace: str | None = None) -> str:
    """Sign out (``%credential logout``): revoke the refresh and access tokens at the
    ``revocation_endpoint`` (RFC 7009) when there is one, and forget both (memory and
    keyring). The next ``credential()`` signs in again."""
    definition = _definition(name, namespace)
    book.cancel(definition)
    cached = engine.cache.peek(definition.cache_key)
    refresh = book.refresh_token(definition)
    revoked: list[str] = []
    problems: list[str] = []
    if resolve_text(definition, "revocation_endpoint") is not None:
        access = cached.secret if cached is not None else None
        for token, hint in ((refresh, "refresh_token"), (access, "access_token")):
            if token is None:
                continue
            try:
                if revoke(definition, engine.http, str.__str__(token), hint):
                    revoked.append(hint.replace("_", " "))
            except TokenRequestError as exc:
                problems.append(f"the {hint.replace('_', ' ')} was not revoked: {exc}")
    book.forget(definition)
    engine.drop(definition)
    book.set_state(definition, LoginState("signed_out", _flow(definition)))
    parts = [f"Credential '{name}': signed out"]
    if revoked:
        parts.append(f"; revoked the {' and the '.join(revoked)} at the server")
    elif resolve_text(definition, "revocation_endpoint") is None:
        parts.append(" (no revocation_endpoint: the tokens were only forgotten here)")
    text = "".join(parts) + "."
    if problems:
        text += " " + " ".join(problems)
    return text


def now_utc(seconds: float) -> datetime:
    """The wall-clock time ``seconds`` from now (a pending sign-in's expiry, shown)."""
    return datetime.fromtimestamp(time.time() + seconds, UTC)

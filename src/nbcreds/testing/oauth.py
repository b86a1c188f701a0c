"""Local token servers for tests and notebooks: a real OAuth2 authorization server
built from authlib's server components, and a GitHub-API-shaped App server.

Both bind 127.0.0.1 on a free port, serve from a background thread, and can be
used from pytest fixtures or straight from a notebook::

    from nbcreds.testing.oauth import OAuthServer

    with OAuthServer(token_lifetime=60) as srv:
        srv.add_client("my app", client_secret="s3cret: +/=%")
        srv.token_endpoint      # http://127.0.0.1:PORT/token
        srv.resource_url        # a protected resource accepting the issued tokens

The OAuth server verifies, with authlib's own grant and client-authentication
classes: ``client_secret_basic`` / ``client_secret_post`` (client credentials
grant), ``private_key_jwt`` (RFC 7523 §2.2, ``jti`` replay rejected, ``exp`` at
most 5 minutes ahead) and the JWT bearer grant (RFC 7523 §2.1). Issued tokens
are random. Fault switches (:meth:`fail_next`, :meth:`drop_next`, ``delay``,
:meth:`revoke_all`) and counters (``token_requests``) let tests drive retries,
expiry and single-flight. Nothing here prints or logs a secret or a token.
"""

from __future__ import annotations

import collections
import hmac
import json
import secrets
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import httpx

from ._process import ManagedServer

__all__ = ["GitHubAppServer", "OAuthServer", "RecordedRequest"]

StartResponse = Callable[..., Any]
Response = tuple[int, bytes, list[tuple[str, str]]]

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class RecordedRequest:
    """One request the server received (tests inspect it; it may hold secrets)."""

    method: str
    path: str
    headers: httpx.Headers
    body: bytes
    query: str = ""

    @property
    def args(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr; can drop a connection before answering."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        owner: _LocalServer = self.server.owner  # type: ignore[attr-defined]
        if owner._take_drop():
            # close without reading or answering: the client sees a transport error
            self.close_connection = True
            return
        super().handle()


class _LocalServer(ManagedServer):
    """The HTTP plumbing, fault switches and counters both servers share (in a thread
    of this process: no subprocess, no directory; ``with`` as every test server)."""

    def __init__(self, *, token_lifetime: float | None = 3600, delay: float = 0.0) -> None:
        self.token_lifetime = token_lifetime
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self.token_requests = 0
        self.resource_requests = 0
        self.dropped = 0
        #: when set, the protected resource answers this status to every request
        self.resource_status: int | None = None
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._drops = 0
        self._issued: dict[str, tuple[float | None, str]] = {}  # token -> (expiry, owner)
        self._httpd: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None  # kept after stop() for late handler threads

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
        httpd.owner = self  # type: ignore[attr-defined]
        httpd.set_app(self._wsgi)
        self._httpd = httpd
        self._port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"nbcreds-{type(self).__name__}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running: call start() or use `with`")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # -- fault injection --------------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` token requests with ``status`` (JSON ``body``)."""
        payload = json.dumps(body if body is not None else {"error": "server_error"}).encode()
        hdrs = [("Content-Type", "application/json"), *(headers or {}).items()]
        with self._lock:
            self._faults.extend(_Fault(status, payload, hdrs) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """Close the next ``count`` connections without an answer (a transport error)."""
        with self._lock:
            self._drops += count

    def revoke_all(self) -> None:
        """Forget every issued token: the protected resource answers 401 to them."""
        with self._lock:
            self._issued.clear()

    def reset(self) -> None:
        """Clear counters, recorded requests and pending faults (keeps clients)."""
        with self._lock:
            self.requests.clear()
            self.token_requests = 0
            self.resource_requests = 0
            self.dropped = 0
            self._faults.clear()
            self._drops = 0
        self.delay = 0.0
        self.resource_status = None

    def issued(self, token: str) -> bool:
        """True if the server issued ``token`` and it is neither expired nor revoked."""
        with self._lock:
            entry = self._issued.get(str.__str__(token))
        return entry is not None and (entry[0] is None or entry[0] > time.time())

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops:
                self._drops -= 1
                self.dropped += 1
                return True
            return False

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _remember(self, token: str, owner: str) -> None:
        expiry = None if self.token_lifetime is None else time.time() + self.token_lifetime
        with self._lock:
            self._issued[token] = (expiry, owner)

    # -- WSGI ------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        path = str(environ.get("PATH_INFO") or "/")
        headers = httpx.Headers()
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-")] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = str(environ.get("QUERY_STRING") or "")
        request = RecordedRequest(method, path, headers, body, query)
        with self._lock:
            self.requests.append(request)
        status, payload, out_headers = self._dispatch(request)
        start_response(f"{status} {_REASONS.get(status, 'Status')}", out_headers)
        return [payload]

    def _dispatch(self, request: RecordedRequest) -> Response:
        raise NotImplementedError

    def _token_request(self, request: RecordedRequest, handle: Callable[[], Response]) -> Response:
        with self._lock:
            self.token_requests += 1
        fault = self._take_fault()  # at arrival: a late sleeper never takes a later fault
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            return fault.status, fault.body, fault.headers
        return handle()

    def _resource(self, request: RecordedRequest, schemes: tuple[str, ...]) -> Response:
        with self._lock:
            self.resource_requests += 1
        if self.resource_status is not None:
            return _json(self.resource_status, {"error": "forced"})
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            entry = self._issued.get(token.strip())
        valid = (
            scheme.lower() in schemes
            and entry is not None
            and (entry[0] is None or entry[0] > time.time())
        )
        if not valid:
            return _json(
                401,
                {"error": "invalid_token"},
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        assert entry is not None
        return _json(200, {"ok": True, "owner": entry[1], "path": request.path})


_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
]


def _decode(jwt: Any, assertion: str, key: Any) -> Any:
    """joserfc's decode with every asymmetric algorithm allowed. ``EdDSA`` (RFC 8037)
    is what most clients still send; joserfc warns since RFC 9864, so silence that."""
    import warnings

    from joserfc.errors import SecurityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.decode(assertion, key, algorithms=_ALGORITHMS)


def _key_type(pem: str | bytes) -> str:
    """joserfc's key type of a PEM public key (it warns when left to guess)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    return "OKP"


def _json(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return (
        status,
        json.dumps(body).encode(),
        [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *headers],
    )


# ---------------------------------------------------------------------------------------
# OAuth2 authorization server (authlib)
# ---------------------------------------------------------------------------------------

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALL_GRANTS = frozenset(
    {
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "authorization_code",
        "refresh_token",
        DEVICE_GRANT,
    }
)


@dataclass
class _IssuedToken:
    """A token record of the user grants (authlib's TokenMixin shape)."""

    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    revoked: bool = False
    grant: str = field(default_factory=lambda: secrets.token_hex(8))  # one sign-in's chain

    def check_client(self, client: _Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user(self) -> str:
        return self.user


@dataclass
class _Code:
    """An authorization code record (authlib's AuthorizationCodeMixin shape)."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def _page(title: str, body: str) -> Response:
    import html as _html

    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_html.escape(title)}</title></head><body style='font-family:sans-serif'>"
        f"<h1>{_html.escape(title)}</h1>{body}</body></html>"
    )
    return 200, text.encode(), [("Content-Type", "text/html; charset=utf-8")]


@dataclass
class _Client:
    client_id: str
    client_secret: str | None
    public_key: Any  # PEM str/bytes or a JWK / JWK set dict: verifies assertions
    auth_methods: set[str]
    issuer: str
    subjects: set[str] | None
    scopes: set[str] | None
    grants: set[str] = field(default_factory=lambda: set(ALL_GRANTS))
    redirect_uris: list[str] = field(default_factory=list)

    # authlib's ClientMixin protocol -------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grants

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match, except that a loopback URI may use any port (RFC 8252 §7.3)."""
        from urllib.parse import urlsplit

        asked = urlsplit(redirect_uri)
        for uri in self.redirect_uris:
            known = urlsplit(uri)
            if redirect_uri == uri:
                return True
            if (
                known.hostname in ("127.0.0.1", "::1")
                and asked.scheme == known.scheme == "http"
                and asked.hostname == known.hostname
                and asked.path == known.path
                and not asked.query
            ):
                return True
        return False

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grants

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        asked = scope.split()
        return " ".join(s for s in asked if self.scopes is None or s in self.scopes)


class OAuthServer(_LocalServer):
    """An OAuth2 authorization server on 127.0.0.1 built from authlib's components.

    ``/token`` serves the client credentials grant (``client_secret_basic``,
    ``client_secret_post``, ``private_key_jwt``) and the JWT bearer grant;
    ``/resource`` is a protected resource accepting the tokens it issued.
    ``token_lifetime`` (seconds, None: no ``expires_in``) may be changed at any time.
    """

    MAX_ASSERTION_LIFETIME = 300  # private_key_jwt: exp at most 5 minutes ahead

    def __init__(
        self, *, token_lifetime: float | None = 3600, delay: float = 0.0, leeway: int = 30
    ) -> None:
        super().__init__(token_lifetime=token_lifetime, delay=delay)
        self.leeway = leeway
        self._clients: dict[str, _Client] = {}
        self._seen_jti: set[str] = set()
        #: verified claims of every accepted assertion (grant and client auth), in order
        self.assertions: list[dict[str, Any]] = []
        #: the user the approval pages sign in as
        self.user = "alice"
        #: device grant: the ``interval`` and ``expires_in`` the server hands out
        self.device_interval = 1
        self.device_code_lifetime = 600
        #: refresh grant: issue a new refresh token each time and revoke the old one
        self.rotate_refresh_tokens = True
        #: how often each endpoint/grant succeeded or was called (see :meth:`reset`):
        #: device_authorization, device_poll, device_token, authorize_page,
        #: authorization_code, refresh_token, revocation
        self.counts: collections.Counter[str] = collections.Counter()
        #: the query of every authorization request (GET /authorize), in order
        self.authorization_requests: list[dict[str, str]] = []
        #: the form of every revocation request, in order (holds tokens: compare only)
        self.revocations: list[dict[str, str]] = []
        #: monotonic times of each device poll, per device code's user code
        self.poll_times: dict[str, list[float]] = {}
        self._slow_downs = 0
        self._devices: dict[str, dict[str, Any]] = {}  # device_code -> record
        self._user_grants: dict[str, tuple[str, bool]] = {}  # user_code -> (user, approved)
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, _IssuedToken] = {}  # access or refresh token -> record
        self._authz = self._build_authorization_server()

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    @property
    def resource_url(self) -> str:
        return f"{self.url}/resource"

    @property
    def issuer(self) -> str:
        """The server's issuer identifier (also accepted as an assertion audience)."""
        return self.url

    @property
    def device_authorization_endpoint(self) -> str:
        return f"{self.url}/device_authorization"

    @property
    def verification_uri(self) -> str:
        """The page where a person enters the user code (``/device``)."""
        return f"{self.url}/device"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.url}/authorize"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.url}/revoke"

    # -- the user side, without a browser (tests drive pages with Playwright too) ----
    def approve(self, user_code: str, *, approved: bool = True) -> None:
        """Decide a pending device sign-in as the approval page's buttons do."""
        with self._lock:
            if not any(d["user_code"] == user_code for d in self._devices.values()):
                raise KeyError("no pending device authorization has this user code")
            self._user_grants[user_code] = (self.user, approved)

    def slow_down_next(self, count: int = 1) -> None:
        """Answer the next ``count`` pending device polls with ``slow_down``."""
        with self._lock:
            self._slow_downs += count

    def expire_device_codes(self) -> None:
        """Make every pending device code expired (the next poll gets expired_token)."""
        with self._lock:
            for record in self._devices.values():
                record["expires_at"] = time.time() - 1

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token issued so far (the next refresh: invalid_grant)."""
        with self._lock:
            for record in self._tokens.values():
                if record.refresh_token is not None:
                    record.revoked = True

    def issue_refresh_token(self, client_id: str, scope: str = "") -> str:
        """A refresh token for ``client_id`` as if the user had signed in (for the
        oauth2_refresh_token type's tests)."""
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(40)
        record = _IssuedToken(client_id, self.user, scope, access, refresh)
        with self._lock:
            self._tokens[access] = record
            self._tokens[refresh] = record
        return refresh

    def issued_values(self, client_id: str) -> list[str]:
        """Every access and refresh token of the user grants issued to ``client_id``
        (tests scan outputs for them; never print them)."""
        with self._lock:
            records = [r for r in self._tokens.values() if r.client_id == client_id]
        values = {r.access_token for r in records}
        values |= {r.refresh_token for r in records if r.refresh_token is not None}
        return sorted(values)

    def refresh_token_valid(self, token: str) -> bool:
        with self._lock:
            record = self._tokens.get(str.__str__(token))
        return record is not None and not record.revoked and record.refresh_token == token

    def add_client(
        self,
        client_id: str,
        *,
        client_secret: str | None = None,
        public_key: Any = None,
        jwks: dict[str, Any] | None = None,
        auth_methods: Iterable[str] | None = None,
        issuer: str | None = None,
        subjects: Iterable[str] | None = None,
        scopes: Iterable[str] | None = None,
        public: bool = False,
        grants: Iterable[str] | None = None,
        redirect_uris: Iterable[str] = ("http://127.0.0.1/callback",),
    ) -> None:
        """Register a client. With ``client_secret`` it may use the secret methods; with
        ``public_key`` (PEM) or ``jwks`` it may use ``private_key_jwt`` and the JWT bearer
        grant (``issuer`` defaults to ``client_id``; ``subjects`` limits ``sub``).
        ``public`` clients authenticate with ``none`` (client_id only; PKCE for the
        authorization code). ``grants`` limits the grant types (default: all; without
        ``refresh_token`` no refresh token is issued). A loopback ``redirect_uris``
        entry matches any port (RFC 8252)."""
        methods = set(auth_methods) if auth_methods is not None else set()
        if auth_methods is None:
            if client_secret is not None:
                methods |= {"client_secret_basic", "client_secret_post"}
            if public_key is not None or jwks is not None:
                methods.add("private_key_jwt")
            if public:
                methods.add("none")
        key = jwks if jwks is not None else public_key
        self._clients[client_id] = _Client(
            client_id=client_id,
            client_secret=client_secret,
            public_key=key,
            auth_methods=methods,
            issuer=issuer or client_id,
            subjects=set(subjects) if subjects is not None else None,
            scopes=set(scopes) if scopes is not None else None,
            grants=set(grants) if grants is not None else set(ALL_GRANTS),
            redirect_uris=list(redirect_uris),
        )

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.assertions.clear()
            self.counts.clear()
            self.authorization_requests.clear()
            self.revocations.clear()
            self.poll_times.clear()
            self._slow_downs = 0
        self.device_interval = 1
        self.device_code_lifetime = 600
        self.rotate_refresh_tokens = True

    # -- authlib wiring ---------------------------------------------------------------
    def _build_authorization_server(self) -> Any:
        from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
        from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
        from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
        from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
        from joserfc import jwk

        server = self

        def find_client(client_id: str) -> _Client | None:
            return server._clients.get(client_id)

        def key_of(client: _Client) -> Any:
            data: Any = client.public_key
            if isinstance(data, dict):
                if "keys" in data:
                    return jwk.KeySet.import_key_set(data)  # type: ignore[arg-type]
                return jwk.import_key(data, data.get("kty"))
            return jwk.import_key(data, _key_type(data))  # type: ignore[call-overload]

        def audiences() -> list[str]:
            return [server.token_endpoint, server.issuer]

        def record(claims: dict[str, Any]) -> None:
            with server._lock:
                server.assertions.append(dict(claims))

        class Request(OAuth2Request):  # type: ignore[misc]
            def __init__(self, recorded: RecordedRequest) -> None:
                super().__init__(recorded.method, server.token_endpoint, headers=recorded.headers)
                self._form = recorded.form if recorded.method == "POST" else {}
                self._args = recorded.args
                self.payload = BasicOAuth2Payload(
                    {**self._args, **self._form} if recorded.method == "POST" else self._args
                )

            @property
            def form(self) -> dict[str, str]:
                return self._form

            @property
            def args(self) -> dict[str, str]:
                return self._args

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> _Client | None:
                return find_client(client_id)

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                owner = request.client.client_id if request.client is not None else ""
                server._remember(token["access_token"], owner)
                if request.user is not None:
                    record = _IssuedToken(
                        owner,
                        str(request.user),
                        str(token.get("scope") or ""),
                        token["access_token"],
                        token.get("refresh_token"),
                    )
                    previous = getattr(request, "refresh_token", None)
                    if isinstance(previous, _IssuedToken):
                        record.grant = previous.grant  # refreshed: the same sign-in
                    with server._lock:
                        server._tokens[record.access_token] = record
                        if record.refresh_token is not None:
                            server._tokens[record.refresh_token] = record

            def create_oauth2_request(self, request: Any) -> Any:
                return Request(request)

            def handle_response(
                self, status: int, body: Any, headers: list[tuple[str, str]]
            ) -> Response:
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                return status, payload, [(str(k), str(v)) for k, v in headers]

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
            CLIENT_AUTH_METHOD = "private_key_jwt"

            def get_audiences(self) -> list[str]:
                return audiences()

            def resolve_client_public_key(self, client: _Client) -> Any:
                return key_of(client)

            def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
                with server._lock:
                    if jti in server._seen_jti:
                        return False
                    server._seen_jti.add(jti)
                return True

            def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
                from authlib.oauth2.rfc6749 import InvalidClientError
                from joserfc import jwt
                from joserfc.errors import JoseError

                try:  # authlib's own code, with EdDSA allowed (joserfc needs it asked for)
                    token = _decode(jwt, assertion, resolve_key)
                except JoseError as exc:
                    raise InvalidClientError(description=exc.description) from exc
                self.verify_claims(token.claims)
                return token.claims

            def verify_claims(self, claims: dict[str, Any]) -> None:
                from authlib.oauth2.rfc6749 import InvalidClientError

                exp = claims.get("exp")
                if not isinstance(exp, int | float) or exp > time.time() + (
                    server.MAX_ASSERTION_LIFETIME + server.leeway
                ):
                    raise InvalidClientError(
                        description="The assertion's 'exp' is more than 5 minutes ahead."
                    )
                super().verify_claims(claims)
                record(claims)

        class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ]

        class JWTBearer(JWTBearerGrant):  # type: ignore[misc]
            LEEWAY = self.leeway

            def resolve_issuer_client(self, issuer: str) -> _Client | None:
                return next((c for c in server._clients.values() if c.issuer == issuer), None)

            def resolve_client_public_key(self, client: _Client) -> Any:
                return key_of(client)

            def authenticate_user(self, subject: str) -> str | None:
                client = self.resolve_issuer_client(self.request.client_issuer)
                if (
                    client is not None
                    and client.subjects is not None
                    and (subject not in client.subjects)
                ):
                    return None
                return subject

            def has_granted_permission(self, client: _Client, user: str) -> bool:
                return True

            def get_audiences(self) -> list[str]:
                return audiences()

            def verify_claims(self, claims: dict[str, Any]) -> None:
                super().verify_claims(claims)
                record(claims)

            def process_assertion_claims(self, assertion: str) -> Any:
                from authlib.oauth2.rfc6749 import InvalidGrantError
                from joserfc import jwt
                from joserfc.errors import JoseError

                # authlib's steps, with EdDSA allowed (joserfc needs it asked for)
                _, raw = self.extract_assertion(assertion)
                issuer = raw.get("iss")
                if not isinstance(issuer, str):
                    raise InvalidGrantError(description="Missing claim: 'iss'")
                self.request.client_issuer = issuer
                client = self.resolve_issuer_client(issuer)
                if client is None:
                    raise InvalidGrantError(description="The client does not exist on this server.")
                try:
                    token = _decode(jwt, assertion, key_of(client))
                except (JoseError, ValueError) as exc:
                    raise InvalidGrantError(description="Invalid JWT assertion") from exc
                self.verify_claims(token.claims)
                return token.claims

        from authlib.oauth2.rfc6749 import InvalidRequestError
        from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
        from authlib.oauth2.rfc7009 import RevocationEndpoint
        from authlib.oauth2.rfc7636 import CodeChallenge
        from authlib.oauth2.rfc8628 import (
            DeviceAuthorizationEndpoint,
            DeviceCodeGrant,
            DeviceCredentialDict,
        )

        user_methods = ["client_secret_basic", "client_secret_post", "none"]

        class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
            def get_verification_uri(self) -> str:
                return server.verification_uri

            def create_endpoint_response(self, request: Any) -> Any:
                self.INTERVAL = server.device_interval
                self.EXPIRES_IN = server.device_code_lifetime
                with server._lock:
                    server.counts["device_authorization"] += 1
                return super().create_endpoint_response(request)

            def save_device_credential(
                self, client_id: str, scope: str | None, data: dict[str, Any]
            ) -> None:
                record = DeviceCredentialDict(
                    client_id=client_id,
                    scope=scope,
                    user_code=data["user_code"],
                    expires_at=time.time() + data["expires_in"],
                )
                with server._lock:
                    server._devices[data["device_code"]] = record

        class DeviceCode(DeviceCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = user_methods

            def validate_token_request(self) -> None:
                code = self.request.payload.data.get("device_code")
                with server._lock:
                    server.counts["device_poll"] += 1
                    record = server._devices.get(code or "")
                    if record is not None:
                        server.poll_times.setdefault(record["user_code"], []).append(
                            time.monotonic()
                        )
                super().validate_token_request()

            def query_device_credential(self, device_code: str) -> Any:
                with server._lock:
                    return server._devices.get(device_code)

            def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
                with server._lock:
                    return server._user_grants.get(user_code)

            def should_slow_down(self, credential: Any) -> bool:
                with server._lock:
                    if server._slow_downs:
                        server._slow_downs -= 1
                        return True
                return False

            def create_token_response(self) -> Any:
                result = super().create_token_response()
                with server._lock:  # a device code is good for one token
                    for code, record in list(server._devices.items()):
                        if record is self.request.credential:
                            del server._devices[code]
                    server.counts["device_token"] += 1
                return result

        class AuthorizationCode(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = user_methods

            def validate_authorization_request(self) -> str:
                redirect_uri: str = super().validate_authorization_request()
                if self.request.payload.data.get("code_challenge_method") != "S256":
                    raise InvalidRequestError(
                        "PKCE with code_challenge_method=S256 is required",
                        redirect_uri=redirect_uri,
                    )
                return redirect_uri

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                record = _Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=str(request.payload.redirect_uri or ""),
                    scope=str(request.scope or ""),
                    user=str(request.user),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    expires_at=time.time() + 300,
                )
                with server._lock:
                    server._codes[code] = record

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                with server._lock:
                    record = server._codes.get(code)
                if record is None or record.client_id != client.client_id:
                    return None
                if record.expires_at < time.time():
                    return None
                return record

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                with server._lock:
                    server._codes.pop(authorization_code.code, None)
                    server.counts["authorization_code"] += 1

            def authenticate_user(self, authorization_code: _Code) -> str:
                return authorization_code.user

        class RefreshToken(RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = user_methods

            @property
            def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:
                return server.rotate_refresh_tokens

            def authenticate_refresh_token(self, refresh_token: str) -> _IssuedToken | None:
                with server._lock:
                    record = server._tokens.get(refresh_token)
                if record is None or record.revoked or record.refresh_token != refresh_token:
                    return None
                return record

            def authenticate_user(self, refresh_token: _IssuedToken) -> str:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: _IssuedToken) -> None:
                with server._lock:
                    server.counts["refresh_token"] += 1
                    if server.rotate_refresh_tokens:
                        refresh_token.revoked = True

            def issue_token(self, user: Any, refresh_token: _IssuedToken) -> Any:
                token = super().issue_token(user, refresh_token)
                if not server.rotate_refresh_tokens:  # the same refresh token stays valid
                    token["refresh_token"] = refresh_token.refresh_token
                return token

        class Revocation(RevocationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = user_methods

            def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
                with server._lock:
                    server.revocations.append(
                        {"token": token_string, "hint": token_type_hint or ""}
                    )
                    return server._tokens.get(token_string)

            def revoke_token(self, token: _IssuedToken, request: Any) -> None:
                with server._lock:
                    server.counts["revocation"] += 1
                    revoked = request.form["token"]
                    if revoked == token.refresh_token:
                        # RFC 7009 §2.1: and every token of the same grant (the sign-in)
                        for record in server._tokens.values():
                            if record.grant == token.grant:
                                record.revoked = True
                                server._issued.pop(record.access_token, None)
                    else:
                        server._issued.pop(revoked, None)

        def generate(
            grant_type: str,
            client: _Client,
            user: Any = None,
            scope: str | None = None,
            expires_in: int | None = None,
            include_refresh_token: bool = True,
        ) -> dict[str, Any]:
            token: dict[str, Any] = {
                "token_type": "Bearer",
                "access_token": secrets.token_urlsafe(32),
            }
            if include_refresh_token and user is not None:
                token["refresh_token"] = secrets.token_urlsafe(40)
            if server.token_lifetime is not None:
                token["expires_in"] = server.token_lifetime
            if scope:
                token["scope"] = client.get_allowed_scope(scope)
            return token

        authz = Server()
        authz.register_grant(ClientCredentials)
        authz.register_grant(JWTBearer)
        authz.register_grant(DeviceCode)
        authz.register_grant(AuthorizationCode, [CodeChallenge(required=True)])
        authz.register_grant(RefreshToken)
        authz.register_endpoint(DeviceAuthorization(authz))
        authz.register_endpoint(Revocation(authz))
        authz.register_client_auth_method("private_key_jwt", PrivateKeyJWT(leeway=self.leeway))
        authz.register_token_generator("default", generate)
        return authz

    def _dispatch(self, request: RecordedRequest) -> Response:
        if request.path == "/token":
            if request.method != "POST":
                return _json(405, {"error": "invalid_request"})
            return self._token_request(request, lambda: self._authz.create_token_response(request))
        if request.path.startswith("/resource"):
            return self._resource(request, ("bearer",))
        if request.path == "/device_authorization" and request.method == "POST":
            return self._token_request(
                request,
                lambda: self._authz.create_endpoint_response("device_authorization", request),
            )
        if request.path == "/revoke" and request.method == "POST":
            return self._token_request(
                request, lambda: self._authz.create_endpoint_response("revocation", request)
            )
        if request.path == "/device":
            return self._device_page(request)
        if request.path == "/authorize":
            return self._authorize_page(request)
        return _json(404, {"error": "not_found"})

    # -- the pages a person sees (minimal HTML; Playwright drives them in tests) ---------
    def _device_page(self, request: RecordedRequest) -> Response:
        import html as _html

        data = request.form if request.method == "POST" else request.args
        code = data.get("user_code", "").strip().upper()
        decision = data.get("decision")
        with self._lock:
            known = any(
                d["user_code"] == code and d["expires_at"] > time.time()
                for d in self._devices.values()
            )
        if request.method == "POST" and known and decision in ("approve", "deny"):
            with self._lock:
                self._user_grants[code] = (self.user, decision == "approve")
            done = "approved" if decision == "approve" else "denied"
            return _page(
                "Device sign-in " + done,
                f"<p id='result'>{done}</p><p>You can go back to your notebook.</p>",
            )
        if code and known:
            value = _html.escape(code)
            return _page(
                "Approve device sign-in",
                f"<p>Signed in as {_html.escape(self.user)}. Allow the device with code "
                f"<code id='shown-code'>{value}</code>?</p>"
                "<form method='post' action='/device'>"
                f"<input type='hidden' name='user_code' value='{value}'>"
                "<button id='approve' name='decision' value='approve'>Approve</button> "
                "<button id='deny' name='decision' value='deny'>Deny</button></form>",
            )
        problem = "<p id='error'>Unknown or expired code.</p>" if code else ""
        return _page(
            "Enter your device code",
            f"{problem}<form method='get' action='/device'>"
            "<input id='user_code' name='user_code' autocomplete='off'> "
            "<button id='submit' type='submit'>Continue</button></form>",
        )

    def _authorize_page(self, request: RecordedRequest) -> Response:
        import html as _html

        from authlib.oauth2.rfc6749 import OAuth2Error

        if request.method == "GET":
            with self._lock:
                self.counts["authorize_page"] += 1
                self.authorization_requests.append(request.args)
            try:
                self._authz.get_consent_grant(request, end_user=self.user)
            except OAuth2Error as exc:
                return _page(
                    "Sign-in request refused",
                    f"<p id='error'>{_html.escape(str(exc.error))}: "
                    f"{_html.escape(str(exc.description or ''))}</p>",
                )
            hidden = "".join(
                f"<input type='hidden' name='{_html.escape(k)}' value='{_html.escape(v)}'>"
                for k, v in request.args.items()
            )
            client = _html.escape(request.args.get("client_id", ""))
            scope = _html.escape(request.args.get("scope", ""))
            return _page(
                "Authorize application",
                f"<p>Signed in as {_html.escape(self.user)}. Allow {client} access to "
                f"<code>{scope}</code>?</p><form method='post' action='/authorize'>{hidden}"
                "<button id='approve' name='decision' value='approve'>Approve</button> "
                "<button id='deny' name='decision' value='deny'>Deny</button></form>",
            )
        if request.method != "POST":
            return _json(405, {"error": "invalid_request"})
        grant_user = self.user if request.form.get("decision") == "approve" else None
        grant = self._authz.get_consent_grant(request, end_user=grant_user)
        result: Response = self._authz.create_authorization_response(
            request, grant_user=grant_user, grant=grant
        )
        return result

    def decide_authorization(self, authorization_url: str, *, approve: bool = True) -> str:
        """The user side of the authorization code flow without a browser: load the
        page, press Approve (or Deny), and return the redirect's Location."""
        from urllib.parse import urlsplit

        query = urlsplit(authorization_url).query
        form = dict(parse_qsl(query, keep_blank_values=True))
        form["decision"] = "approve" if approve else "deny"
        with httpx.Client() as client:
            page = client.get(authorization_url)
            page.raise_for_status()
            answer = client.post(self.authorization_endpoint, data=form)
        location = answer.headers.get("Location")
        if answer.status_code != 302 or not location:
            raise RuntimeError(f"the authorization page answered HTTP {answer.status_code}")
        return str(location)


# ---------------------------------------------------------------------------------------
# GitHub-API-shaped App server
# ---------------------------------------------------------------------------------------


@dataclass
class _App:
    app_id: str
    client_id: str | None
    public_key: Any
    installations: set[str]


class GitHubAppServer(_LocalServer):
    """The slice of the GitHub REST API a GitHub App uses to get installation tokens.

    ``POST /app/installations/{id}/access_tokens`` verifies the App JWT (RS256,
    ``iat`` not in the future, ``exp`` at most 10 minutes after ``iat`` and not past,
    ``iss`` = app id or client id) and answers 201 with ``token`` and ``expires_at``;
    ``GET /installation/repositories`` accepts the tokens it issued.
    """

    MAX_JWT_LIFETIME = 600

    def __init__(
        self, *, token_lifetime: float | None = 3600, delay: float = 0.0, leeway: int = 30
    ) -> None:
        super().__init__(token_lifetime=token_lifetime, delay=delay)
        self.leeway = leeway
        self._apps: dict[str, _App] = {}
        #: verified claims of every accepted App JWT
        self.jwts: list[dict[str, Any]] = []

    @property
    def api_url(self) -> str:
        return self.url

    @property
    def resource_url(self) -> str:
        return f"{self.url}/installation/repositories"

    def add_app(
        self,
        app_id: int | str,
        public_key: Any,
        *,
        client_id: str | None = None,
        installations: Iterable[int | str] = (),
    ) -> None:
        """Register an App by id (and optional client id) with its public key (PEM)."""
        self._apps[str(app_id)] = _App(
            str(app_id), client_id, public_key, {str(i) for i in installations}
        )

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.jwts.clear()

    def _dispatch(self, request: RecordedRequest) -> Response:
        parts = request.path.strip("/").split("/")
        if (
            len(parts) == 4
            and parts[:2] == ["app", "installations"]
            and parts[3] == ("access_tokens")
        ):
            if request.method != "POST":
                return _gh_error(404, "Not Found")
            return self._token_request(request, lambda: self._installation_token(request, parts[2]))
        if request.path == "/installation/repositories":
            return self._resource(request, ("bearer", "token"))
        return _gh_error(404, "Not Found")

    def _installation_token(self, request: RecordedRequest, installation: str) -> Response:
        import jwt

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _gh_error(401, "A JSON web token could not be decoded")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return _gh_error(401, "A JSON web token could not be decoded")
        iss = str(unverified.get("iss", ""))
        app = self._apps.get(iss) or next(
            (a for a in self._apps.values() if a.client_id is not None and a.client_id == iss), None
        )
        if app is None:
            return _gh_error(401, "'Issuer' claim ('iss') must be an Integer or a Client ID")
        if header.get("alg") != "RS256":
            return _gh_error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                token,
                app.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=self.leeway,
            )
        except jwt.PyJWTError:
            return _gh_error(401, "A JSON web token could not be decoded")
        now = time.time()
        if claims["iat"] > now + self.leeway:
            return _gh_error(
                401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"
            )
        if claims["exp"] - claims["iat"] > self.MAX_JWT_LIFETIME:
            return _gh_error(401, "'Expiration time' claim ('exp') is too far in the future")
        if installation not in app.installations:
            return _gh_error(404, "Not Found")
        try:
            asked = request.json() or {}
        except ValueError:
            return _gh_error(400, "Problems parsing JSON")
        with self._lock:
            self.jwts.append(dict(claims))
        value = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
        self._remember(value, app.app_id)
        lifetime = 3600 if self.token_lifetime is None else self.token_lifetime
        expires = datetime.now(UTC) + timedelta(seconds=lifetime)
        body: dict[str, Any] = {
            "token": value,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": asked.get("permissions", {"metadata": "read"}),
            "repository_selection": "selected" if asked.get("repositories") else "all",
        }
        if asked.get("repositories"):
            body["repositories"] = [{"name": n} for n in asked["repositories"]]
        return _json(201, body)


def _gh_error(status: int, message: str) -> Response:
    return _json(
        status,
        {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        },
    )

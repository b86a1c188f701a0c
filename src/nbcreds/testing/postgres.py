"""A throw-away PostgreSQL server for tests and benchmarks.

Uses the server binaries of the Debian ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on ``PATH``): ``initdb`` a
cluster in a temporary directory, start it with ``pg_ctl`` on a free
127.0.0.1 port (no Unix socket outside the directory), wait until it accepts
connections, and stop it with ``pg_ctl stop -m fast``. ``initdb`` refuses to
run as root, so as root the server runs as the ``postgres`` OS user.

The superuser's password is random and registered with the masker, so a test
can assert it never leaks::

    with postgres_server() as server:
        url = server.url            # postgresql://nbcreds:<random>@127.0.0.1:<port>/nbcreds
        ...

This module never installs anything: when the binaries are missing,
:func:`find_bin_dir` raises and the caller skips (``scripts/test`` installs
the ``postgresql`` package).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._net import free_port
from ._process import port_open, wait_until

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PostgresServer",
    "PostgresUnavailable",
    "RoundTrips",
    "find_bin_dir",
    "free_port",
    "postgres_server",
    "round_trips",
    "start_postgres",
]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (install Debian's ``postgresql``)."""


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (the newest Debian version wins)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian package "
        "'postgresql' (scripts/test does it) to run the PostgreSQL tests."
    )


@dataclass
class PostgresServer:
    """A running throw-away server. ``url`` holds the (random, masked) password."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    directory: Path
    bin_dir: Path
    _as_user: list[str] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def __repr__(self) -> str:  # never the password
        return f"<PostgresServer {self.host}:{self.port}/{self.dbname}>"

    def register_password(self) -> None:
        """(Re-)register the password and the URL with the masker (registries get reset)."""
        from ..masking import registry

        registry.register(self.password, "postgres test password")
        registry.register(self.url, "postgres test url")

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and leave the directory in place."""
        self.pg_ctl("stop", "-m", "fast", "-w", check=False)

    def start(self) -> None:
        """(Re)start the server on its port and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=50 -c shared_buffers=16MB"
        )
        result = self.pg_ctl(
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "-o",
            options,
            check=False,
        )
        if result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed ({result.returncode}): {result.stderr}{tail}")
        wait_until(
            lambda: port_open(self.host, self.port),
            timeout=30.0,
            on_timeout=lambda: RuntimeError(
                f"PostgreSQL did not listen on {self.host}:{self.port}"
            ),
        )

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres(*, user: str = "nbcreds", dbname: str = "nbcreds") -> PostgresServer:
    """initdb + start a server in a new temporary directory; the caller stops it."""
    bin_dir = find_bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="nbcreds-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root needs the 'postgres' OS user (initdb refuses root)"
            ) from None
        os.chown(directory, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(24)
    server = PostgresServer(
        host="127.0.0.1",
        port=free_port(),
        user=user,
        password=password,
        dbname=dbname,
        directory=directory,
        bin_dir=bin_dir,
        _as_user=as_user,
    )
    server.register_password()
    pwfile = directory / "pwfile"
    try:
        pwfile.write_text(password + "\n")
        if as_user:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        result = subprocess.run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                "-D",
                str(server.data_dir),
                "-U",
                user,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr[-2000:]}")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            pwfile.unlink()
    try:
        server.start()
        _create_database(server)
    except BaseException:
        server.cleanup()
        raise
    return server


def _create_database(server: PostgresServer) -> None:
    import psycopg

    admin = server.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{server.dbname}"')


@contextlib.contextmanager
def postgres_server(*, user: str = "nbcreds", dbname: str = "nbcreds") -> Iterator[PostgresServer]:
    """A running throw-away server for the ``with`` block, then stopped and removed."""
    server = start_postgres(user=user, dbname=dbname)
    try:
        yield server
    finally:
        server.cleanup()


@dataclass
class RoundTrips:
    """What :func:`round_trips` saw: ``count`` client/server round trips."""

    count: int = 0
    messages: list[str] = field(default_factory=list, repr=False)


@contextlib.contextmanager
def round_trips(conn: psycopg.Connection[Any]) -> Iterator[RoundTrips]:
    """Count the round trips ``conn`` makes inside the block, from libpq's protocol trace.

    A round trip ends with the server's ``ReadyForQuery`` message (one per
    ``Sync`` of the extended protocol or per simple ``Query``), so counting those
    counts exactly how many times the client waited for the server.
    """
    import psycopg

    result = RoundTrips()
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield result
        finally:
            conn.pgconn.untrace()  # flushes the trace
            trace.seek(0)
            lines = trace.read().decode("utf-8", "replace").splitlines()
            result.messages = [line.split("\t")[2] for line in lines if line.count("\t") >= 2]
            result.count = sum(
                1 for line in lines if line.startswith("B") and "\tReadyForQuery" in line
            )

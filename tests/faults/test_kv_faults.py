"""KV faults: PostgreSQL (wrong password, a locked table, a killed session), SQLite (a
full disk on a 1 MB tmpfs, damaged rows, a writer killed with SIGKILL), and a key that
is a secret. Each: our type, advice, no secret in the graph, every value old-or-new."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import KVBackendError, KVSecretRefused
from nbcreds._session import session
from nbcreds.testing.postgres import PostgresServer

from .conftest import FaultClock, no_secret_anywhere, says_what_to_do

WriteConfig = Callable[[str], Path]


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def pg(
    pg_server: PostgresServer, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> PostgresServer:
    pg_server.register_password()
    monkeypatch.setenv("NBCREDS_KV_URL", pg_server.url)
    write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\ntimeout = 1\n')
    nbcreds.use_namespace(f"f{uuid.uuid4().hex[:10]}")
    return pg_server


@pytest.mark.postgres
def test_postgres_wrong_password(
    pg_server: PostgresServer,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    fault_clock: FaultClock,
) -> None:
    wrong = "Wrong-" + uuid.uuid4().hex
    url = pg_server.url.replace(pg_server.password, wrong)
    monkeypatch.setenv("NBCREDS_KV_URL", url)
    write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
    with pytest.raises(KVBackendError) as info, fault_clock:
        nbcreds.kv("k", namespace="team", default=None)
    says_what_to_do(str(info.value), "Cannot connect", "[kv] url")
    assert info.value.__context__ is None
    no_secret_anywhere(info.value, [wrong, pg_server.password])


@pytest.mark.postgres
def test_postgres_locked_table_fails_at_the_lock_timeout(
    pg: PostgresServer, fault_clock: FaultClock
) -> None:
    import psycopg

    nbcreds.set_kv("k", "old")
    with psycopg.connect(pg.url) as other:
        other.execute("LOCK TABLE nbcreds_kv IN ACCESS EXCLUSIVE MODE")  # held until commit
        with pytest.raises(KVBackendError) as info, fault_clock:
            nbcreds.set_kv("k", "new")
        other.rollback()
    says_what_to_do(str(info.value), "waited too long", "lock held by another", "[kv] timeout")
    no_secret_anywhere(info.value, [pg.password, pg.url])
    assert nbcreds.kv("k") == "old"  # the refused write changed nothing


@pytest.mark.postgres
def test_postgres_session_killed(pg: PostgresServer, fault_clock: FaultClock) -> None:
    import psycopg

    nbcreds.set_kv("k", "kept")
    with psycopg.connect(pg.url, autocommit=True) as other:
        other.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'nbcreds-kv' AND pid <> pg_backend_pid()"
        )
    with pytest.raises(KVBackendError) as info, fault_clock:
        nbcreds.kv("k")
    says_what_to_do(str(info.value), "Lost the connection", "Retry")
    assert info.value.__context__ is None
    no_secret_anywhere(info.value, [pg.password, pg.url])
    assert nbcreds.kv("k") == "kept"  # reconnects


# --- SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root, as scripts/test runs: it mounts, so the disk is full for
    real -- ENOSPC from the kernel, not a simulated error)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        session().reset()  # close the database before unmounting
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_sqlite_disk_full_says_what_to_do(
    tiny_disk: Path, write_config: WriteConfig, fault_clock: FaultClock
) -> None:
    path = tiny_disk / "kv.sqlite3"
    write_config(f'[kv]\npath = "{path}"\n')
    nbcreds.use_namespace("team")
    written: dict[str, str] = {}
    chunk = "v" * 50_000

    def fill() -> None:
        for i in range(100):
            nbcreds.set_kv(f"k{i}", f"{i}:{chunk}")
            written[f"k{i}"] = f"{i}:{chunk}"

    with pytest.raises(KVBackendError) as info, fault_clock:
        fill()
    says_what_to_do(str(info.value), "is full", "Free space", "[kv] path", str(path))
    assert written, "the disk filled before the first write"
    for key, value in written.items():
        assert nbcreds.kv(key) == value  # every earlier write is intact


@pytest.fixture
def sqlite_kv(write_config: WriteConfig, tmp_path: Path) -> Path:
    path = tmp_path / "kv.sqlite3"
    write_config(f'[kv]\npath = "{path}"\n')
    nbcreds.use_namespace("team")
    return path


@pytest.mark.parametrize(
    ("column", "damage"),
    [("created", -1e300), ("updated", -1e18), ("created", "garbage"), ("expires", "soon")],
)
def test_sqlite_damaged_row_names_the_path(
    column: str, damage: Any, sqlite_kv: Path, fault_clock: FaultClock
) -> None:
    nbcreds.set_kv("cursor", 1)
    with contextlib.closing(sqlite3.connect(sqlite_kv)) as conn, conn:
        conn.execute(f"UPDATE nbcreds_kv SET {column} = ? WHERE key = 'cursor'", (damage,))
    read = (lambda: nbcreds.kv("cursor")) if column == "expires" else nbcreds.kv_entries
    with pytest.raises(KVBackendError) as info, fault_clock:
        read()
    says_what_to_do(str(info.value), str(sqlite_kv), "damaged row", "'cursor'", "delete_kv")


WRITER = textwrap.dedent(
    """
    import sys
    from nbcreds.kvstore import set_kv

    values = ["old" * 100_000, "new" * 100_000]
    i = 0
    while True:
        set_kv("blob", values[i % 2], "team")
        i += 1
        if i == 3:
            print("writing", flush=True)
    """
)


def test_sqlite_writer_killed_leaves_old_or_new(
    sqlite_kv: Path, fault_clock: FaultClock, isolated_nbcreds: Path
) -> None:
    nbcreds.set_kv("blob", "old" * 100_000)
    env = dict(os.environ, NBCREDS_CONFIG=str(isolated_nbcreds / "nbcreds.toml"))
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "writing"
    threading.Event().wait(0.1)
    with fault_clock:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        value = nbcreds.kv("blob")
    child.stdout.close()
    assert value in ("old" * 100_000, "new" * 100_000)
    with contextlib.closing(sqlite3.connect(sqlite_kv)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- a key that is a secret ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["equal", "inside"])
def test_a_key_holding_a_secret_is_refused(
    how: str, sqlite_kv: Path, fault_clock: FaultClock
) -> None:
    secret = "Key_" + uuid.uuid4().hex  # a valid KV key shape
    nbcreds.mask(secret)
    key = secret if how == "equal" else f"cursor_{secret}_x"
    with pytest.raises(KVSecretRefused) as info, fault_clock:
        nbcreds.set_kv(key, 1)
    with pytest.raises(KVSecretRefused):
        nbcreds.put_kv(key, {"a": 1})
    says_what_to_do(str(info.value), "registered secret", "Choose a key")
    no_secret_anywhere(info.value, [secret])
    assert secret.encode() not in sqlite_kv.read_bytes() if sqlite_kv.exists() else True

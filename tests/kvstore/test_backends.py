"""Backend specifics: one PostgreSQL round trip per operation, schemas and migrations."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import KVBackendError, KVConflict, KVValueError
from nbcreds.kvstore import kv_item
from nbcreds.kvstore._api import _store
from nbcreds.testing.postgres import PostgresServer, round_trips

# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg(
    pg_server: PostgresServer,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The PostgreSQL backend, a fresh namespace selected."""
    pg_server.register_password()
    monkeypatch.setenv("NBCREDS_KV_URL", pg_server.url)
    write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
    nbcreds.use_namespace(f"t{uuid.uuid4().hex[:12]}.team")
    return _store()


OPERATIONS: list[tuple[str, Callable[[], object]]] = [
    ("set_kv new", lambda: nbcreds.set_kv("k", 1)),
    ("set_kv update", lambda: nbcreds.set_kv("k", 2, ttl="PT1H", description="d")),
    ("kv hit", lambda: nbcreds.kv("k")),
    ("kv miss", lambda: nbcreds.kv("missing", default=None)),
    ("kv expired (removes it)", lambda: nbcreds.kv("short", default=None)),
    ("kv inherit", lambda: nbcreds.kv("k", inherit=True)),
    ("kv_item", lambda: kv_item("k")),
    ("set_kv if_revision", lambda: nbcreds.set_kv("k", 3, if_revision=2)),
    ("set_kv overwrite=False", lambda: nbcreds.set_kv("new", 1, overwrite=False)),
    ("put_kv new", lambda: nbcreds.put_kv("doc", {"a": {"b": 1}})),
    ("put_kv merge", lambda: nbcreds.put_kv("doc", {"a": {"c": 2}})),
    ("put_kv if_revision", lambda: nbcreds.put_kv("doc", {"d": 1}, if_revision=2)),
    ("kv_keys", lambda: nbcreds.kv_keys("d")),
    ("kv_entries", lambda: nbcreds.kv_entries()),
    ("delete_kv", lambda: nbcreds.delete_kv("new")),
    ("purge_kv", lambda: nbcreds.purge_kv(recursive=True)),
]


@pytest.mark.postgres
def test_each_operation_is_one_round_trip(pg: Any) -> None:
    nbcreds.set_kv("short", 1, ttl="PT0.01S")  # also connects (and migrates) outside the count
    time.sleep(0.05)
    conn = pg.connection()
    counts = {}
    for _repeat in range(2):  # the first run prepares each statement, the second reuses it
        nbcreds.delete_kv("new")
        for name, operation in OPERATIONS:
            if name == "set_kv if_revision":
                nbcreds.set_kv("k", 2)
                revision = kv_item("k").revision
                operation = lambda r=revision: nbcreds.set_kv("k", 3, if_revision=r)  # noqa: E731
            if name == "put_kv if_revision":
                revision = kv_item("doc").revision
                operation = lambda r=revision: nbcreds.put_kv("doc", {"d": 1}, if_revision=r)  # noqa: E731
            with round_trips(conn) as trips:
                operation()
            counts[name] = trips.count
        assert counts == {name: 1 for name, _ in OPERATIONS}


@pytest.mark.postgres
def test_failed_writes_are_one_round_trip_too(pg: Any) -> None:
    nbcreds.set_kv("k", "text")
    conn = pg.connection()
    for operation, error in [
        (lambda: nbcreds.set_kv("k", 1, overwrite=False), KVConflict),
        (lambda: nbcreds.set_kv("k", 1, if_revision=9), KVConflict),
        (lambda: nbcreds.put_kv("k", {"a": 1}), KVValueError),
    ]:
        with round_trips(conn) as trips, pytest.raises(error):
            operation()
        assert trips.count == 1


@pytest.mark.postgres
def test_postgres_schema_is_versioned(pg_server: PostgresServer) -> None:
    import psycopg

    from nbcreds.kvstore._postgres import SCHEMA_VERSION, PostgresBackend

    dbname = f"mig{uuid.uuid4().hex[:8]}"
    admin = pg_server.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = pg_server.url.rsplit("/", 1)[0] + "/" + dbname
    first, second = PostgresBackend(url), PostgresBackend(url)
    try:
        assert (
            first.set(
                "a",
                "k",
                "STRING",
                "v",
                ttl=None,
                description=None,
                create_only=False,
                if_revision=None,
            )
            == 1
        )
        assert second.get("a", "k") == ("STRING", "v")  # a second client finds it migrated
        with psycopg.connect(url, autocommit=True) as conn:
            version = conn.execute("SELECT version FROM nbcreds_kv_schema").fetchall()
            assert version == [(SCHEMA_VERSION,)]
            conn.execute("UPDATE nbcreds_kv_schema SET version = 99")
        newer = PostgresBackend(url)
        with pytest.raises(KVBackendError, match="newer than this nbcreds"):
            newer.get("a", "k")
    finally:
        first.close()
        second.close()


# --- SQLite ----------------------------------------------------------------------------------


def test_sqlite_default_path_is_in_the_user_data_dir(isolated_nbcreds: Path) -> None:
    nbcreds.set_kv("k", 1, namespace="team")
    store = _store()
    assert store.location.endswith("nbcreds/kv.sqlite3")
    assert Path(store.location).is_file()
    assert "data" in Path(store.location).parts  # XDG_DATA_HOME of the isolated test


def test_sqlite_relative_path_is_relative_to_the_config(
    write_config: Callable[[str], Path], isolated_nbcreds: Path
) -> None:
    config = write_config('[kv]\npath = "state/kv.db"\n')
    nbcreds.set_kv("k", 1, namespace="team")
    assert (config.parent / "state" / "kv.db").is_file()


def test_sqlite_uses_wal_and_a_versioned_schema(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    from nbcreds.kvstore._sqlite import SCHEMA_VERSION

    path = tmp_path / "kv.sqlite3"
    config = write_config(f'[kv]\npath = "{path}"\n')
    nbcreds.set_kv("k", 1, namespace="team")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM nbcreds_kv_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        conn.execute("UPDATE nbcreds_kv_schema SET version = 99")
    conn.close()
    nbcreds.load_config(config)  # a new store
    with pytest.raises(KVBackendError, match="newer than this nbcreds"):
        nbcreds.kv("k", namespace="team")


def test_sqlite_migrates_an_empty_file(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    sqlite3.connect(path).close()  # an empty database: schema version 0
    write_config(f'[kv]\npath = "{path}"\n')
    nbcreds.set_kv("k", dt.date(2024, 1, 1), namespace="team")
    assert nbcreds.kv("k", namespace="team") == dt.date(2024, 1, 1)


def test_store_is_rebuilt_when_the_config_reloads(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(f'[kv]\npath = "{tmp_path / "one.db"}"\n')
    nbcreds.set_kv("k", "one", namespace="team")
    first = _store()
    write_config(f'[kv]\npath = "{tmp_path / "two.db"}"\n')
    assert nbcreds.kv("k", namespace="team", default=None) is None
    assert _store() is not first
    assert first._connections == []  # closed by the reload

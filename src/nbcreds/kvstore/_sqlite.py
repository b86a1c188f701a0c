"""The embedded SQLite backend (the default): one file in the user data dir.

Why it is safe for several kernels and threads at once:

- WAL journal: readers never block the writer nor each other;
- every write is ONE statement in autocommit (``INSERT ... ON CONFLICT ... RETURNING``,
  ``UPDATE ... WHERE revision = ? RETURNING``), so compare-and-set is atomic
  without a Python-side lock; the one read-modify-write (``put``) runs in
  ``BEGIN IMMEDIATE``, which takes the write lock up front (no deadlocking upgrade);
- a busy timeout makes a writer wait for another instead of failing at once;
- ``synchronous=NORMAL``: in WAL mode a crash (even SIGKILL of the writer) never
  corrupts the file and leaves the last committed value; only an OS crash can
  lose the last few commits;
- one connection per thread (``sqlite3`` connections are not shareable), and a
  forked child opens its own.

Times are stored as epoch seconds (UTC). The schema is versioned in
``nbcreds_kv_schema`` and migrated forward under the write lock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from time import time as _now
from typing import Any

from .._exceptions import KVBackendError
from ._base import KVBackend, damaged_row, make_entry, not_a_json_object
from ._connections import ConnectionPerThread
from ._types import MAX_EXPIRY_EPOCH, KVEntry, KVType, deep_merge, epoch_to_datetime

__all__ = ["SCHEMA_VERSION", "SqliteBackend"]

_MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS nbcreds_kv (
                ns TEXT NOT NULL,
                key TEXT NOT NULL,
                type TEXT NOT NULL,
                value TEXT NOT NULL,
                revision INTEGER NOT NULL,
                description TEXT,
                created REAL NOT NULL,
                updated REAL NOT NULL,
                expires REAL,
                PRIMARY KEY (ns, key)
            ) WITHOUT ROWID""",
        ),
    ),
]
SCHEMA_VERSION = _MIGRATIONS[-1][0]

_GET = "SELECT type, value, expires FROM nbcreds_kv WHERE ns = ? AND key = ?"
_EXPIRE = "DELETE FROM nbcreds_kv WHERE ns = ? AND key = ? AND expires IS NOT NULL AND expires <= ?"
# ?1 ns ?2 key ?3 type ?4 value ?5 description ?6 now ?7 expires ?8 overwrite (0/1)
_UPSERT = """INSERT INTO nbcreds_kv
    (ns, key, type, value, revision, description, created, updated, expires)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6, ?7)
ON CONFLICT (ns, key) DO UPDATE SET
    type = excluded.type,
    value = excluded.value,
    revision = CASE WHEN nbcreds_kv.expires <= ?6 THEN 1 ELSE nbcreds_kv.revision + 1 END,
    created = CASE WHEN nbcreds_kv.expires <= ?6 THEN ?6 ELSE nbcreds_kv.created END,
    description = CASE WHEN ?5 IS NOT NULL THEN ?5
                       WHEN nbcreds_kv.expires <= ?6 THEN NULL
                       ELSE nbcreds_kv.description END,
    updated = ?6,
    expires = ?7
WHERE ?8 OR nbcreds_kv.expires <= ?6
RETURNING revision"""
_UPDATE_IF = """UPDATE nbcreds_kv SET
    type = ?3, value = ?4, revision = revision + 1, description = coalesce(?5, description),
    updated = ?6, expires = ?7
WHERE ns = ?1 AND key = ?2 AND revision = ?8 AND (expires IS NULL OR expires > ?6)
RETURNING revision"""
_ROW = (
    "SELECT ns, type, value, revision, description, created, updated, expires "
    "FROM nbcreds_kv WHERE ns = ? AND key = ?"
)
_LIVE = "(expires IS NULL OR expires > ?)"


class SqliteBackend(ConnectionPerThread[sqlite3.Connection], KVBackend):
    """KV in one SQLite file (created with its directory on first use)."""

    name = "sqlite"

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.timeout = float(timeout)
        super().__init__()

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KVBackendError(
                f"Cannot create the directory of the KV database {self.path}: "
                f"{exc.strerror}. Set [kv] path to a writable location."
            ) from None
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=64,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self._ready:
                self._setup_waiting(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return self._keep(conn)

    def _setup_waiting(self, conn: sqlite3.Connection) -> None:
        """:meth:`_setup`, one thread at a time, retried while another process holds
        the file: switching to WAL needs the file to itself and SQLite answers
        "locked" at once instead of calling the busy handler, so two kernels opening
        a new database together would otherwise fail."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        with self._setup_lock:
            while not self._ready:
                try:
                    self._setup(conn)
                except sqlite3.OperationalError as exc:
                    busy = "locked" in str(exc).lower() or "busy" in str(exc).lower()
                    if not busy or time.monotonic() >= deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)

    def _setup(self, conn: sqlite3.Connection) -> None:
        """WAL mode (persistent in the file) and the schema, once per process."""
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if self._schema_version(conn) != SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = self._schema_version(conn)
                if current > SCHEMA_VERSION:
                    raise KVBackendError(
                        f"The KV database {self.path} has schema version {current}, newer than "
                        f"this nbcreds understands ({SCHEMA_VERSION}); upgrade nbcreds."
                    )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS nbcreds_kv_schema (version INTEGER NOT NULL)"
                )
                for version, statements in _MIGRATIONS:
                    if version > current:
                        for statement in statements:
                            conn.execute(statement)
                conn.execute("DELETE FROM nbcreds_kv_schema")
                conn.execute(
                    "INSERT INTO nbcreds_kv_schema (version) VALUES (?)", (SCHEMA_VERSION,)
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._ready = True

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        try:
            row = conn.execute("SELECT max(version) FROM nbcreds_kv_schema").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise
        return int(row[0] or 0)

    def _error(self, exc: sqlite3.Error) -> KVBackendError:
        """A clear error naming the file (SQLite messages hold no values)."""
        text = str(exc)
        low = text.lower()
        if "locked" in low or "busy" in low:
            message = (
                f"The KV database {self.path} is locked by another process or connection "
                f"(waited {self.timeout:g}s). Retry; if it persists, look for a long-running "
                "transaction holding it, or raise [kv] busy_timeout."
            )
        elif "readonly" in low or "read-only" in low:
            message = (
                f"The KV database {self.path} is read-only: make the file and its directory "
                "writable, or set [kv] path to a writable file."
            )
        elif "not a database" in low or "malformed" in low or "corrupt" in low:
            message = (
                f"The KV database {self.path} is corrupt or not a SQLite database ({text}). "
                "Move it aside (nbcreds starts a new one) or restore a backup; [kv] path "
                "chooses another file."
            )
        elif "disk is full" in low or "disk full" in low:
            message = (
                f"The disk holding the KV database {self.path} is full: nothing was written "
                "(the old value is kept). Free space on that disk, or set [kv] path to a "
                "file on another one."
            )
        elif "unable to open" in low:
            message = (
                f"Cannot open the KV database {self.path} ({text}): check that the file and "
                "its directory are readable and writable, or set [kv] path."
            )
        else:
            message = f"The KV database {self.path} failed: {text}."
        return KVBackendError(message)

    # --- reads ---------------------------------------------------------------------------

    def change_marker(self) -> object | None:
        """``PRAGMA data_version`` of this thread's connection: it changes whenever another
        connection (another thread, kernel or process) commits -- one cheap read, no I/O
        on the table."""
        try:
            row = self._conn().execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return (str(self.path), row[0])

    def get(self, namespace: str, key: str) -> Sequence[Any] | None:
        try:
            conn = getattr(self._local, "conn", None) or self._connect()
            row = conn.execute(_GET, (namespace, key)).fetchone()
            if row is None:
                return None
            if row[2] is not None and _expired(row[2], _now(), self.path, namespace, key):
                conn.execute(_EXPIRE, (namespace, key, _now())).fetchall()
                return None
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return row  # type: ignore[no-any-return]  # (type, value, expires): no copy, hot path

    def _rows(self, namespaces: Sequence[str], key: str, columns: str) -> list[Any]:
        """Live rows of ``key`` in ``namespaces``, nearest (first listed) first."""
        marks = ", ".join("?" * len(namespaces))
        conn = self._conn()
        now = _now()
        rows = conn.execute(
            f"SELECT {columns}, expires FROM nbcreds_kv WHERE key = ? AND ns IN ({marks})",  # noqa: S608
            (key, *namespaces),
        ).fetchall()
        live = []
        for row in rows:
            if row[-1] is not None and _expired(row[-1], now, self.path, row[0], key):
                conn.execute(_EXPIRE, (row[0], key, now)).fetchall()
            else:
                live.append(row)
        order = {ns: i for i, ns in enumerate(namespaces)}
        live.sort(key=lambda row: order[row[0]])
        return live

    def get_first(self, namespaces: Sequence[str], key: str) -> tuple[str, str, str] | None:
        try:
            rows = self._rows(namespaces, key, "ns, type, value")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return (rows[0][1], rows[0][2], rows[0][0]) if rows else None

    def get_item(self, namespaces: Sequence[str], key: str) -> tuple[str, KVEntry] | None:
        try:
            rows = self._rows(
                namespaces, key, "ns, type, value, revision, description, created, updated"
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if not rows:
            return None
        ns, kind, text, revision, description, created, updated, expires = rows[0]
        return text, make_entry(
            epoch_to_datetime,
            key,
            ns,
            kind,
            revision,
            description,
            created,
            updated,
            expires,
            where=str(self.path),
        )

    def _listing(self, columns: str, namespace: str, prefix: str | None) -> list[Any]:
        """``columns`` of the namespace's live keys starting with ``prefix``, sorted by key."""
        sql = f"SELECT {columns} FROM nbcreds_kv WHERE ns = ? AND {_LIVE}"  # noqa: S608
        params: tuple[Any, ...] = (namespace, _now())
        if prefix:
            sql += " AND substr(key, 1, ?) = ?"
            params += (len(prefix), prefix)
        try:
            return self._conn().execute(sql + " ORDER BY key", params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def keys(self, namespace: str, prefix: str | None) -> list[str]:
        return [row[0] for row in self._listing("key", namespace, prefix)]

    def entries(self, namespace: str, prefix: str | None) -> list[KVEntry]:
        rows = self._listing(
            "key, type, revision, description, created, updated, expires", namespace, prefix
        )
        where = str(self.path)
        return [
            make_entry(epoch_to_datetime, row[0], namespace, *row[1:], where=where) for row in rows
        ]

    # --- writes --------------------------------------------------------------------------

    def set(
        self,
        namespace: str,
        key: str,
        kind: str,
        text: str,
        *,
        ttl: float | None,
        description: str | None,
        create_only: bool,
        if_revision: int | None,
    ) -> int | None:
        now = _now()
        expires = None if ttl is None else min(now + ttl, MAX_EXPIRY_EPOCH)
        try:
            conn = getattr(self._local, "conn", None) or self._connect()
            if if_revision:
                rows = conn.execute(
                    _UPDATE_IF, (namespace, key, kind, text, description, now, expires, if_revision)
                ).fetchall()
            else:
                rows = conn.execute(
                    _UPSERT,
                    (
                        namespace,
                        key,
                        kind,
                        text,
                        description,
                        now,
                        expires,
                        0 if create_only or if_revision == 0 else 1,
                    ),
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return rows[0][0] if rows else None

    def put(
        self,
        namespace: str,
        key: str,
        patch: str,
        *,
        ttl: float | None,
        description: str | None,
        create_only: bool,
        if_revision: int | None,
    ) -> int | None:
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._put(
                    conn, namespace, key, patch, ttl, description, create_only, if_revision
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return result

    def _put(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        key: str,
        patch: str,
        ttl: float | None,
        description: str | None,
        create_only: bool,
        if_revision: int | None,
    ) -> int | None:
        now = _now()
        expires = None if ttl is None else min(now + ttl, MAX_EXPIRY_EPOCH)
        row = conn.execute(
            "SELECT type, value, revision, expires FROM nbcreds_kv WHERE ns = ? AND key = ?",
            (namespace, key),
        ).fetchone()
        live = row is not None and (row[3] is None or row[3] > now)
        if not live:
            if if_revision:
                return None
            conn.execute(
                "INSERT OR REPLACE INTO nbcreds_kv (ns, key, type, value, revision, description, "
                "created, updated, expires) VALUES (?, ?, 'JSON', ?, 1, ?, ?, ?, ?)",
                (namespace, key, patch, description, now, now, expires),
            )
            return 1
        if create_only or if_revision == 0:
            return None
        if if_revision is not None and row[2] != if_revision:
            return None
        base = json.loads(row[1]) if row[0] == KVType.JSON else None
        if not isinstance(base, dict):
            raise not_a_json_object(namespace, key, row[0])
        merged = json.dumps(
            deep_merge(base, json.loads(patch)), ensure_ascii=False, separators=(",", ":")
        )
        conn.execute(
            "UPDATE nbcreds_kv SET value = ?, revision = revision + 1, "
            "description = coalesce(?, description), updated = ?, expires = ? "
            "WHERE ns = ? AND key = ?",
            (merged, description, now, expires, namespace, key),
        )
        return int(row[2]) + 1

    def delete(self, namespace: str, key: str) -> bool:
        try:
            rows = (
                self._conn()
                .execute(
                    "DELETE FROM nbcreds_kv WHERE ns = ? AND key = ? RETURNING expires",
                    (namespace, key),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return bool(rows) and (rows[0][0] is None or rows[0][0] > _now())

    def purge(self, namespace: str, *, expired_only: bool, recursive: bool) -> int:
        sql = "DELETE FROM nbcreds_kv WHERE "
        params: tuple[Any, ...]
        if recursive:
            sql += "(ns = ? OR substr(ns, 1, ?) = ?)"
            params = (namespace, len(namespace) + 1, namespace + ".")
        else:
            sql += "ns = ?"
            params = (namespace,)
        if expired_only:
            sql += " AND expires IS NOT NULL AND expires <= ?"
            params += (_now(),)
        try:
            return self._conn().execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise self._error(exc) from None


def _expired(expires: Any, now: float, path: Path, namespace: str, key: str) -> bool:
    """``expires <= now``; a damaged (non-number) expiry is a KVBackendError."""
    if isinstance(expires, int | float):
        return bool(expires <= now)
    raise damaged_row(str(path), namespace, key)

"""The PostgreSQL backend (psycopg 3): the shared KV store when a team outgrows one machine.

Every operation is exactly ONE round trip: a single SQL statement, with
data-modifying CTEs where an operation has several parts -- a read also
removes the expired key it finds (``WITH gone AS (DELETE ...) SELECT ...``),
``put`` deep-merges in SQL (the ``nbcreds_kv_merge`` function, created by the
schema migration) so it needs no read-modify-write from Python, and
compare-and-set is ``UPDATE ... WHERE revision = %s RETURNING``. Statements
are server-prepared on first use (``prepare_threshold=0``) and sent in pipeline
mode, so the ``Parse`` of the prepared statement travels with its first
execution instead of costing a round trip of its own; later executions skip
parsing and planning on the server.

Times come from the server's clock (``now()``), so machines with skewed
clocks agree on expiry. The URL may hold a password: it is registered with the
masker, and error messages carry ``host:port/dbname`` only.

psycopg is imported inside functions: ``import nbcreds.kvstore`` stays light.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import KVBackendError
from .._text import server_text
from ..masking import registry
from ._base import KVBackend, make_entry, not_a_json_object
from ._connections import ConnectionPerThread
from ._types import MAX_EXPIRY, KVEntry

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA_VERSION", "PostgresBackend"]

_MERGE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION nbcreds_kv_merge(base json, patch json) RETURNS json
LANGUAGE sql IMMUTABLE AS $fn$
SELECT CASE
  WHEN json_typeof(base) IS DISTINCT FROM 'object' OR json_typeof(patch) IS DISTINCT FROM 'object'
    THEN patch
  ELSE (
    SELECT coalesce(json_object_agg(m.k, m.v ORDER BY m.o1, m.o2), '{}'::json)
    FROM (
      SELECT a.key AS k,
             CASE WHEN b.key IS NULL THEN a.value ELSE nbcreds_kv_merge(a.value, b.value) END AS v,
             0 AS o1, a.ord AS o2
      FROM json_each(base) WITH ORDINALITY AS a(key, value, ord)
      LEFT JOIN json_each(patch) AS b(key, value) ON b.key = a.key
      UNION ALL
      SELECT b.key, b.value, 1, b.ord
      FROM json_each(patch) WITH ORDINALITY AS b(key, value, ord)
      WHERE NOT EXISTS (SELECT 1 FROM json_each(base) AS x(key, value) WHERE x.key = b.key)
    ) AS m
  )
END
$fn$"""

_MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS nbcreds_kv (
                ns text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                type text NOT NULL,
                value text NOT NULL,
                revision bigint NOT NULL,
                description text,
                created timestamptz NOT NULL,
                updated timestamptz NOT NULL,
                expires timestamptz,
                PRIMARY KEY (ns, key)
            )""",
            _MERGE_FUNCTION,
        ),
    ),
]
SCHEMA_VERSION = _MIGRATIONS[-1][0]
_CHANNEL = "nbcreds_kv"  # LISTEN/NOTIFY channel of every write (live sidebars)
_LOCK_ID = 0x6E6263726564  # "nbcred": serializes concurrent migrations (advisory lock)

_MAX = f"'{MAX_EXPIRY.isoformat()}'::timestamptz"
# TTL seconds -> expiry, clamped (a huge TTL is accepted, Kestra #4479)
_EXPIRES = (
    "CASE WHEN %(ttl)s::float8 IS NULL THEN NULL "
    f"ELSE least(now() + %(ttl)s::float8 * interval '1 second', {_MAX}) END"
)
_LIVE = "(expires IS NULL OR expires > now())"

_GET = f"""WITH gone AS (
    DELETE FROM nbcreds_kv WHERE ns = %(ns)s AND key = %(key)s AND expires <= now()
)
SELECT type, value FROM nbcreds_kv WHERE ns = %(ns)s AND key = %(key)s AND {_LIVE}"""  # noqa: S608

_FIRST_COLUMNS = "type, value, ns"
_ITEM_COLUMNS = "type, value, ns, revision, description, created, updated, expires"
_NEAREST = """WITH gone AS (
    DELETE FROM nbcreds_kv WHERE ns = ANY(%(nss)s) AND key = %(key)s AND expires <= now()
)
SELECT {columns} FROM nbcreds_kv
WHERE ns = ANY(%(nss)s) AND key = %(key)s AND (expires IS NULL OR expires > now())
ORDER BY length(ns) DESC LIMIT 1"""

_UPSERT = f"""INSERT INTO nbcreds_kv AS t
    (ns, key, type, value, revision, description, created, updated, expires)
VALUES (%(ns)s, %(key)s, %(type)s, %(value)s, 1, %(desc)s::text, now(), now(), {_EXPIRES})
ON CONFLICT (ns, key) DO UPDATE SET
    type = EXCLUDED.type,
    value = EXCLUDED.value,
    revision = CASE WHEN t.expires <= now() THEN 1 ELSE t.revision + 1 END,
    created = CASE WHEN t.expires <= now() THEN now() ELSE t.created END,
    description = CASE WHEN %(desc)s::text IS NOT NULL THEN %(desc)s::text
                       WHEN t.expires <= now() THEN NULL ELSE t.description END,
    updated = now(),
    expires = EXCLUDED.expires
WHERE %(overwrite)s OR t.expires <= now()
RETURNING revision"""  # noqa: S608

_UPDATE_IF = f"""UPDATE nbcreds_kv SET
    type = %(type)s, value = %(value)s, revision = revision + 1,
    description = coalesce(%(desc)s::text, description), updated = now(), expires = {_EXPIRES}
WHERE ns = %(ns)s AND key = %(key)s AND revision = %(rev)s AND {_LIVE}
RETURNING revision"""  # noqa: S608

_IS_OBJECT = "CASE WHEN {t}type = 'JSON' THEN json_typeof({t}value::json) = 'object' ELSE false END"
_CURRENT = f"""cur AS (
    SELECT type, {_IS_OBJECT.format(t="")} AS is_object
    FROM nbcreds_kv WHERE ns = %(ns)s AND key = %(key)s AND {_LIVE}
)"""  # noqa: S608
_PUT_RESULT = """SELECT (SELECT revision FROM up), (SELECT type FROM cur),
       (SELECT is_object FROM cur)"""

_PUT_UPSERT = f"""WITH {_CURRENT}, up AS (
    INSERT INTO nbcreds_kv AS t
        (ns, key, type, value, revision, description, created, updated, expires)
    VALUES (%(ns)s, %(key)s, 'JSON', %(value)s, 1, %(desc)s::text, now(), now(), {_EXPIRES})
    ON CONFLICT (ns, key) DO UPDATE SET
        type = 'JSON',
        value = CASE WHEN t.expires <= now() THEN EXCLUDED.value
                     ELSE nbcreds_kv_merge(t.value::json, EXCLUDED.value::json)::text END,
        revision = CASE WHEN t.expires <= now() THEN 1 ELSE t.revision + 1 END,
        created = CASE WHEN t.expires <= now() THEN now() ELSE t.created END,
        description = CASE WHEN %(desc)s::text IS NOT NULL THEN %(desc)s::text
                           WHEN t.expires <= now() THEN NULL ELSE t.description END,
        updated = now(),
        expires = EXCLUDED.expires
    WHERE t.expires <= now() OR (%(overwrite)s AND {_IS_OBJECT.format(t="t.")})
    RETURNING revision
)
{_PUT_RESULT}"""  # noqa: S608

_PUT_IF = f"""WITH {_CURRENT}, up AS (
    UPDATE nbcreds_kv AS t SET
        value = nbcreds_kv_merge(t.value::json, %(value)s::json)::text,
        revision = t.revision + 1,
        description = coalesce(%(desc)s::text, t.description),
        updated = now(),
        expires = {_EXPIRES}
    WHERE t.ns = %(ns)s AND t.key = %(key)s AND t.revision = %(rev)s
      AND (t.expires IS NULL OR t.expires > now()) AND {_IS_OBJECT.format(t="t.")}
    RETURNING revision
)
{_PUT_RESULT}"""  # noqa: S608

_DELETE = (
    "DELETE FROM nbcreds_kv WHERE ns = %(ns)s AND key = %(key)s "
    "RETURNING (expires IS NULL OR expires > now())"
)
_PREFIX = "(%(prefix)s::text IS NULL OR starts_with(key, %(prefix)s::text))"
_KEYS = f"SELECT key FROM nbcreds_kv WHERE ns = %(ns)s AND {_LIVE} AND {_PREFIX} ORDER BY key"  # noqa: S608
_ENTRIES = (
    "SELECT key, type, revision, description, created, updated, expires FROM nbcreds_kv "  # noqa: S608
    f"WHERE ns = %(ns)s AND {_LIVE} AND {_PREFIX} ORDER BY key"
)
_PURGE = """DELETE FROM nbcreds_kv
WHERE (ns = %(ns)s OR (%(recursive)s AND starts_with(ns, %(ns)s || '.')))
  AND (NOT %(expired_only)s OR expires <= now())"""


def _session_options(timeout: float) -> str:
    """libpq ``options``: every statement of the session ends within ``timeout``
    (``statement_timeout``), and a wait for another session's lock within 90 % of it
    (``lock_timeout``: shorter, so a lock wait is reported as one)."""
    statement = max(1, round(timeout * 1000))
    lock = max(1, round(timeout * 900))
    return f"-c statement_timeout={statement} -c lock_timeout={lock}"


class PostgresBackend(ConnectionPerThread["psycopg.Connection[Any]"], KVBackend):
    """KV in a PostgreSQL database (tables ``nbcreds_kv`` and ``nbcreds_kv_schema``)."""

    name = "postgres"

    def __init__(self, url: str, *, connect_timeout: float = 10.0, timeout: float = 30.0) -> None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(url)
        except Exception:  # the parser's message may quote the URL
            raise KVBackendError(
                "The PostgreSQL KV url is not a valid connection string; expected "
                "postgresql://user:password@host:port/dbname."
            ) from None
        self._url = url
        self._password = str(params.get("password") or "")
        registry.register(url, "KV url")
        if self._password:
            registry.register(self._password, "KV url password")
        host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
        port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
        dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or "")
        self.host, self.port = host, port
        self.location = f"{host}:{port}" + (f"/{dbname}" if dbname else "")
        self.connect_timeout = connect_timeout
        #: statement_timeout and lock_timeout of every session: no statement runs, or
        #: waits behind another session's lock, longer than this
        self.timeout = timeout
        super().__init__()

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.location}>"

    # --- connections ---------------------------------------------------------------------

    def _reason(self, exc: BaseException) -> str:
        """The first line of the server's message, masked (the URL and its password are
        registered) before it is cut."""
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return server_text(lines[0] if lines else type(exc).__name__)

    def _timed_out(self, exc: BaseException, doing: str) -> KVBackendError | None:
        """Our error when ``exc`` is the session's statement or lock timeout, else None.

        Errors are built from copied text and raised by the caller outside its
        ``except`` block: psycopg's error holds the connection, whose repr shows the
        password."""
        import psycopg.errors

        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return KVBackendError(
                f"The PostgreSQL KV store at {self.location} waited too long (the [kv] timeout "
                f"is {self.timeout:g}s) for a lock held by another session ({doing}). Retry "
                "once it is released "
                "(look for a long transaction or a LOCK TABLE on nbcreds_kv), or raise [kv] "
                "timeout."
            )
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return KVBackendError(
                f"The PostgreSQL KV store at {self.location} did not answer within "
                f"{self.timeout:g}s ({doing}). Check the server's load, or raise [kv] timeout."
            )
        return None

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        failure: KVBackendError | None = None
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                prepare_threshold=0,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="nbcreds-kv",
                options=_session_options(self.timeout),
            )
        except psycopg.Error as exc:
            failure = KVBackendError(
                f"Cannot connect to the PostgreSQL KV store at {self.location}: "
                f"{self._reason(exc)}. Check that the server is running and [kv] url."
            )
        if failure is not None:
            raise failure
        try:
            if not self._ready:
                self._migrate(conn)
        except psycopg.Error as exc:
            failure = self._timed_out(exc, "preparing the KV schema") or KVBackendError(
                f"Cannot prepare the KV schema in the PostgreSQL database at {self.location}: "
                f"{self._reason(exc)}. The user needs CREATE rights on the database."
            )
        except BaseException:
            conn.close()
            raise
        if failure is not None:
            conn.close()
            raise failure
        return self._keep(conn)

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` (advisory lock: one migrator at a time)."""
        if self._schema_version(conn) != SCHEMA_VERSION:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                current = self._schema_version(conn)
                if current > SCHEMA_VERSION:
                    raise KVBackendError(
                        f"The PostgreSQL KV store at {self.location} has schema version "
                        f"{current}, newer than this nbcreds understands ({SCHEMA_VERSION}); "
                        "upgrade nbcreds."
                    )
                conn.execute("CREATE TABLE IF NOT EXISTS nbcreds_kv_schema (version integer)")
                for version, statements in _MIGRATIONS:
                    if version > current:
                        for statement in statements:
                            conn.execute(statement)
                conn.execute("DELETE FROM nbcreds_kv_schema")
                conn.execute(
                    "INSERT INTO nbcreds_kv_schema (version) VALUES (%s)", (SCHEMA_VERSION,)
                )
        self._ready = True

    @staticmethod
    def _schema_version(conn: psycopg.Connection[Any]) -> int:
        exists = conn.execute("SELECT to_regclass('nbcreds_kv_schema') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute("SELECT max(version) FROM nbcreds_kv_schema").fetchone()
        return int(row[0] or 0) if row else 0

    def _run(
        self, sql: str, params: dict[str, Any], *, notify: bool = False
    ) -> list[tuple[Any, ...]]:
        """One statement, one round trip. A lost connection is dropped (the next call
        reconnects) and reported with host and port. ``notify``: a write -- the same
        round trip sends ``NOTIFY nbcreds_kv`` so other kernels' watchers hear it."""
        import psycopg

        conn = getattr(self._local, "conn", None) or self._connect()
        failure: KVBackendError | None = None
        try:
            with conn.pipeline():  # Parse (first time) + Bind + Execute + Sync: one round trip
                cursor = conn.execute(sql, params)
                if notify:
                    conn.execute("SELECT pg_notify(%s, %s)", (_CHANNEL, params.get("ns", "")))
            return cursor.fetchall() if cursor.description is not None else [(cursor.rowcount,)]
        except psycopg.Error as exc:
            failure = self._classify(exc, conn)
        raise failure

    def _classify(self, exc: psycopg.Error, conn: psycopg.Connection[Any]) -> KVBackendError:
        import psycopg.errors

        timed_out = self._timed_out(exc, "running a statement")
        if timed_out is not None:
            return timed_out
        if isinstance(exc, psycopg.OperationalError):
            self._drop(conn)
            return KVBackendError(
                f"Lost the connection to the PostgreSQL KV store at {self.location}: "
                f"{self._reason(exc)}. Retry once the server is back."
            )
        if conn.broken:
            self._drop(conn)
        return KVBackendError(
            f"The PostgreSQL KV store at {self.location} failed: {self._reason(exc)}."
        )

    def connection(self) -> psycopg.Connection[Any]:
        """This thread's connection (opened on first use): for diagnostics such as
        counting round trips with :func:`nbcreds.testing.postgres.round_trips`."""
        return self._conn()

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        if getattr(self._local, "conn", None) is conn:
            del self._local.conn
        with contextlib.suppress(Exception):  # already broken; nothing to report
            conn.close()

    # --- operations ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Sequence[Any] | None:
        rows = self._run(_GET, {"ns": namespace, "key": key})
        return rows[0] if rows else None

    def get_first(self, namespaces: Sequence[str], key: str) -> tuple[str, str, str] | None:
        rows = self._run(
            _NEAREST.format(columns=_FIRST_COLUMNS), {"nss": list(namespaces), "key": key}
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def get_item(self, namespaces: Sequence[str], key: str) -> tuple[str, KVEntry] | None:
        rows = self._run(
            _NEAREST.format(columns=_ITEM_COLUMNS), {"nss": list(namespaces), "key": key}
        )
        if not rows:
            return None
        kind, text, ns, revision, description, created, updated, expires = rows[0]
        entry = make_entry(
            _utc,
            key,
            ns,
            kind,
            revision,
            description,
            created,
            updated,
            expires,
            where=self.location,
        )
        return text, entry

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
        params: dict[str, Any] = {
            "ns": namespace,
            "key": key,
            "type": kind,
            "value": text,
            "desc": description,
            "ttl": ttl,
        }
        if if_revision:
            params["rev"] = if_revision
            rows = self._run(_UPDATE_IF, params, notify=True)
        else:
            params["overwrite"] = not (create_only or if_revision == 0)
            rows = self._run(_UPSERT, params, notify=True)
        return int(rows[0][0]) if rows else None

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
        params: dict[str, Any] = {
            "ns": namespace,
            "key": key,
            "value": patch,
            "desc": description,
            "ttl": ttl,
        }
        if if_revision:
            params["rev"] = if_revision
            rows = self._run(_PUT_IF, params, notify=True)
        else:
            params["overwrite"] = not (create_only or if_revision == 0)
            rows = self._run(_PUT_UPSERT, params, notify=True)
        revision, current_type, is_object = rows[0]
        if revision is not None:
            return int(revision)
        if current_type is not None and not is_object and not (create_only or if_revision == 0):
            raise not_a_json_object(namespace, key, current_type)
        return None

    def delete(self, namespace: str, key: str) -> bool:
        rows = self._run(_DELETE, {"ns": namespace, "key": key}, notify=True)
        return bool(rows) and bool(rows[0][0])

    def change_marker(self) -> object | None:
        """How many ``nbcreds_kv`` notices this thread's connection heard (it LISTENs
        from the first call): every nbcreds writer, in any kernel, sends one with its
        write. One ``SELECT 1`` round trip makes the connection read pending notices."""
        conn = getattr(self._local, "conn", None) or self._connect()
        if getattr(self._local, "listening", None) is not conn:
            heard = [0]

            def count(_notice: Any) -> None:
                heard[0] += 1

            conn.add_notify_handler(count)
            self._run(f"LISTEN {_CHANNEL}", {})
            self._local.listening = conn
            self._local.heard = heard
        self._run("SELECT 1", {})
        return (self.location, id(conn), self._local.heard[0])

    def keys(self, namespace: str, prefix: str | None) -> list[str]:
        return [row[0] for row in self._run(_KEYS, {"ns": namespace, "prefix": prefix or None})]

    def entries(self, namespace: str, prefix: str | None) -> list[KVEntry]:
        rows = self._run(_ENTRIES, {"ns": namespace, "prefix": prefix or None})
        where = self.location
        return [make_entry(_utc, row[0], namespace, *row[1:], where=where) for row in rows]

    def purge(self, namespace: str, *, expired_only: bool, recursive: bool) -> int:
        rows = self._run(
            _PURGE,
            {"ns": namespace, "recursive": recursive, "expired_only": expired_only},
            notify=True,
        )
        return int(rows[0][0])


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value.astimezone(_dt.UTC)

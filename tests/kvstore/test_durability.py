"""Concurrency and durability: separate processes, SIGKILL, bad files, a server going down."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import KVBackendError
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.postgres import free_port, start_postgres

COUNTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nbcreds import KVConflict
    from nbcreds.kvstore import kv_item, set_kv

    ns, n, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    done = conflicts = 0
    while done < n:
        item = kv_item("counter", ns, default=0)
        try:
            set_kv("counter", item.value + 1, ns, if_revision=item.revision)
            done += 1
        except KVConflict:
            conflicts += 1
    print(conflicts, flush=True)
    """
)


def test_two_processes_compare_and_set_a_counter(backend: Any, ns: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, ns, "1000", str(go)],
            env=backend.child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [child.communicate(timeout=240) for child in children]
    finally:
        for child in children:
            child.kill()
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-2000:]
        assert int(out.strip()) >= 0
    assert nbcreds.kv("counter") == 2000
    assert nbcreds.kv_entries()[0].revision == 2000


WRITER = textwrap.dedent(
    """
    import sys
    from nbcreds.kvstore import put_kv, set_kv

    ns = sys.argv[1]
    values = ["a" * 300_000, "b" * 300_000]
    i = 0
    while True:
        set_kv("blob", values[i % 2], ns)
        put_kv("doc", {"n": i, "pad": values[i % 2][:50_000]}, ns)
        i += 1
        if i == 3:
            print("writing", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_sigkill_mid_write_leaves_old_or_new_value(backend: Any, ns: str, delay: float) -> None:
    nbcreds.set_kv("blob", "a" * 300_000)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, ns],
        env=backend.child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "writing", child.stderr.read() if child.stderr else ""
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert nbcreds.kv("blob") in ("a" * 300_000, "b" * 300_000)
    doc = nbcreds.kv("doc")
    assert doc["pad"] in ("a" * 50_000, "b" * 50_000)
    assert doc["n"] >= 2
    nbcreds.set_kv("blob", "after")  # and still writable
    assert nbcreds.kv("blob") == "after"
    if backend.name == "sqlite":
        path = backend.config_path.parent / "kv.sqlite3"
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


# --- SQLite: read-only, locked, corrupt ------------------------------------------------------


def _sqlite_config(write_config: Callable[[str], Path], path: Path, extra: str = "") -> None:
    write_config(f'[kv]\npath = "{path}"\n{extra}')


def test_locked_database_names_the_path(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    path = tmp_path / "kv.sqlite3"
    _sqlite_config(write_config, path, "busy_timeout = 0.2\n")
    nbcreds.set_kv("k", 1, namespace="team")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(KVBackendError) as err:
            nbcreds.set_kv("k", 2, namespace="team")
        assert str(path) in str(err.value)
        assert "locked" in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert nbcreds.set_kv("k", 3, namespace="team") == 2  # fine once released


def test_corrupt_file_names_the_path(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    path.write_bytes(b"this is not a database, just garbage " * 200)
    _sqlite_config(write_config, path)
    with pytest.raises(KVBackendError) as err:
        nbcreds.kv("k", namespace="team", default=None)
    assert str(path) in str(err.value)
    assert "corrupt" in str(err.value)
    with pytest.raises(KVBackendError):
        nbcreds.set_kv("k", 1, namespace="team")


def test_unopenable_path_names_the_path(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = blocker / "sub" / "kv.sqlite3"  # a directory cannot be made under a file
    _sqlite_config(write_config, path)
    with pytest.raises(KVBackendError) as err:
        nbcreds.set_kv("k", 1, namespace="team")
    assert str(path) in str(err.value)


def _write_as_unprivileged(path: Path) -> str:
    """Try a write to ``path``; as root (who ignores file modes) from a forked child
    that drops to the 'nobody' user first. Returns the outcome as text."""
    from nbcreds.kvstore._sqlite import SqliteBackend

    def attempt() -> str:
        store = SqliteBackend(path)
        try:
            store.set(
                "team",
                "k",
                "NUMBER",
                "2",
                ttl=None,
                description=None,
                create_only=False,
                if_revision=None,
            )
        except KVBackendError as exc:
            return f"ERROR {exc}"
        finally:
            store.close()
        return "WROTE"

    if os.geteuid() != 0:
        return attempt()
    import pwd

    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            outcome = attempt()
        except BaseException as exc:
            outcome = f"CRASH {type(exc).__name__}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_read_only_database_names_the_path() -> None:
    directory = Path(tempfile.mkdtemp(prefix="nbcreds-ro-"))
    try:
        directory.chmod(0o755)  # traversable by 'nobody'
        path = directory / "kv.sqlite3"
        from nbcreds.kvstore._sqlite import SqliteBackend

        store = SqliteBackend(path)
        store.set(
            "team",
            "k",
            "NUMBER",
            "1",
            ttl=None,
            description=None,
            create_only=False,
            if_revision=None,
        )
        store.close()
        path.chmod(0o444)
        directory.chmod(0o555)
        outcome = _write_as_unprivileged(path)
        assert outcome.startswith("ERROR"), outcome
        assert str(path) in outcome
        assert "read-only" in outcome or "Cannot open" in outcome
    finally:
        directory.chmod(0o755)
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


# --- PostgreSQL: server down ------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_unreachable_names_host_and_port_not_password(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    port = free_port()  # nothing listens there
    password = "Pw-" + os.urandom(12).hex()
    monkeypatch.setenv("NBCREDS_KV_URL", f"postgresql://kvuser:{password}@127.0.0.1:{port}/kv")
    write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\nconnect_timeout = 2\n')
    with pytest.raises(KVBackendError) as err:
        nbcreds.kv("k", namespace="team", default=None)
    text = str(err.value) + "".join(traceback.format_exception(err.value))
    assert f"127.0.0.1:{port}" in str(err.value)
    assert_no_leak(text, [password])
    assert password in nbcreds.masking.registry  # the URL's password is masked


@pytest.mark.postgres
def test_postgres_going_down_and_back(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    server = start_postgres()  # its own: it is stopped (the session's pg_server stays up)
    try:
        monkeypatch.setenv("NBCREDS_KV_URL", server.url)
        write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
        nbcreds.set_kv("k", "before", namespace="team")
        server.stop()
        with pytest.raises(KVBackendError) as err:
            nbcreds.kv("k", namespace="team")
        text = str(err.value) + "".join(traceback.format_exception(err.value))
        assert f"127.0.0.1:{server.port}" in str(err.value)
        assert_no_leak(text, [server.password])
        server.start()
        assert nbcreds.kv("k", namespace="team") == "before"  # reconnects by itself
    finally:
        server.cleanup()

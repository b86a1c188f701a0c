"""KV store benchmark: nbcreds on SQLite vs diskcache vs raw sqlite3, and PostgreSQL round trips.

One run, side by side: each contender runs in alternating rounds on the same
machine, and the best round of each is kept (the machine is shared and noisy;
the best round is the least disturbed one). All three SQLite contenders use
WAL with ``synchronous=NORMAL`` (diskcache's defaults) in autocommit.

    python benchmarks/kv.py            # about a minute
    python benchmarks/kv.py --ops 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import diskcache

import nbcreds
from nbcreds.kvstore import kv_item
from nbcreds.kvstore._api import _store

KEYS = 1000


def best_rate(runs: list[float], ops: int) -> float:
    return ops / min(runs)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sqlite_side_by_side(ops: int, rounds: int, workdir: Path) -> None:
    keys = [f"key-{i}" for i in range(KEYS)]
    # every write changes its row (SQLite skips rewriting a page whose bytes are unchanged,
    # which would flatter the raw upsert)
    pairs = [(keys[i % KEYS], f"value-{i}-{'x' * 16}") for i in range(ops)]
    only_keys = [k for k, _ in pairs]

    config = workdir / "nbcreds.toml"
    config.write_text(f'[kv]\npath = "{workdir / "nbcreds-kv.sqlite3"}"\n')
    nbcreds.load_config(config)
    nbcreds.use_namespace("bench.kv")
    set_kv, kv = nbcreds.set_kv, nbcreds.kv

    cache = diskcache.Cache(str(workdir / "diskcache"))  # WAL + synchronous=NORMAL by default
    assert cache.sqlite_journal_mode == "wal"
    assert cache.sqlite_synchronous == 1

    raw = sqlite3.connect(workdir / "raw.sqlite3", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = NORMAL")
    raw.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    upsert = (
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    select = "SELECT value FROM kv WHERE key = ?"

    def nb_set() -> None:
        for key, value in pairs:
            set_kv(key, value)

    def nb_get() -> None:
        for key in only_keys:
            kv(key)

    def dc_set() -> None:
        for key, value in pairs:
            cache.set(key, value)

    def dc_get() -> None:
        for key in only_keys:
            cache.get(key)

    def raw_set() -> None:
        for key, value in pairs:
            raw.execute(upsert, (key, value))

    def raw_get() -> None:
        for key in only_keys:
            raw.execute(select, (key,)).fetchone()

    contenders = {
        ("set", "nbcreds"): nb_set,
        ("set", "diskcache"): dc_set,
        ("set", "raw"): raw_set,
        ("get", "nbcreds"): nb_get,
        ("get", "diskcache"): dc_get,
        ("get", "raw"): raw_get,
    }
    for fn in contenders.values():  # warm up: files, schema, statement caches
        fn()
    assert kv(keys[0]) == cache.get(keys[0]) == dict(pairs)[keys[0]]
    runs: dict[tuple[str, str], list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            runs[name].append(timed(fn))
    rate = {name: best_rate(times, ops) for name, times in runs.items()}
    cache.close()
    raw.close()

    print(f"SQLite, {ops} ops per round, best of {rounds} alternating rounds, WAL + NORMAL")
    print(
        f"{'operation':<22}{'nbcreds':>12}{'diskcache':>12}{'raw sqlite3':>13}"
        f"{'vs diskcache':>14}{'vs raw':>9}"
    )
    for op, label in (("set", "set_kv / set / upsert"), ("get", "kv / get / select")):
        nb, dc, rw = rate[(op, "nbcreds")], rate[(op, "diskcache")], rate[(op, "raw")]
        print(
            f"{label:<22}{nb:>10,.0f}/s{dc:>10,.0f}/s{rw:>11,.0f}/s{nb / dc:>13.2f}x"
            f"{nb / rw:>8.2f}x"
        )


def postgres_round_trips(ops: int) -> None:
    try:
        from nbcreds.testing.postgres import postgres_server, round_trips
    except ImportError as exc:  # pragma: no cover
        print(f"PostgreSQL: skipped ({exc})")
        return
    try:
        context = postgres_server()
        server = context.__enter__()
    except Exception as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {exc})")
        return
    try:
        os.environ["NBCREDS_KV_URL"] = server.url
        workdir = Path(tempfile.mkdtemp(prefix="nbcreds-bench-pg-"))
        config = workdir / "nbcreds.toml"
        config.write_text('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
        nbcreds.load_config(config)
        nbcreds.use_namespace("bench.pg")
        nbcreds.set_kv("warm", 0)
        conn = _store().connection()  # type: ignore[attr-defined]
        cases: list[tuple[str, Callable[[int], object]]] = [
            ("set_kv", lambda i: nbcreds.set_kv(f"k{i % KEYS}", f"v{i}")),
            ("kv", lambda i: nbcreds.kv(f"k{i % KEYS}")),
            ("kv (missing)", lambda i: nbcreds.kv(f"none{i}", default=None)),
            ("kv inherit=True", lambda i: nbcreds.kv(f"k{i % KEYS}", inherit=True)),
            (
                "set_kv if_revision",
                lambda i: nbcreds.set_kv(
                    "counter", i, if_revision=kv_item("counter", default=0).revision
                ),
            ),
            ("put_kv", lambda i: nbcreds.put_kv("doc", {"n": i, "nested": {f"f{i % 5}": i}})),
            ("delete_kv", lambda i: nbcreds.delete_kv(f"k{i % KEYS}")),
        ]
        print(
            f"\nPostgreSQL {server.bin_dir.parent.name} on 127.0.0.1, {ops} ops each "
            "(round trips counted from libpq's protocol trace)"
        )
        print(f"{'operation':<30}{'round trips/op':>16}{'ops/s':>10}")
        for name, fn in cases:
            start = time.perf_counter()
            with round_trips(conn) as trips:
                for i in range(ops):
                    fn(i)
            elapsed = time.perf_counter() - start
            per_op = trips.count / ops
            if name == "set_kv if_revision":
                per_op -= 1  # the kv_item read that fetches the revision is its own operation
                name += " (+kv_item)"
            print(f"{name:<30}{per_op:>16.2f}{ops / elapsed:>10,.0f}")
        nbcreds.load_config(config)  # closes the store's connections before the server stops
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        context.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=5_000, help="operations per SQLite round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pg-ops", type=int, default=1_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nbcreds-bench-"))
    try:
        sqlite_side_by_side(args.ops, args.rounds, workdir)
    finally:
        nbcreds.load_config(None)
        shutil.rmtree(workdir, ignore_errors=True)
    postgres_round_trips(args.pg_ops)


if __name__ == "__main__":
    main()

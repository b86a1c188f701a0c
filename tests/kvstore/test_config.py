"""``[kv]`` settings, the PostgreSQL URL reference, and import lightness."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import nbcreds
from nbcreds import ConfigError, KVBackendError
from nbcreds.masking import registry
from nbcreds.testing.postgres import PostgresServer


@pytest.mark.parametrize(
    ("text", "match", "when"),
    [
        ('[kv]\nbackend = "redis"\n', "must be one of 'sqlite'", "load"),
        ('[kv]\nbackend = "postgres"\n', "needs url", "load"),
        ('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n', "is unset", "use"),
        ('[kv]\ncolour = "blue"\n', "unknown key", "load"),
        ('[kv]\nbakend = "sqlite"\n', "did you mean 'backend'", "load"),
        ("[kv]\nbusy_timeout = -1\n", "seconds", "load"),
        ('[kv]\nbusy_timeout = "5"\n', "must be a number", "load"),
        ("[kv]\npath = 5\n", "must be a string", "load"),
    ],
)
def test_bad_kv_settings(
    write_config: Callable[[str], Path], text: str, match: str, when: str
) -> None:
    """Typos, types and values fail at load; an unset reference when the store opens."""
    if when == "load":
        with pytest.raises(ConfigError, match=match) as err:
            write_config(text)
    else:
        write_config(text)
        with pytest.raises(ConfigError, match=match) as err:
            nbcreds.kv("k", namespace="team", default=None)
    assert "[kv]" in str(err.value)


def test_invalid_postgres_url_does_not_echo_it(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv("NBCREDS_KV_URL", "postgresql://u:hunter2-secret@[::1")
    write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
    with pytest.raises(KVBackendError) as err:
        nbcreds.kv("k", namespace="team", default=None)
    assert "hunter2" not in str(err.value)


@pytest.mark.postgres
def test_postgres_url_from_a_secret_reference(
    pg_server: PostgresServer,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded = base64.b64encode(pg_server.url.encode()).decode()
    monkeypatch.setenv("SECRET_KV_URL", encoded)  # Kestra's env convention: base64
    write_config('[kv]\nbackend = "postgres"\nurl = "secret:KV_URL"\n')
    nbcreds.set_kv("via_secret", 1, namespace="cfg.test")
    assert nbcreds.kv("via_secret", namespace="cfg.test") == 1
    assert pg_server.password in registry  # the URL's password is masked
    nbcreds.delete_kv("via_secret", namespace="cfg.test")


def test_importing_the_kv_store_does_not_import_psycopg() -> None:
    code = (
        "import sys, nbcreds, nbcreds.kvstore\n"
        "nbcreds.kv\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_facade_exports(isolated_nbcreds: Path) -> None:
    from nbcreds import kvstore

    for name in (
        "kv",
        "set_kv",
        "put_kv",
        "delete_kv",
        "kv_keys",
        "kv_entries",
        "purge_kv",
        "KVEntry",
        "MISSING",
    ):
        assert getattr(nbcreds, name) is getattr(kvstore, name)
    assert set(kvstore.__all__) >= {"kv", "set_kv", "KVEntry", "MISSING"}

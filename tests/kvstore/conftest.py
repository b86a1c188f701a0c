"""KV fixtures: one session PostgreSQL server, and a ``backend`` fixture that runs
each conformance test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import nbcreds
from nbcreds.testing.postgres import PostgresServer


@dataclass
class Backend:
    """The backend a test runs on, and how to reach it from a child process."""

    name: str
    config_path: Path
    env: dict[str, str]
    password: str | None = None

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["NBCREDS_CONFIG"] = str(self.config_path)
        return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(
    request: pytest.FixtureRequest,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    isolated_nbcreds: Path,
) -> Backend:
    """nbcreds configured for SQLite (a file in the test's directory) or PostgreSQL
    (the session server, through ``url = "env:NBCREDS_KV_URL"``)."""
    if request.param == "sqlite":
        path = write_config(f'[kv]\npath = "{isolated_nbcreds / "kv.sqlite3"}"\n')
        return Backend("sqlite", path, {})
    server: PostgresServer = request.getfixturevalue("pg_server")
    server.register_password()  # the registry is reset before every test
    monkeypatch.setenv("NBCREDS_KV_URL", server.url)
    path = write_config('[kv]\nbackend = "postgres"\nurl = "env:NBCREDS_KV_URL"\n')
    return Backend("postgres", path, {"NBCREDS_KV_URL": server.url}, server.password)


@pytest.fixture
def ns(backend: Backend) -> str:
    """A fresh namespace (the PostgreSQL database is shared by the session), selected."""
    name = f"t{uuid.uuid4().hex[:12]}.team"
    nbcreds.use_namespace(name)
    return name

"""Shared isolation for every test: no user config, no user data dir, fresh state."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
import pytest
from hypothesis import settings

import nbcreds
from nbcreds._session import session
from nbcreds.masking import registry

if TYPE_CHECKING:  # the servers' modules are imported by the fixtures that start them
    from nbcreds.testing.oauth import OAuthServer
    from nbcreds.testing.openbao import OpenBaoLab
    from nbcreds.testing.postgres import PostgresServer

# Property tests: no per-example deadline (the machines are shared and noisy, and
# timing is never what a test asserts); CI replays the same examples every run.
settings.register_profile("nbcreds", deadline=None)
settings.register_profile("nbcreds-ci", deadline=None, derandomize=True, database=None)
settings.load_profile("nbcreds-ci" if os.environ.get("CI") else "nbcreds")


@pytest.fixture(autouse=True)
def isolated_nbcreds(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Each test runs in an empty working directory with its own XDG dirs, no
    ``NBCREDS_*`` / ``SECRET_*`` variables, a fresh context and an empty registry."""
    home = tmp_path_factory.mktemp("home")
    work = home / "work"
    work.mkdir()
    for var in list(os.environ):
        if var.startswith(("NBCREDS_", "SECRET_")):
            monkeypatch.delenv(var)
    # no OS keyring unless a test asks for one (tests/secrets: the keyring_env fixture)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.chdir(work)
    session().reset()
    registry.clear()
    yield work
    _close_live_widgets()
    session().reset()
    registry.clear()


def _close_live_widgets() -> None:
    """Close the widgets a test left open (outside tests/widgets, whose fixture checks
    it) and wait for the live-update thread to end: left running, it would read the
    next test's session (loading its config before the test has written it)."""
    live = sys.modules.get("nbcreds.widgets._live")
    if live is None:
        return
    import ipywidgets

    ipywidgets.Widget.close_all()
    assert live.HUB.wait_stopped(), "the widgets' live-update thread outlived them"


# --- real servers, one per test session (started on first use) ------------------------


@pytest.fixture(scope="session")
def openbao_lab() -> Iterator[OpenBaoLab]:
    """A running OpenBao dev server with mounts, policies and auth methods."""
    from nbcreds.testing.openbao import OpenBaoServer, build_lab

    with OpenBaoServer() as server:
        yield build_lab(server)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (skips without the binaries)."""
    from nbcreds.testing.postgres import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def _oauth_server() -> Iterator[OAuthServer]:
    """The authlib token server on 127.0.0.1, the only one of the session (tests use
    ``oauth``, or ``oauth_server`` when they register their own clients)."""
    from nbcreds.testing.oauth import OAuthServer

    with OAuthServer() as server:
        yield server


@pytest.fixture(scope="session")
def oauth_server(_oauth_server: OAuthServer) -> OAuthServer:
    """The session's OAuth server as it is (client ids must be unique per test file)."""
    return _oauth_server


@pytest.fixture
def fresh_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No token survives a test; retries pause briefly so fault tests stay quick
    (autouse in the credential and fault tests)."""
    from nbcreds.credentials import engine, retry_policy

    engine.reset()
    monkeypatch.setattr(retry_policy, "backoff", 0.01)
    yield
    engine.reset()


@pytest.fixture
def oauth(_oauth_server: OAuthServer, fresh_engine: None) -> Iterator[OAuthServer]:
    """The session's OAuth server with counters, faults and cached tokens cleared."""
    _oauth_server.reset()
    _oauth_server.token_lifetime = 3600
    yield _oauth_server
    _oauth_server.reset()


_VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_NAMESPACE")


@pytest.fixture
def vault_lab(openbao_lab: OpenBaoLab, monkeypatch: pytest.MonkeyPatch) -> OpenBaoLab:
    """The session lab, with ``VAULT_ADDR`` pointing at it and its credentials registered
    (``isolated_nbcreds`` empties the masking registry before every test)."""
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAULT_ADDR", openbao_lab.url)
    openbao_lab.register()
    return openbao_lab


@pytest.fixture(scope="session")
def secret_service() -> Iterator[Any]:
    """A private D-Bus session bus with an unlocked gnome-keyring on it (one per session)."""
    from nbcreds.testing.keyring import SecretServiceBus

    with SecretServiceBus() as bus:
        yield bus


@pytest.fixture
def keyring_env(secret_service: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test (and kernels it starts) use the test Secret Service; returns its address."""
    import keyring.core

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    keyring.core.init_backend()  # keyring caches its first choice for the process
    return secret_service.address


@pytest.fixture
def write_config(isolated_nbcreds: Path) -> object:
    """Write ``nbcreds.toml`` in the working directory and load it; returns its path."""

    def write(text: str) -> Path:
        path = isolated_nbcreds / "nbcreds.toml"
        path.write_text(text)
        nbcreds.load_config(path)
        return path

    return write


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """In CI a skip is a failure: everything the tests need (OpenBao, PostgreSQL,
    Chromium, node, Hyperscan) is installed by scripts/test, so a test that skips
    there is a test that silently did not run. Only opt-in slow tests may skip."""
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if "NBCREDS_SLOW_TESTS" in reason:
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where nothing may be missing: {reason}"

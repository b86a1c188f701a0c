"""Shared isolation for every test: no user config, no user data dir, fresh state."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy
import pytest
from hypothesis import settings

import nbcreds
from nbcreds._session import session
from nbcreds.masking import registry

if TYPE_CHECKING:
    from nbcreds.testing.openbao import OpenBaoLab

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
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.chdir(work)
    session().reset()
    registry.clear()
    yield work
    session().reset()
    registry.clear()


@pytest.fixture(scope="session")
def openbao_lab() -> Iterator[OpenBaoLab]:
    """One running OpenBao dev server for the session, with mounts, policies and auth
    methods (:func:`nbcreds.testing.openbao.build_lab`); started on first use."""
    from nbcreds.testing.openbao import OpenBaoServer, build_lab

    with OpenBaoServer() as server:
        yield build_lab(server)


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

"""Vault fixtures over the session's one OpenBao dev server (``openbao_lab``, in
tests/conftest.py: the doctor's tests use it too).

Built on :mod:`nbcreds.testing.openbao`: the lab holds a KV v2 mount
(``secret``, the dev default), a KV v1 mount (``kv1``), read and write policies
with a token each, and AppRole / userpass / JWT logins bound to the read policy.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest

from nbcreds.testing.openbao import OpenBaoLab, OpenBaoServer

_VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_NAMESPACE")


@pytest.fixture
def vault_lab(openbao_lab: OpenBaoLab, monkeypatch: pytest.MonkeyPatch) -> OpenBaoLab:
    """The session lab, with ``VAULT_ADDR`` pointing at it and its credentials registered
    (the root conftest empties the masking registry before every test)."""
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAULT_ADDR", openbao_lab.url)
    openbao_lab.register()
    return openbao_lab


@pytest.fixture
def vault_prefix(request: pytest.FixtureRequest) -> str:
    """A path prefix of this test's own, so tests sharing the server never meet."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"t-{name}-{secrets.token_hex(3)}"


def _own_server(monkeypatch: pytest.MonkeyPatch, *, tls: bool) -> Iterator[OpenBaoServer]:
    for var in _VAULT_ENV:
        monkeypatch.delenv(var, raising=False)
    with OpenBaoServer(tls=tls) as server:
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", server.root_token)
        yield server


@pytest.fixture
def openbao_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenBaoServer]:
    """A short-lived server of this test's own (to stop or seal it); root token in env."""
    yield from _own_server(monkeypatch, tls=False)


@pytest.fixture
def openbao_tls_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenBaoServer]:
    """A short-lived HTTPS server (``bao server -dev -dev-tls``) with its own CA."""
    yield from _own_server(monkeypatch, tls=True)

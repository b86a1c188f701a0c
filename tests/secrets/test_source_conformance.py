"""nbcreds' own secret sources pass the plugin conformance suite."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

import pytest

import nbcreds
from nbcreds._session import session
from nbcreds.secrets import SecretSource
from nbcreds.testing.conformance import SecretSourceTests

VALUE = "conf-" + secrets.token_hex(12)
RAW = "raw-" + secrets.token_hex(12)


class TestEnvSource(SecretSourceTests):
    @pytest.fixture
    def source(self, monkeypatch: pytest.MonkeyPatch) -> SecretSource:
        monkeypatch.setenv("SECRET_CONF_KEY", base64.b64encode(VALUE.encode()).decode())
        monkeypatch.setenv("CONF_RAW_VAR", RAW)
        return session().source("env")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_KEY": VALUE}

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {"env:CONF_RAW_VAR": RAW}


class TestSessionSource(SecretSourceTests):
    @pytest.fixture
    def source(self) -> SecretSource:
        nbcreds.bind_secret("CONF_TYPED", VALUE, tenant=True)
        return session().source("session")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_TYPED": VALUE}


class TestVaultSource(SecretSourceTests):
    """Against the session's real OpenBao server, read-only token."""

    @pytest.fixture
    def source(
        self, vault_lab: Any, vault_prefix: str, write_config: Any, monkeypatch: pytest.MonkeyPatch
    ) -> SecretSource:
        vault_lab.server.write_secret(f"{vault_prefix}/CONF_VAULT", {"value": VALUE})
        vault_lab.server.write_secret(f"{vault_prefix}/db/conf", {"password": RAW, "user": "u"})
        monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
        write_config(
            "[sources.vault]\n"
            'url = "env:VAULT_ADDR"\ntoken = "env:VAULT_TOKEN"\nread_only = true\n'
            f'path_prefix = "{vault_prefix}"\n'
        )
        self.prefix = vault_prefix
        return session().source("vault")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_VAULT": VALUE}

    @pytest.fixture
    def references(self, source: SecretSource) -> Mapping[str, str]:
        return {f"vault:{self.prefix}/db/conf#password": RAW}

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


class TestDotenvSource(SecretSourceTests):
    """A ``.env`` file next to the config (python-dotenv)."""

    @pytest.fixture
    def source(self, write_config: Any) -> SecretSource:
        path = write_config('[sources]\norder = ["session", "env", "dotenv"]\n')
        env_file = path.parent / ".env"
        env_file.write_text(f"CONF_DOTENV={VALUE}\nCONF_DOTENV_RAW='{RAW}'\n")
        env_file.chmod(0o600)
        return session().source("dotenv")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_DOTENV": VALUE}

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {"dotenv:CONF_DOTENV_RAW": RAW}


class TestKeyringSource(SecretSourceTests):
    """Against a real Secret Service (gnome-keyring on the tests' private D-Bus)."""

    @pytest.fixture
    def source(self, keyring_env: str) -> SecretSource:
        import keyring

        from nbcreds.secrets._keyring import keyring_username

        keyring.set_password("nbcreds", keyring_username(None, "CONF_KEYRING"), VALUE)
        keyring.set_password("conformance", "reader", RAW)
        return session().source("keyring")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_KEYRING": VALUE}

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {"keyring:conformance/reader": RAW}


class TestAwsSource(SecretSourceTests):
    """Against a real moto server (Secrets Manager and SSM Parameter Store)."""

    @pytest.fixture
    def source(self, aws_env: Any, write_config: Any) -> SecretSource:
        aws_env.client("secretsmanager").create_secret(Name="nbcreds/CONF_AWS", SecretString=VALUE)
        aws_env.client("ssm").put_parameter(Name="/conformance/raw", Value=RAW, Type="SecureString")
        write_config(
            f'[sources.aws]\nendpoint_url = "{aws_env.url}"\nregion = "{aws_env.region}"\n'
        )
        return session().source("aws")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"CONF_AWS": VALUE}

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {"aws-ssm:/conformance/raw": RAW}

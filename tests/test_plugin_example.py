"""A third-party plugin from an installed distribution (tests/plugin_example, installed
by scripts/test) provides a source and a credential type with no change to nbcreds."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import plugins
from nbcreds._session import session
from nbcreds.secrets import SecretSource
from nbcreds.testing.conformance import CredentialTypeTests, SecretSourceTests
from nbcreds.testing.leaks import assert_no_leak

VALUE = "ex-" + secrets.token_hex(12)
FIELD = "exf-" + secrets.token_hex(12)


@pytest.fixture
def example_file(isolated_nbcreds: Path) -> Path:
    path = isolated_nbcreds / "secrets.json"
    path.write_text(json.dumps({"EX_KEY": VALUE, "DB": {"password": FIELD, "user": "u"}}))
    return path


def test_it_is_installed_through_the_entry_points() -> None:
    assert plugins.provider(plugins.SOURCE_GROUP, "example") == "nbcreds-example"
    assert plugins.provider(plugins.CREDENTIAL_GROUP, "example_hmac") == "nbcreds-example"
    assert plugins.reference_schemes()["example"] == "example"


def test_config_references_and_credentials_work(example_file: Path, write_config: Any) -> None:
    write_config(
        '[sources.example]\nfile = "secrets.json"\n'  # relative to the nbcreds.toml
        '[secrets]\nFROM_FILE = "example:EX_KEY"\nDB_PW = "example:DB#password"\n'
        '[credentials.tok]\ntype = "example_hmac"\nkey = "example:EX_KEY"\nlifetime = 60\n'
    )
    assert nbcreds.secret("FROM_FILE").reveal() == VALUE
    assert nbcreds.secret("DB_PW").reveal() == FIELD
    token = nbcreds.credential("tok")
    assert len(token.reveal()) == 64
    assert nbcreds.credential("tok") is token  # cached like any credential
    assert nbcreds.credential_info("tok").type == "example_hmac"
    nbcreds.bind_secret("BOUND", ref="example:EX_KEY")
    assert nbcreds.secret("BOUND").reveal() == VALUE
    assert_no_leak(repr(token) + repr(nbcreds.list_secrets()), [VALUE, FIELD, token.reveal()])


def test_its_schema_is_enforced_at_load(example_file: Path, write_config: Any) -> None:
    with pytest.raises(nbcreds.ConfigError, match="did you mean 'file'") as info:
        write_config('[sources.example]\nfiel = "secrets.json"\n')
    assert (info.value.table, info.value.key) == ("sources.example", "fiel")
    with pytest.raises(nbcreds.CredentialConfigError) as cinfo:
        write_config(
            '[sources.example]\nfile = "secrets.json"\n'
            '[credentials.tok]\ntype = "example_hmac"\nkey = "example:EX_KEY"\nlifetime = 0\n'
        )
    assert cinfo.value.key == "lifetime"


def test_the_magics_and_forms_offer_it() -> None:
    from nbcreds.ipython._completers import candidates
    from nbcreds.widgets._credential_setup import form_types

    assert "example:" in candidates("secret", "bind X --from ")
    assert ("Example HMAC token", "example_hmac") in form_types()


class TestExampleSource(SecretSourceTests):
    @pytest.fixture
    def source(self, example_file: Path, write_config: Any) -> SecretSource:
        write_config('[sources.example]\nfile = "secrets.json"\n')
        return session().source("example")

    @pytest.fixture
    def known(self) -> Mapping[str, str]:
        return {"EX_KEY": VALUE}

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {"example:EX_KEY": VALUE, "example:DB#password": FIELD}


class TestExampleCredential(CredentialTypeTests):
    @pytest.fixture
    def credential_type(self) -> plugins.CredentialType:
        found = plugins.credential_type("example_hmac")
        assert found is not None
        return found

    @pytest.fixture
    def definition(self) -> str:
        nbcreds.bind_secret("HMAC_KEY", "k-" + secrets.token_hex(16))
        return 'type = "example_hmac"\nkey = "secret:HMAC_KEY"\n'

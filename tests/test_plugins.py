"""The open registries: a source type and a credential type added at run time are
used everywhere the built-ins are (config validation, references, minting)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import nbcreds as nc
from nbcreds import plugins
from nbcreds.plugins import Minted, SecretData, SecretSource
from nbcreds.testing.leaks import assert_no_leak


class MemoSource(SecretSource):
    name = "memo"

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        return self.values.get(name) if namespace is None else None

    def names(self, namespace: str | None) -> list[str]:
        return sorted(self.values) if namespace is None else []

    def read_reference(self, ref: plugins.Reference) -> SecretData | None:
        return self.values.get(ref.target)


VALUE = "memo-" + secrets.token_hex(12)

MEMO = plugins.SourceType(
    name="memo",
    schemes=("memo",),
    reference_forms={"memo": "memo:KEY"},
    settings=(plugins.Setting("colour", required=True, choices=("red", "blue")),),
    default_order=False,
    build=lambda ctx: MemoSource({"KEY": VALUE, "COLOUR": str(ctx.settings["colour"])}),
)


class StaticStrategy:
    def validate(self, definition: Any) -> None:
        definition.reference("token")

    def mint(self, definition: Any, http: Any) -> Minted:
        token = definition.secret("token")
        return Minted(token, time.monotonic(), time.time(), 3600.0)


STATIC = plugins.CredentialType(
    name="static_token",
    label="A token kept as a secret",
    fields=(plugins.Setting("token", required=True, secret=True),),
    strategy=StaticStrategy,
)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    plugins.register_source_type(MEMO)
    plugins.register_credential_type(STATIC)
    yield
    plugins.unregister("memo")
    plugins.unregister("static_token")


def test_a_registered_source_is_configured_validated_and_read(write_config: Any) -> None:
    assert plugins.reference_schemes()["memo"] == "memo"
    assert "memo:KEY" in plugins.reference_help()
    with pytest.raises(nc.ConfigError, match="is required") as info:
        write_config("[sources.memo]\n")
    assert (info.value.table, info.value.key) == ("sources.memo", "colour")
    with pytest.raises(nc.ConfigError, match="must be one of 'red', 'blue'"):
        write_config('[sources.memo]\ncolour = "green"\n')
    write_config('[sources.memo]\ncolour = "red"\n[secrets]\nFROM_MEMO = "memo:KEY"\n')
    assert nc.secret("FROM_MEMO").reveal() == VALUE
    assert "memo" not in [s.name for s in nc.list_secrets()]  # not in the default order
    write_config('[sources]\norder = ["memo"]\n[sources.memo]\ncolour = "blue"\n')
    assert nc.secret("COLOUR").reveal() == "blue"
    assert_no_leak(repr(nc.secret("KEY")), [VALUE])


def test_a_registered_credential_type_mints(write_config: Any) -> None:
    token = "tok-" + secrets.token_hex(16)
    nc.bind_secret("TOK", token)
    with pytest.raises((nc.ConfigError, nc.CredentialConfigError), match="must be a ref") as info:
        write_config('[credentials.s]\ntype = "static_token"\ntoken = "literal"\n')
    assert info.value.key == "token"
    with pytest.raises(nc.CredentialConfigError, match="is required") as info:
        write_config('[credentials.s]\ntype = "static_token"\n')
    assert info.value.key == "token"
    write_config('[credentials.s]\ntype = "static_token"\ntoken = "secret:TOK"\n')
    assert nc.credential("s").reveal() == token
    assert nc.credential_info("s").type == "static_token"


def test_unregistered_types_are_config_errors(write_config: Any) -> None:
    plugins.unregister("memo")
    with pytest.raises(nc.ConfigError, match="no installed plugin provides the secret source"):
        write_config('[sources.memo]\ncolour = "red"\n')
    with pytest.raises(nc.ConfigError, match="a secret must be a reference") as info:
        write_config('[secrets]\nX = "memo:KEY"\n')
    assert "memo:" not in str(info.value).split("(")[1]  # the help lists installed schemes

"""Every value a source or credential produces is registered with the masker before it is
returned, in one place per kind -- so a plugin that never calls ``mask`` is still safe.

The source and the credential type here are registered at run time and register nothing
themselves: whatever reaches the caller must already be in the masking registry.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

import nbcreds as nc
from nbcreds import plugins
from nbcreds.masking import masked, registry


def _value(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


PLAIN = _value("plain")
FIELD = _value("field")
OTHER = _value("other")
JSON_FIELD = _value("jsonfield")
TOKEN = _value("token")


class ForgetfulSource(plugins.SecretSource):
    """A source that never registers what it returns (nor needs to)."""

    name = "forgetful"
    read_only = False

    def __init__(self) -> None:
        self.values: dict[str, Any] = {
            "PLAIN": PLAIN,
            "FIELDS": {"password": FIELD, "user": OTHER},
            "JSON": json.dumps({"password": JSON_FIELD}),
        }
        self.seen_registered: list[bool] = []

    def get(self, namespace: str | None, name: str) -> plugins.SecretData | None:
        return self.values.get(name) if namespace is None else None

    def names(self, namespace: str | None) -> list[str]:
        return sorted(self.values) if namespace is None else []

    def read_reference(self, ref: plugins.Reference) -> plugins.SecretData | None:
        return self.values.get(ref.target)

    def set(self, namespace: str | None, name: str, value: str) -> None:
        # a writable source gets a typed value only after the masker knows it
        self.seen_registered.append(value in registry)
        self.values[name] = value


_BUILT: list[ForgetfulSource] = []


def _build(ctx: plugins.SourceContext) -> ForgetfulSource:
    source = ForgetfulSource()
    _BUILT.append(source)
    return source


FORGETFUL = plugins.SourceType(
    name="forgetful",
    schemes=("forgetful",),
    default_order=False,
    build=_build,
)


class ForgetfulStrategy:
    """Mints ``TOKEN`` after reading its key; registers neither."""

    def validate(self, definition: Any) -> None:
        definition.reference("key")

    def mint(self, definition: Any, http: Any) -> plugins.Minted:
        key = definition.secret("key")
        assert key in registry  # resolved secrets are registered before the type sees them
        return plugins.Minted(TOKEN, time.monotonic(), time.time(), 3600.0)


FORGETFUL_TOKEN = plugins.CredentialType(
    name="forgetful_token",
    label="Forgetful",
    fields=(plugins.Setting("key", required=True, secret=True),),
    strategy=ForgetfulStrategy,
)


@pytest.fixture(autouse=True)
def forgetful(write_config: Any) -> Iterator[Any]:
    plugins.register_source_type(FORGETFUL)
    plugins.register_credential_type(FORGETFUL_TOKEN)
    yield write_config
    plugins.unregister("forgetful")
    plugins.unregister("forgetful_token")
    _BUILT.clear()


def _hidden(value: str) -> bool:
    return value in registry and value not in masked(f"x {value} y")


def test_plain_names_from_a_plugin_source_are_registered(forgetful: Any) -> None:
    forgetful('[sources]\norder = ["forgetful"]\n')
    assert not any(v in registry for v in (PLAIN, FIELD, OTHER))
    assert nc.secret("PLAIN").reveal() == PLAIN
    assert _hidden(PLAIN)
    assert nc.secret("FIELDS", field="password").reveal() == FIELD
    assert _hidden(FIELD)
    assert _hidden(OTHER)
    assert nc.secret("JSON", field="password").reveal() == JSON_FIELD
    assert _hidden(JSON_FIELD)  # the part picked out of a JSON string too


def test_references_to_a_plugin_source_are_registered(forgetful: Any) -> None:
    forgetful('[secrets]\nDB = "forgetful:FIELDS#password"\n')
    assert nc.secret("DB").reveal() == FIELD
    assert _hidden(FIELD)
    assert _hidden(OTHER)
    nc.bind_secret("BOUND", ref="forgetful:PLAIN")
    assert nc.secret("BOUND").reveal() == PLAIN
    assert _hidden(PLAIN)


def test_credential_secrets_and_tokens_are_registered(forgetful: Any) -> None:
    forgetful('[credentials.f]\ntype = "forgetful_token"\nkey = "forgetful:PLAIN"\n')
    assert TOKEN not in registry
    token = nc.credential("f")
    assert token.reveal() == TOKEN
    assert _hidden(TOKEN)
    assert _hidden(PLAIN)
    registry.clear()  # the fast path must not hand out a token the masker forgot
    assert nc.credential("f").reveal() == TOKEN
    assert _hidden(TOKEN)


def test_a_typed_value_is_registered_before_a_source_keeps_it(forgetful: Any) -> None:
    forgetful("")
    typed = _value("typed")
    nc.bind_secret("TYPED", typed, store="forgetful")
    assert _BUILT[-1].seen_registered == [True]
    assert _hidden(typed)


def test_non_secret_settings_read_through_references_stay_readable(
    forgetful: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only secret-kind values are masked: an endpoint given as env:VAR is not."""
    from nbcreds.secrets._resolver import resolve_reference

    url = "https://tokens.example.test/" + secrets.token_hex(6)
    monkeypatch.setenv("NBCREDS_TEST_URL", url)
    forgetful("")
    assert resolve_reference(plugins.parse_reference("env:NBCREDS_TEST_URL"), None, secret=False)
    assert url not in registry
    assert resolve_reference(plugins.parse_reference("env:NBCREDS_TEST_URL"), None) == url
    assert url in registry


def test_material_a_credential_type_makes_is_registered() -> None:
    from nbcreds.credentials._engine import sensitive

    verifier = _value("verifier")
    assert sensitive(verifier, "c.code_verifier") == verifier
    assert _hidden(verifier)


def test_a_literal_kv_url_and_its_password_are_registered_by_the_backend() -> None:
    """The PostgreSQL backend is the one place the [kv] url meets the masker (it parses the
    password out of it); building it connects to nothing."""
    from nbcreds.kvstore._postgres import PostgresBackend

    password = _value("pw")
    url = f"postgresql://etl:{password}@127.0.0.1:1/state"
    backend = PostgresBackend(url, connect_timeout=1)
    assert _hidden(url)
    assert _hidden(password)
    assert password not in repr(backend)

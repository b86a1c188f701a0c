"""Conformance suites for plugins, in the shape of keyring's ``BackendBasicTests``.

A plugin's test module subclasses a suite and provides its fixtures; pytest
collects the inherited tests (name the subclass ``Test...``)::

    from nbcreds.testing.conformance import SecretSourceTests

    class TestExampleSource(SecretSourceTests):
        @pytest.fixture
        def source(self, tmp_path): ...          # a built SecretSource
        @pytest.fixture
        def known(self): ...                     # {name: value} it holds at the tenant level
        @pytest.fixture
        def references(self): ...                # {"example:NAME": value} (may be {})

- :class:`SecretSourceTests`: ``source``, ``known``, ``references``.
- :class:`CredentialTypeTests`: ``credential_type`` (the registered
  :class:`~nbcreds.plugins.CredentialType`) and ``definition`` (the body of a
  valid ``[credentials.NAME]`` table, with whatever secrets it needs already
  bound); the suite loads configs itself from a temporary directory.
- :class:`KVBackendTests`: a ``backend`` fixture that writes and loads an
  ``nbcreds.toml`` using the backend.

nbcreds' own types pass them (tests/secrets, tests/credentials, tests/kvstore),
and so does the example third-party plugin in tests/plugin_example.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import plugins
from nbcreds.masking import registry
from nbcreds.secrets import SecretSource
from nbcreds.secrets._resolver import select_field
from nbcreds.testing._kv_conformance import KVBackendTests
from nbcreds.testing.leaks import assert_no_leak

__all__ = ["CredentialTypeTests", "KVBackendTests", "SecretSourceTests"]


class SecretSourceTests:
    """What every secret source must do. Fixtures: ``source``, ``known``, ``references``."""

    @pytest.fixture
    def references(self) -> Mapping[str, str]:
        return {}

    def test_the_type_is_registered_and_well_formed(self, source: SecretSource) -> None:
        stype = plugins.source_type(source.name)
        assert stype is not None, f"no installed plugin provides the source {source.name!r}"
        keys = [s.key for s in stype.settings]
        assert len(keys) == len(set(keys)), "a settings key is declared twice"
        for scheme in stype.schemes:
            assert plugins.scheme_owner(scheme) is stype
            form = stype.reference_forms.get(scheme, f"{scheme}:NAME")
            assert form.startswith(f"{scheme}:")

    def test_known_secrets_are_found(self, source: SecretSource, known: Mapping[str, str]) -> None:
        assert known, "the fixture must name at least one secret"
        for name, value in known.items():
            data = source.get(None, name)
            assert data is not None, name
            assert select_field(data, None, name) == value

    def test_a_missing_secret_is_none(self, source: SecretSource) -> None:
        assert source.get(None, "NBCREDS_NO_SUCH_" + secrets.token_hex(6).upper()) is None

    def test_names_list_names_never_values(
        self, source: SecretSource, known: Mapping[str, str]
    ) -> None:
        names = {n.upper() for n in source.names(None)}
        assert {n.upper() for n in known} <= names
        assert_no_leak(" ".join(names), list(known.values()))

    def test_references_are_read(self, source: SecretSource, references: Mapping[str, str]) -> None:
        for text, value in references.items():
            ref = plugins.parse_reference(text)
            data = source.read_reference(ref)
            assert data is not None, text
            assert select_field(data, ref.field, ref.target) == value

    def test_descriptions_never_show_a_value(
        self, source: SecretSource, known: Mapping[str, str]
    ) -> None:
        for name in known:
            source.get(None, name)
        assert_no_leak(repr(source) + source.describe(), list(known.values()))

    def test_a_read_only_source_refuses_writes(self, source: SecretSource) -> None:
        if not source.read_only:
            return  # writable sources are checked by their own tests
        with pytest.raises(nbcreds.SecretReadOnly):
            source.set(None, "NBCREDS_CONFORMANCE", "value-" + secrets.token_hex(8))


class CredentialTypeTests:
    """What every credential type must do. Fixtures: ``credential_type``, ``definition``."""

    @staticmethod
    def _load(tmp_path: Path, body: str) -> None:
        path = tmp_path / "conformance-nbcreds.toml"
        path.write_text(f"[credentials.conf]\n{body}")
        nbcreds.load_config(path)

    def test_the_type_is_registered_and_well_formed(
        self, credential_type: plugins.CredentialType
    ) -> None:
        assert plugins.credential_type(credential_type.name) is credential_type
        assert credential_type.label
        keys = [f.key for f in credential_type.fields]
        assert len(keys) == len(set(keys)), "a field is declared twice"

    def test_a_valid_definition_loads(self, tmp_path: Path, definition: str) -> None:
        self._load(tmp_path, definition)
        assert nbcreds.credential_info("conf", namespace=None).type

    def test_an_unknown_key_fails_at_load(self, tmp_path: Path, definition: str) -> None:
        with pytest.raises(nbcreds.CredentialConfigError) as info:
            self._load(tmp_path, definition + "colour_of_the_sky = 1\n")
        assert info.value.key == "colour_of_the_sky"

    def test_each_required_field_fails_at_load_when_missing(
        self, tmp_path: Path, definition: str, credential_type: plugins.CredentialType
    ) -> None:
        import tomllib

        table: dict[str, Any] = tomllib.loads(definition)
        for spec in credential_type.fields:
            if not spec.required or spec.key not in table:
                continue
            body = "".join(
                line + "\n"
                for line in definition.splitlines()
                if not line.startswith(f"{spec.key} =")
            )
            with pytest.raises(nbcreds.CredentialConfigError) as info:
                self._load(tmp_path, body)
            assert getattr(info.value, "key", None) == spec.key

    def test_a_literal_in_a_secret_field_fails_at_load(
        self, tmp_path: Path, definition: str, credential_type: plugins.CredentialType
    ) -> None:
        for spec in credential_type.fields:
            if not spec.secret:
                continue
            kept = [
                line for line in definition.splitlines() if not line.startswith(f"{spec.key} =")
            ]
            body = "\n".join([*kept, f'{spec.key} = "a-literal-value"']) + "\n"
            with pytest.raises((nbcreds.ConfigError, nbcreds.CredentialConfigError)) as info:
                self._load(tmp_path, body)
            assert getattr(info.value, "key", None) == spec.key

    def test_a_minted_token_is_masked(self, tmp_path: Path, definition: str) -> None:
        self._load(tmp_path, definition)
        token = nbcreds.credential("conf")
        assert isinstance(token, nbcreds.Secret)
        assert token.reveal()
        assert token.reveal() in registry
        assert_no_leak(repr(token) + str(nbcreds.credential_info("conf")), [token.reveal()])

from __future__ import annotations

import pytest

import nbcreds
from nbcreds.namespaces import lookup_chain, validate


@pytest.mark.parametrize(
    "name", ["a", "company", "company.team", "company.team.project", "a-b_c.d0", "0.1", "a" * 150]
)
def test_valid_names(name: str) -> None:
    assert validate(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "A", "Company.team", ".a", "a.", "a..b", "-a", "_a", "a b", "a/b", "é", "a" * 151],
)
def test_invalid_names_quote_the_rule(name: str) -> None:
    with pytest.raises(nbcreds.NamespaceError) as info:
        nbcreds.use_namespace(name)
    message = str(info.value)
    assert "^[a-z0-9][a-z0-9._-]*$" in message
    assert "150" in message
    assert isinstance(info.value, ValueError)


def test_segment_rule_applies_to_each_segment() -> None:
    # the rule allows '-' after the first character of the whole name, but
    # every segment must still be non-empty
    with pytest.raises(nbcreds.NamespaceError, match="empty segment"):
        validate("a..b")


def test_non_string_is_rejected() -> None:
    with pytest.raises(nbcreds.NamespaceError):
        validate(42)


def test_lookup_chain_nearest_first_then_tenant() -> None:
    assert lookup_chain("a.b.c") == ["a.b.c", "a.b", "a", None]
    assert lookup_chain("a") == ["a", None]
    assert lookup_chain(None) == [None]


def test_use_and_current_namespace() -> None:
    assert nbcreds.current_namespace() is None
    assert nbcreds.use_namespace("company.team") == "company.team"
    assert nbcreds.current_namespace() == "company.team"
    nbcreds.use_namespace(None)
    assert nbcreds.current_namespace() is None


def test_default_namespace_from_config(write_config) -> None:  # type: ignore[no-untyped-def]
    write_config('namespace = "company.data"\n')
    assert nbcreds.current_namespace() == "company.data"
    nbcreds.use_namespace("other")
    assert nbcreds.current_namespace() == "other"


def test_default_namespace_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCREDS_NAMESPACE", "env.ns")
    assert nbcreds.current_namespace() == "env.ns"
    monkeypatch.setenv("NBCREDS_NAMESPACE", "Bad..NS")
    with pytest.raises(nbcreds.NamespaceError):
        nbcreds.current_namespace()


def test_list_namespaces_includes_config_and_parents(write_config) -> None:  # type: ignore[no-untyped-def]
    write_config('[namespaces."company.team.etl".secrets]\nX = "env:X"\n')
    nbcreds.use_namespace("lab.exp")
    assert nbcreds.list_namespaces() == [
        "company",
        "company.team",
        "company.team.etl",
        "lab",
        "lab.exp",
    ]

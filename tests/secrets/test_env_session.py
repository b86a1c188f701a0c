from __future__ import annotations

import base64
import json
import logging
import secrets

import pytest

import nbcreds
from nbcreds.masking import registry
from nbcreds.testing.leaks import assert_no_leak


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def rand() -> str:
    return secrets.token_urlsafe(18)


def test_env_base64_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    value = rand()
    monkeypatch.setenv("SECRET_DB_PASSWORD", b64(value + "\n"))  # echo | base64 adds a newline
    got = nbcreds.secret("db_password")  # lookup is case-insensitive
    assert got == value
    assert isinstance(got, nbcreds.Secret)
    assert got.source == "env"
    assert value in registry  # registered before it was returned
    assert repr(got) == "<Secret db_password ****>"


def test_env_lowercase_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    value = rand()
    monkeypatch.setenv("secret_api_key", b64(value))
    assert nbcreds.secret("API_KEY") == value
    assert "API_KEY" in [s.name for s in nbcreds.list_secrets()]


def test_invalid_base64_warns_naming_the_variable_not_its_content(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    content = "not base64 at all! " + rand()
    monkeypatch.setenv("SECRET_BROKEN", content)
    with (
        caplog.at_level(logging.WARNING),
        pytest.warns(RuntimeWarning) as warned,
        pytest.raises(nbcreds.SecretNotFound) as info,
    ):
        nbcreds.secret("BROKEN")
    texts = [str(w.message) for w in warned] + [caplog.text, str(info.value)]
    assert any("SECRET_BROKEN" in t and "not valid base64" in t for t in texts)
    for text in texts:
        assert_no_leak(text, [content])


def test_env_raw_mode(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    value = "raw value " + rand()
    monkeypatch.setenv("SECRET_RAW", value)
    write_config("[sources.env]\nraw = true\n")
    assert nbcreds.secret("RAW").reveal() == value


def test_explicit_env_reference_is_raw(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    value = rand()
    monkeypatch.setenv("PGPASSWORD", value)
    write_config('[namespaces."company.team".secrets]\nDB = "env:PGPASSWORD"\n')
    got = nbcreds.secret("DB", namespace="company.team.etl")
    assert got == value
    assert got.source == "env (company.team)"
    listing = {s.name: s for s in nbcreds.list_secrets("company.team.etl")}
    assert listing["DB"].level == "company.team"
    assert listing["DB"].inherited


def test_declared_reference_unset_is_a_clear_error(write_config) -> None:  # type: ignore[no-untyped-def]
    write_config('[secrets]\nDB = "env:NOT_SET_ANYWHERE"\n')
    with pytest.raises(nbcreds.SecretNotFound, match="env:NOT_SET_ANYWHERE"):
        nbcreds.secret("DB")


def test_missing_secret_message_says_where_it_looked() -> None:
    nbcreds.use_namespace("a.b")
    with pytest.raises(nbcreds.SecretNotFound) as info:
        nbcreds.secret("X")
    assert str(info.value) == (
        "Cannot find secret 'X' in namespace 'a.b' (looked in a.b, a, tenant; "
        "sources: session, env)."
    )
    assert isinstance(info.value, LookupError)
    assert info.value.name == "X"


def test_nearest_level_wins() -> None:
    tenant, mid, near = rand(), rand(), rand()
    nbcreds.bind_secret("TOKEN", tenant, namespace=None)
    nbcreds.bind_secret("TOKEN", mid, namespace="a")
    assert nbcreds.secret("TOKEN", namespace="a.b.c") == mid
    nbcreds.bind_secret("TOKEN", near, namespace="a.b.c")
    assert nbcreds.secret("TOKEN", namespace="a.b.c") == near
    assert nbcreds.secret("TOKEN", namespace="a.b") == mid
    assert nbcreds.secret("TOKEN", namespace="z") == tenant
    rows = {(r.name, r.level) for r in nbcreds.list_secrets("a.b.c")}
    assert rows == {("TOKEN", "a.b.c")}


def test_source_order_within_a_level(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    env_value, session_value = rand(), rand()
    monkeypatch.setenv("SECRET_K", b64(env_value))
    nbcreds.bind_secret("K", session_value)
    assert nbcreds.secret("K") == session_value  # default order: session, env
    write_config('[sources]\norder = ["env", "session"]\n')
    assert nbcreds.secret("K") == env_value


def test_session_secret_stays_in_memory(isolated_nbcreds) -> None:  # type: ignore[no-untyped-def]
    value = rand()
    message = nbcreds.bind_secret("TYPED", value, namespace="lab")
    assert_no_leak(message, [value])
    assert nbcreds.secret("TYPED", namespace="lab") == value
    # nothing written to the working directory or the XDG dirs
    home = isolated_nbcreds.parent
    for path in home.rglob("*"):
        if path.is_file():
            assert_no_leak(path.read_bytes(), [value])


def test_bind_secret_to_env_reads_at_each_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_VAR", "first-value-1")
    nbcreds.bind_secret("BOUND", env="MY_VAR")
    assert nbcreds.secret("BOUND") == "first-value-1"
    monkeypatch.setenv("MY_VAR", "second-value-2")
    assert nbcreds.secret("BOUND") == "second-value-2"


def test_bind_secret_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    value = rand()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": value)
    nbcreds.bind_secret("PROMPTED", prompt=True)
    assert nbcreds.secret("PROMPTED") == value
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "")
    with pytest.raises(nbcreds.SecretError, match="No value entered"):
        nbcreds.bind_secret("EMPTY", prompt=True)


def test_bind_secret_needs_exactly_one_way() -> None:
    with pytest.raises(nbcreds.SecretError, match="exactly one"):
        nbcreds.bind_secret("X")
    with pytest.raises(nbcreds.SecretError, match="exactly one"):
        nbcreds.bind_secret("X", "v" * 8, env="Y")


def test_field_of_a_json_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    key = rand()
    sa = json.dumps({"client_email": "bot@example.test", "private_key": key, "n": 3})
    monkeypatch.setenv("SECRET_SA", b64(sa))
    assert nbcreds.secret("SA", field="private_key") == key
    assert nbcreds.secret("SA", field="n") == "3"
    assert key in registry
    with pytest.raises(nbcreds.SecretError, match="no field 'nope'") as info:
        nbcreds.secret("SA", field="nope")
    assert_no_leak(str(info.value), [key])
    nbcreds.bind_secret("PLAIN", rand())
    with pytest.raises(nbcreds.SecretError, match="plain string"):
        nbcreds.secret("PLAIN", field="x")


def test_empty_name_is_rejected() -> None:
    with pytest.raises(nbcreds.SecretError):
        nbcreds.secret("")


def test_bad_namespace_argument() -> None:
    with pytest.raises(nbcreds.NamespaceError):
        nbcreds.secret("X", namespace="Bad NS")


def test_mask_and_unmask() -> None:
    value = rand()
    assert nbcreds.mask(value, "thing") == value
    assert value in registry
    assert nbcreds.unmask(value)
    assert value not in registry
    assert not nbcreds.unmask(value)


def test_bind_at_tenant_level_while_a_namespace_is_selected() -> None:
    value = rand()
    nbcreds.use_namespace("a.b")
    nbcreds.bind_secret("ROOTED", value, tenant=True)
    assert nbcreds.secret("ROOTED", namespace="z") == value
    with pytest.raises(nbcreds.SecretError, match="not both"):
        nbcreds.bind_secret("X", value, tenant=True, namespace="a")


def test_listing_shows_where_a_session_binding_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_VAR", rand())
    nbcreds.bind_secret("FROM_ENV", env="SOME_VAR")
    rows = {r.name: r.source for r in nbcreds.list_secrets()}
    assert rows["FROM_ENV"] == "session -> env"

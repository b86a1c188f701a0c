"""secret_binder: typed value (cleared at once), env var, Vault path; listing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import nbcreds as nc
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.widgets import secret_binder

VALUE = "b1nd3r-typed-s3cret/+=%"


def test_typed_value_is_bound_and_cleared_at_once(type_in: Any, everything_sent: Any) -> None:
    nc.use_namespace("acme")
    binder = secret_binder()
    binder.name.value = "DB_PASSWORD"
    type_in(binder.value, VALUE)
    assert binder.value.value == ""
    assert nc.secret("DB_PASSWORD").reveal() == VALUE
    assert "DB_PASSWORD bound in the session at acme" in binder.message.value
    assert "DB_PASSWORD" in binder.listing.value
    assert "session (typed value)" in binder.listing.value
    assert_no_leak(everything_sent(), [VALUE])


def test_a_value_without_a_name_is_discarded(type_in: Any, everything_sent: Any) -> None:
    binder = secret_binder()
    type_in(binder.value, VALUE)
    assert binder.value.value == ""
    assert "name first" in binder.message.value
    assert nc.list_secrets() == []
    assert_no_leak(everything_sent(), [VALUE])


def test_bind_from_an_env_var(monkeypatch: pytest.MonkeyPatch, everything_sent: Any) -> None:
    monkeypatch.setenv("MY_API_KEY", VALUE)
    binder = secret_binder()
    binder.name.value = "API_KEY"
    binder.mode.value = "env"
    assert binder.env in binder.children  # the field for the chosen source only
    assert binder.value not in binder.children
    binder.env.value = "MY_API_KEY"
    binder.bind_button.click()
    assert "bound to env:MY_API_KEY" in binder.message.value
    assert nc.secret("API_KEY").reveal() == VALUE
    assert [r.name for r in nc.list_secrets()] == ["API_KEY"]
    assert "API_KEY" in binder.listing.value
    assert "session \u2192 env" in binder.listing.value
    assert_no_leak(everything_sent(), [VALUE])


def test_vault_without_a_configured_vault_says_what_to_do() -> None:
    binder = secret_binder()
    binder.name.value = "V"
    binder.mode.value = "vault"
    binder.bind_button.click()
    assert "Vault path" in binder.message.value
    binder.vault.value = "kv/app#password"
    binder.bind_button.click()
    # bound lazily: reading it is what needs the Vault; the binding is listed
    assert "bound to vault:kv/app#password" in binder.message.value
    with pytest.raises(nc.ConfigError, match="no vault source configured"):
        nc.secret("V")


def test_tenant_level_while_a_namespace_is_selected(type_in: Any) -> None:
    nc.use_namespace("acme.data")
    binder = secret_binder()
    assert binder.level.value == "acme.data"  # follows the current namespace
    binder.level.value = ""  # the user picks the tenant level
    binder.name.value = "SHARED"
    type_in(binder.value, VALUE)
    (row,) = nc.list_secrets()
    assert (row.name, row.level, row.inherited) == ("SHARED", None, True)
    assert nc.secret("SHARED", namespace="other").reveal() == VALUE
    binder.refresh()
    assert binder.level.value == ""  # the user's pick survives a refresh


def test_button_in_value_mode_explains(everything_sent: Any) -> None:
    binder = secret_binder()
    binder.bind_button.click()
    assert "name first" in binder.message.value
    binder.name.value = "X"
    binder.bind_button.click()
    assert "press Enter" in binder.message.value


def test_password_value_is_not_echoed(type_in: Any, recorded: list[dict[str, Any]]) -> None:
    binder = secret_binder()
    binder.name.value = "E"
    type_in(binder.value, VALUE)
    echoes = [m for m in recorded if m["data"] and m["data"].get("method") == "echo_update"]
    # ipywidgets echoes frontend updates; the password field opted out
    assert all("value" not in m["data"]["state"] for m in echoes)
    sent_b64 = base64.b64encode(VALUE.encode()).decode()
    assert sent_b64 not in str(recorded)


@pytest.mark.vault
def test_bind_from_a_vault_path_on_a_real_openbao(
    openbao: Any, write_config: Any, monkeypatch: pytest.MonkeyPatch, everything_sent: Any
) -> None:
    import secrets as stdlib_secrets

    value = "vault-" + stdlib_secrets.token_urlsafe(16)
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="widgets/db", secret={"password": value}, mount_point="secret"
    )
    for var, setting in openbao.env().items():
        monkeypatch.setenv(var, setting)
    write_config('[sources.vault]\nurl = "env:VAULT_ADDR"\ntoken = "env:VAULT_TOKEN"\n')
    nc.mask(openbao.root_token, "root token")
    binder = secret_binder()
    binder.name.value = "DB_PASSWORD"
    binder.mode.value = "vault"
    binder.vault.value = "widgets/db#password"
    binder.bind_button.click()
    assert "bound to vault:widgets/db#password" in binder.message.value
    assert "session \u2192 vault" in binder.listing.value
    assert nc.secret("DB_PASSWORD").reveal() == value
    assert_no_leak(everything_sent(), [value, openbao.root_token])

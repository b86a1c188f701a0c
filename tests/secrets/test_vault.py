"""The Vault / OpenBao secret source, against a real OpenBao dev server."""

from __future__ import annotations

import logging
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import nbcreds
from nbcreds import (
    ConfigError,
    SecretBackendError,
    SecretError,
    SecretNotFound,
    SecretReadOnly,
)
from nbcreds._session import session
from nbcreds.masking import registry
from nbcreds.secrets.vault import VaultSource
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.openbao import OpenBaoLab, OpenBaoServer

pytestmark = pytest.mark.vault

WriteConfig = Callable[[str], Path]


def config_text(
    vault: dict[str, Any],
    *,
    order: list[str] | None = None,
    secrets_table: dict[str, str] | None = None,
    namespaces: dict[str, Any] | None = None,
) -> str:
    data: dict[str, Any] = {"sources": {"order": order or ["vault"], "vault": vault}}
    if secrets_table:
        data["secrets"] = secrets_table
    if namespaces:
        data["namespaces"] = namespaces
    return tomli_w.dumps(data)


def token_vault(prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": "env:VAULT_ADDR",
        "auth": "token",
        "token": "env:VAULT_TOKEN",
        "path_prefix": prefix,
        **extra,
    }


def value() -> str:
    """A fresh random secret value (registered, like any secret under test)."""
    v = secrets.token_urlsafe(18)
    registry.register(v, "test-value")
    return v


def no_leak(lab: OpenBaoLab | None, *texts: str, extra: Iterable[str] = ()) -> None:
    sensitive = [*(lab.sensitive() if lab else []), *extra]
    for text in texts:
        assert_no_leak(text, sensitive)


def vault_source() -> VaultSource:
    source = session().source("vault")
    assert isinstance(source, VaultSource)
    return source


# --- KV engines and the token method ---------------------------------------------------


def test_kv2_token_reads_a_tenant_secret(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    password = value()
    vault_lab.server.write_secret(f"{vault_prefix}/DB_PASSWORD", {"value": password})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))
    registry.unregister(password)

    got = nbcreds.secret("DB_PASSWORD")

    assert got.reveal() == password
    assert got.source == "vault"
    assert password in registry  # registered before it was returned
    assert password not in repr(got)
    source = vault_source()
    no_leak(vault_lab, repr(source), source.describe(), caplog.text, extra=[password])


def test_kv1_mount_reads_a_namespace_secret(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = value()
    vault_lab.server.write_secret(f"{vault_prefix}/team/data/API_KEY", {"value": key}, mount="kv1")
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix, mount="kv1", kv_version=1)))

    assert nbcreds.secret("API_KEY", namespace="team.data").reveal() == key
    with pytest.raises(SecretNotFound):
        nbcreds.secret("API_KEY", namespace="other")


@pytest.mark.parametrize(("mount", "configured", "actual"), [("secret", 1, 2), ("kv1", 2, 1)])
def test_kv_version_mismatch_is_explained(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    mount: str,
    configured: int,
    actual: int,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix, mount=mount, kv_version=configured)))

    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("ANYTHING")

    message = str(info.value)
    assert f"KV version {actual}" in message
    assert f"kv_version = {actual}" in message
    no_leak(vault_lab, message)


def test_lower_case_name_finds_the_upper_case_secret(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v = value()
    vault_lab.server.write_secret(f"{vault_prefix}/API_TOKEN", {"value": v})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))

    assert nbcreds.secret("api_token").reveal() == v


def test_a_name_with_a_slash_is_refused(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))

    with pytest.raises(SecretError, match="one path segment"):
        nbcreds.secret("../escape")


# --- login methods -----------------------------------------------------------------------


def login_config(
    lab: OpenBaoLab, method: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    if method == "approle":
        monkeypatch.setenv("NB_ROLE_ID", lab.role_id)
        monkeypatch.setenv("NB_SECRET_ID", lab.secret_id)
        return {
            "auth": "approle",
            "role_id": "env:NB_ROLE_ID",
            "secret_id": "env:NB_SECRET_ID",
            "path_prefix": prefix,
        }
    if method.startswith("userpass"):
        monkeypatch.setenv("NB_VAULT_PASSWORD", lab.password)
        monkeypatch.setenv("NB_VAULT_USER", lab.username)
        return {
            "auth": "userpass",
            "username": "env:NB_VAULT_USER" if method == "userpass-env-user" else lab.username,
            "password": "env:NB_VAULT_PASSWORD",
            "path_prefix": prefix,
        }
    monkeypatch.setenv("NB_JWT", lab.sign_jwt())
    return {"auth": "jwt", "role": lab.jwt_role, "jwt": "env:NB_JWT", "path_prefix": prefix}


def login_tokens() -> list[str]:
    return [v for v, label in registry.values().items() if label == "vault-token"]


@pytest.mark.parametrize("method", ["approle", "userpass", "userpass-env-user", "jwt"])
def test_login_methods_read_and_register_their_token(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    v = value()
    vault_lab.server.write_secret(f"{vault_prefix}/team/SERVICE_KEY", {"value": v})
    write_config(config_text(login_config(vault_lab, method, vault_prefix, monkeypatch)))
    assert login_tokens() == []

    assert nbcreds.secret("SERVICE_KEY", namespace="team").reveal() == v

    tokens = login_tokens()
    assert len(tokens) == 1  # the token obtained by login is masked
    assert tokens[0] not in vault_lab.sensitive()
    no_leak(vault_lab, caplog.text, repr(vault_source()), extra=[*tokens, v])


@pytest.mark.parametrize("method", ["approle", "userpass", "jwt"])
def test_refused_login_names_the_method_never_the_credentials(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = login_config(vault_lab, method, vault_prefix, monkeypatch)
    wrong = secrets.token_hex(16) if method != "jwt" else vault_lab.sign_jwt(audience="elsewhere")
    registry.register(wrong, "wrong-credential")
    var = {"approle": "NB_SECRET_ID", "userpass": "NB_VAULT_PASSWORD", "jwt": "NB_JWT"}[method]
    monkeypatch.setenv(var, wrong)
    write_config(config_text(settings))

    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("ANY")

    message = str(info.value)
    assert message.startswith("Vault login refused")
    assert f"{method} at auth/{method}" in message
    assert info.value.address == vault_lab.url
    assert info.value.status in (400, 403)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # the hvac error (its request holds the token) is gone
    no_leak(vault_lab, message, caplog.text, extra=[wrong])


def test_a_revoked_login_token_is_replaced_by_a_new_login(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v = value()
    vault_lab.server.write_secret(f"{vault_prefix}/K", {"value": v})
    write_config(config_text(login_config(vault_lab, "approle", vault_prefix, monkeypatch)))
    assert nbcreds.secret("K").reveal() == v
    [first] = login_tokens()

    vault_lab.server.revoke_token(first)

    assert nbcreds.secret("K").reveal() == v
    assert len(login_tokens()) == 2
    assert first in login_tokens()


def test_concurrent_first_use_logs_in_once(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    v = value()
    vault_lab.server.write_secret(f"{vault_prefix}/K", {"value": v})
    write_config(config_text(login_config(vault_lab, "approle", vault_prefix, monkeypatch)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: nbcreds.secret("K").reveal(), range(16)))

    assert results == [v] * 16
    assert len(login_tokens()) == 1


def test_login_token_is_revoked_when_the_config_is_reloaded(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hvac.exceptions

    write_config(config_text(login_config(vault_lab, "userpass", vault_prefix, monkeypatch)))
    with pytest.raises(SecretNotFound):
        nbcreds.secret("NOT_THERE")  # logs in
    [token] = login_tokens()
    admin = vault_lab.server.client()
    assert admin.auth.token.lookup(token)["data"]["display_name"].startswith("userpass")

    nbcreds.load_config()

    with pytest.raises(hvac.exceptions.VaultError):
        admin.auth.token.lookup(token)
    admin.adapter.close()


def test_credentials_from_a_session_secret_and_never_from_vault_itself(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
) -> None:
    v = value()
    vault_lab.server.write_secret(f"{vault_prefix}/K", {"value": v})
    write_config(
        config_text(
            token_vault(vault_prefix, token="secret:NB_VAULT_TOKEN"), order=["session", "vault"]
        )
    )

    with pytest.raises(SecretBackendError, match="looked up in Vault itself") as info:
        nbcreds.secret("K")
    no_leak(vault_lab, str(info.value))

    nbcreds.bind_secret("NB_VAULT_TOKEN", vault_lab.reader_token)
    nbcreds.load_config()  # a fresh source, which now finds its token in the session
    assert nbcreds.secret("K").reveal() == v


def test_an_unset_token_reference_says_which(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
) -> None:
    write_config(config_text(token_vault(vault_prefix)))

    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("K")

    assert "env:VAULT_TOKEN is unset" in str(info.value)
    assert info.value.address == vault_lab.url


# --- inheritance, fields, references ---------------------------------------------------


def test_namespace_inheritance_nearest_level_wins(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at_a, at_ab, tenant = value(), value(), value()
    vault_lab.server.write_secret(f"{vault_prefix}/a/SHARED", {"value": at_a})
    vault_lab.server.write_secret(f"{vault_prefix}/a/b/SHARED", {"value": at_ab})
    vault_lab.server.write_secret(f"{vault_prefix}/a/ONLY_A", {"value": at_a})
    vault_lab.server.write_secret(f"{vault_prefix}/GLOBAL", {"value": tenant})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))
    nbcreds.use_namespace("a.b.c")

    assert nbcreds.secret("SHARED").reveal() == at_ab
    assert nbcreds.secret("SHARED", namespace="a").reveal() == at_a
    assert nbcreds.secret("ONLY_A").reveal() == at_a
    assert nbcreds.secret("GLOBAL").reveal() == tenant
    with pytest.raises(SecretNotFound) as info:
        nbcreds.secret("MISSING")
    assert "looked in a.b.c, a.b, a, tenant; sources: vault" in str(info.value)


def test_field_selection(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password, only, main, other = (value() for _ in range(5))
    server = vault_lab.server
    server.write_secret(f"{vault_prefix}/DB", {"user": user, "password": password})
    server.write_secret(f"{vault_prefix}/SINGLE", {"token": only})
    server.write_secret(f"{vault_prefix}/WITH_VALUE", {"value": main, "other": other})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))

    assert nbcreds.secret("DB", field="user").reveal() == user
    assert nbcreds.secret("DB", field="password").reveal() == password
    assert nbcreds.secret("SINGLE").reveal() == only
    assert nbcreds.secret("WITH_VALUE").reveal() == main
    assert nbcreds.secret("WITH_VALUE", field="other").reveal() == other
    with pytest.raises(SecretError) as several:
        nbcreds.secret("DB")
    assert "several fields (password, user)" in str(several.value)
    assert "field=" in str(several.value)
    with pytest.raises(SecretError) as unknown:
        nbcreds.secret("DB", field="host")
    assert "no field 'host'" in str(unknown.value)
    for err in (several, unknown):
        no_leak(vault_lab, str(err.value), extra=[user, password])
    assert password in registry
    assert user in registry


def test_vault_references_in_secrets_tables(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password, api = value(), value(), value()
    vault_lab.server.write_secret(f"{vault_prefix}/pg", {"user": user, "password": password})
    vault_lab.server.write_secret(f"{vault_prefix}/api", {"key": api})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(
        config_text(
            token_vault("unused"),
            order=["session", "env"],  # references work without vault in the order
            secrets_table={
                "PG_PASSWORD": f"vault:{vault_prefix}/pg#password",
                "GONE": f"vault:{vault_prefix}/nothing-here",
            },
            namespaces={"team": {"secrets": {"API_KEY": f"vault:{vault_prefix}/api"}}},
        )
    )

    assert nbcreds.secret("PG_PASSWORD").reveal() == password
    assert nbcreds.secret("API_KEY", namespace="team").reveal() == api
    assert nbcreds.secret("PG_PASSWORD", namespace="team").reveal() == password  # inherited
    with pytest.raises(SecretNotFound, match="vault:") as info:
        nbcreds.secret("GONE")
    no_leak(vault_lab, str(info.value), extra=[user, password, api])


def test_bind_secret_to_a_vault_path(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = value()
    vault_lab.server.write_secret(f"{vault_prefix}/svc", {"value": token, "note": value()})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault("unused"), order=["session", "env"]))

    described = nbcreds.bind_secret("SVC_TOKEN", vault=f"{vault_prefix}/svc", namespace="team")
    got = nbcreds.secret("SVC_TOKEN", namespace="team.sub")  # inherited from team

    assert got.reveal() == token
    assert got.source == "session"
    assert f"vault:{vault_prefix}/svc" in described
    no_leak(vault_lab, described, repr(got), extra=[token])


def test_bind_secret_to_a_vault_path_and_field(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = value(), value()
    vault_lab.server.write_secret(f"{vault_prefix}/pg", {"user": user, "password": password})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault("unused"), order=["session", "env"]))

    nbcreds.bind_secret("PG_USER", vault=f"{vault_prefix}/pg#user")

    assert nbcreds.secret("PG_USER").reveal() == user


# --- writing -----------------------------------------------------------------------------


def test_read_only_refuses_writes(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.writer_token)
    write_config(config_text(token_vault(vault_prefix, read_only=True)))
    v = value()

    with pytest.raises(SecretReadOnly) as info:
        vault_source().set("team", "NEW_KEY", v)

    message = str(info.value)
    assert "read-only" in message
    assert "NEW_KEY" in message
    assert "read_only = false" in message
    assert vault_lab.server.read_secret(f"{vault_prefix}/team/NEW_KEY") is None
    no_leak(vault_lab, message, extra=[v])


def test_set_writes_a_value_field_when_allowed(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.writer_token)
    write_config(config_text(token_vault(vault_prefix)))
    v = value()

    vault_source().set("team", "new_key", v)

    assert vault_lab.server.read_secret(f"{vault_prefix}/team/NEW_KEY") == {"value": v}
    assert nbcreds.secret("NEW_KEY", namespace="team").reveal() == v


def test_set_without_write_policy_is_permission_denied(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))
    v = value()

    with pytest.raises(SecretBackendError) as info:
        vault_source().set(None, "NEW_KEY", v)

    assert info.value.status == 403
    assert f"permission denied writing secret/{vault_prefix}/NEW_KEY" in str(info.value)
    no_leak(vault_lab, str(info.value), extra=[v])


# --- listing -----------------------------------------------------------------------------


def test_names_and_list_secrets(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = vault_lab.server
    server.write_secret(f"{vault_prefix}/TENANT_KEY", {"value": value()})
    server.write_secret(f"{vault_prefix}/team/TEAM_KEY", {"value": value()})
    server.write_secret(f"{vault_prefix}/team/sub/SUB_KEY", {"value": value()})
    server.write_secret(f"{vault_prefix}/team/sub/TENANT_KEY", {"value": value()})
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    write_config(config_text(token_vault(vault_prefix)))
    source = vault_source()

    assert source.names(None) == ["TENANT_KEY"]  # the folder "team/" is not a secret
    assert source.names("team") == ["TEAM_KEY"]
    assert source.names("nowhere") == []
    listing = {row.name: row.as_dict() for row in nbcreds.list_secrets("team.sub")}
    assert listing == {
        "SUB_KEY": {"name": "SUB_KEY", "source": "vault", "level": "team.sub", "inherited": False},
        "TEAM_KEY": {"name": "TEAM_KEY", "source": "vault", "level": "team", "inherited": True},
        "TENANT_KEY": {
            "name": "TENANT_KEY",
            "source": "vault",
            "level": "team.sub",
            "inherited": False,
        },  # the nearest level wins
    }


# --- failures ----------------------------------------------------------------------------


def test_a_token_without_policy_gets_permission_denied(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vault_lab.server.write_secret(f"{vault_prefix}/GUARDED", {"value": value()})
    stranger = vault_lab.server.create_token(["default"])
    monkeypatch.setenv("VAULT_TOKEN", stranger)
    write_config(config_text(token_vault(vault_prefix)))

    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("GUARDED")

    message = str(info.value)
    assert info.value.status == 403
    assert info.value.address == vault_lab.url
    assert f"permission denied reading secret/{vault_prefix}/GUARDED at {vault_lab.url}" in message
    assert "check the token's policy" in message
    no_leak(vault_lab, message, caplog.text, extra=[stranger])


def test_server_stopped_mid_session(
    openbao_server: OpenBaoServer,
    write_config: WriteConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    v = value()
    openbao_server.write_secret("nbcreds/DB_PASSWORD", {"value": v})
    write_config(config_text(token_vault("nbcreds")))
    assert nbcreds.secret("DB_PASSWORD").reveal() == v

    openbao_server.stop()
    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("DB_PASSWORD")

    message = str(info.value)
    assert message.startswith(f"cannot reach Vault at {openbao_server.url}: is it running?")
    assert info.value.address == openbao_server.url
    assert info.value.source == "vault"
    assert info.value.status is None
    no_leak(None, message, caplog.text, repr(openbao_server), extra=[openbao_server.root_token, v])

    # back up (a dev server restarts empty): the same source recovers by itself
    openbao_server.start()
    openbao_server.write_secret("nbcreds/DB_PASSWORD", {"value": v})
    assert nbcreds.secret("DB_PASSWORD").reveal() == v
    openbao_server.seal()  # the restarted server has a new unseal key, and the fixture knows it
    openbao_server.unseal()
    assert nbcreds.secret("DB_PASSWORD").reveal() == v


def test_sealed_server_gives_a_clear_error(
    openbao_server: OpenBaoServer,
    write_config: WriteConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    v = value()
    openbao_server.write_secret("nbcreds/K", {"value": v})
    write_config(config_text(token_vault("nbcreds")))
    assert nbcreds.secret("K").reveal() == v

    openbao_server.seal()
    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("K")

    message = str(info.value)
    assert info.value.status == 503
    assert f"Vault at {openbao_server.url} is sealed (HTTP 503)" in message
    assert "unseal" in message
    no_leak(
        None,
        message,
        caplog.text,
        openbao_server.log_tail(200),
        extra=[openbao_server.root_token, v],
    )

    openbao_server.unseal()
    assert nbcreds.secret("K").reveal() == v


def test_a_server_that_never_answers_times_out(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    token = value()
    monkeypatch.setenv("VAULT_TOKEN", token)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        write_config(config_text({"url": url, "timeout": 0.3, "path_prefix": "p"}))

        with pytest.raises(SecretBackendError) as info:
            nbcreds.secret("K")

    assert str(info.value).startswith(f"Vault at {url} did not answer within 0.3s")
    assert info.value.address == url
    no_leak(None, str(info.value), extra=[token])


# --- TLS ---------------------------------------------------------------------------------


def test_verify_false_warns_naming_the_url(
    write_config: WriteConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "https://vault.invalid:8200"
    write_config(config_text({"url": url, "verify": False, "path_prefix": "x"}))

    with pytest.warns(RuntimeWarning, match=re.escape(url)):
        vault_source()

    assert url in caplog.text
    assert "verify = false" in caplog.text


def test_tls_server_with_ca_cert_without_it_and_with_verify_false(
    openbao_tls_server: OpenBaoServer,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = openbao_tls_server
    v = value()
    server.write_secret("nbcreds/K", {"value": v})
    assert server.ca_cert is not None

    write_config(config_text(token_vault("nbcreds", ca_cert=str(server.ca_cert))))
    assert nbcreds.secret("K").reveal() == v

    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # the system CAs do not know it
        monkeypatch.delenv(var, raising=False)
    write_config(config_text(token_vault("nbcreds")))
    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("K")
    assert f"TLS verification failed for Vault at {server.url}" in str(info.value)
    assert "ca_cert" in str(info.value)

    write_config(config_text(token_vault("nbcreds", verify=False)))
    with pytest.warns(RuntimeWarning, match=re.escape(server.url)):
        assert nbcreds.secret("K").reveal() == v
    no_leak(None, str(info.value), caplog.text, extra=[server.root_token, v])


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "fragment", "when"),
    [
        ({"colour": "blue"}, "colour", "unknown key", "load"),
        ({"colur": "blue"}, "colur", "unknown key", "load"),
        ({"auth": "kerberos"}, "auth", "must be one of 'token'", "load"),
        ({"auth": ["token"]}, "auth", "must be a string", "load"),
        ({"kv_version": 3}, "kv_version", "must be one of 1, 2", "load"),
        ({"role_id": "env:X"}, "role_id", "only used with auth = 'approle'", "load"),
        ({"auth": "approle"}, "role_id", "needs 'role_id'", "load"),
        ({"auth": "jwt", "jwt": "env:J"}, "role", "needs 'role'", "load"),
        ({"token": "vault:tokens/nb#value"}, "token", "cannot come from Vault", "load"),
        ({"url": "ftp://host"}, "url", "http:// or https://", "load"),
        ({"url": "env:NB_NO_SUCH_ADDR"}, "url", "NB_NO_SUCH_ADDR is not set", "use"),
        ({"ca_cert": "missing-ca.pem"}, "ca_cert", "no CA certificate", "use"),
        ({"ca_cert": "missing-ca.pem", "verify": False}, "verify", "contradict", "load"),
        ({"timeout": 0}, "timeout", "positive", "load"),
        ({"read_only": "yes"}, "read_only", "true or false", "load"),
    ],
)
def test_config_errors_name_the_table_and_key(
    vault_lab: OpenBaoLab,
    write_config: WriteConfig,
    settings: dict[str, Any],
    key: str,
    fragment: str,
    when: str,
) -> None:
    """Typos, wrong types and bad values fail when the config loads; what depends on
    the environment (an unset variable, a missing file) when the source is built."""
    text = config_text({"url": "env:VAULT_ADDR", **settings})
    if when == "load":
        with pytest.raises(ConfigError) as info:
            write_config(text)
    else:
        write_config(text)
        with pytest.raises(ConfigError) as info:
            nbcreds.secret("ANY")

    message = str(info.value)
    assert fragment in message
    assert "table [sources.vault]" in message
    assert f"key '{key}'" in message
    assert "nbcreds.toml" in message


def test_a_literal_token_in_the_config_is_refused(
    vault_lab: OpenBaoLab,
    write_config: WriteConfig,
) -> None:
    with pytest.raises(ConfigError) as info:
        write_config(config_text({"url": "env:VAULT_ADDR", "token": vault_lab.reader_token}))
    assert "key 'token'" in str(info.value)
    no_leak(vault_lab, str(info.value))


# --- the fixture and the import rule -----------------------------------------------------


def test_fixture_never_shows_its_token(openbao_lab: OpenBaoLab) -> None:
    server = openbao_lab.server
    assert server.running
    assert server.pid is not None
    assert server.url.startswith("http://127.0.0.1:")
    tail = server.log_tail(500)
    assert "Root Token: ****" in tail  # the line is there, the value is not
    no_leak(openbao_lab, tail, repr(server))


def test_vault_modules_do_not_import_hvac() -> None:
    code = (
        "import sys, nbcreds, nbcreds.secrets.vault, nbcreds.testing.openbao\n"
        "heavy = [m for m in ('hvac', 'requests', 'jwt', 'cryptography') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_fixture_start_failure_shows_the_log_tail_without_the_token() -> None:
    import socket

    from nbcreds.testing.openbao import OpenBaoError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = OpenBaoServer(port=busy.getsockname()[1], startup_timeout=20)
        with pytest.raises(OpenBaoError) as info:
            server.start()
    server.close()

    message = str(info.value)
    assert "exited with code" in message
    assert "address already in use" in message  # the log tail explains why
    assert not server.running
    no_leak(None, message, extra=[server.root_token])


def test_fixture_refuses_a_missing_binary(tmp_path: Path) -> None:
    from nbcreds.testing.openbao import OpenBaoError

    with pytest.raises(OpenBaoError, match="no executable OpenBao binary"):
        OpenBaoServer(binary=tmp_path / "bao")

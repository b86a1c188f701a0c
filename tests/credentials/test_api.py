"""The public functions: inheritance, info, listing, test button, validation, laziness."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import ConfigError, CredentialConfigError, CredentialNotFound
from nbcreds.credentials import parse_duration
from nbcreds.testing.leaks import assert_no_leak


def cc(
    name: str,
    endpoint: str,
    client_id: str,
    secret_ref: str = "secret:CLIENT_SECRET",
    prefix: str = "credentials",
    extra: str = "",
) -> str:
    return (
        f"[{prefix}.{name}]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        f'client_secret = "{secret_ref}"\n' + extra
    )


@pytest.fixture
def layered(oauth: Any, write_config: Any, unique: Any) -> dict[str, str]:
    """'api' at tenant and in 'company.team' (different clients), 'only_tenant' at tenant."""
    tenant_id, team_id = unique("tenant"), unique("team")
    oauth.add_client(tenant_id, client_secret="tenant-secret-value")
    oauth.add_client(team_id, client_secret="team-secret-value")
    nbcreds.bind_secret("CLIENT_SECRET", "tenant-secret-value", namespace=None)
    nbcreds.bind_secret("CLIENT_SECRET", "team-secret-value", namespace="company.team")
    write_config(
        cc("api", oauth.token_endpoint, tenant_id, extra='description = "tenant api"\n')
        + cc("only_tenant", oauth.token_endpoint, tenant_id)
        + cc(
            "api",
            oauth.token_endpoint,
            team_id,
            prefix='namespaces."company.team".credentials',
            extra='scopes = ["team"]\ndescription = "team api"\n',
        )
    )
    return {"tenant": tenant_id, "team": team_id}


def test_nearest_definition_wins_and_secrets_resolve_at_its_level(
    oauth: Any, layered: dict[str, str]
) -> None:
    tenant_token = nbcreds.credential("api")
    team_token = nbcreds.credential("api", namespace="company.team.project")
    assert tenant_token != team_token
    assert oauth.requests[-1].headers["Authorization"] != oauth.requests[0].headers["Authorization"]
    # the tenant credential uses the tenant secret even when asked from a namespace
    assert nbcreds.credential("only_tenant", namespace="company.team") == nbcreds.credential(
        "only_tenant"
    )
    assert oauth.token_requests == 3


def test_current_namespace_switch_is_seen_by_the_fast_path(layered: dict[str, str]) -> None:
    tenant_token = nbcreds.credential("api")
    nbcreds.use_namespace("company.team")
    team_token = nbcreds.credential("api")
    assert team_token != tenant_token
    nbcreds.use_namespace(None)
    assert nbcreds.credential("api") == tenant_token


def test_credential_info(layered: dict[str, str]) -> None:
    info = nbcreds.credential_info("api", namespace="company.team")
    assert (info.name, info.type, info.namespace, info.level) == (
        "api",
        "oauth2_client_credentials",
        "company.team",
        "company.team",
    )
    assert info.scopes == ("team",)
    assert info.description == "team api"
    assert not info.cached
    assert info.refresh_due
    assert info.expires_at is None
    token = nbcreds.credential("api", namespace="company.team")
    info = nbcreds.credential_info("api", namespace="company.team")
    assert info.cached
    assert not info.refresh_due
    assert info.expires_at is not None
    assert_no_leak(repr(info), [token])
    tenant = nbcreds.credential_info("api")
    assert tenant.level == "tenant"
    assert tenant.namespace is None
    assert not tenant.cached


def test_list_credentials_shows_levels_and_inheritance(layered: dict[str, str]) -> None:
    nbcreds.credential("only_tenant")
    rows = {r.name: r for r in nbcreds.list_credentials("company.team.project")}
    assert set(rows) == {"api", "only_tenant"}
    assert rows["api"].level == "company.team"
    assert rows["api"].inherited
    assert rows["only_tenant"].level is None
    assert rows["only_tenant"].inherited
    assert rows["only_tenant"].cached
    assert rows["only_tenant"].expires_at is not None
    assert not rows["api"].cached
    direct = {r.name: r for r in nbcreds.list_credentials("company.team")}
    assert direct["api"].inherited is False
    assert direct["api"].as_dict()["level"] == "company.team"
    assert nbcreds.list_credentials()[0].as_dict()["level"] == "tenant"


def test_test_credential_success_bypasses_the_cache(oauth: Any, layered: dict[str, str]) -> None:
    token = nbcreds.credential("api")
    result = nbcreds.test_credential("api")
    assert result.success
    assert bool(result)
    assert "a token was obtained" in result.message
    assert oauth.token_requests == 2  # a fresh mint
    assert nbcreds.credential("api") == token  # the cache was left alone
    assert_no_leak(result.message + repr(result), [token, "tenant-secret-value"])


def test_test_credential_failure_never_raises(oauth: Any, write_config: Any, unique: Any) -> None:
    client_id = unique("test-fail")
    oauth.add_client(client_id, client_secret="right-secret-value")
    nbcreds.bind_secret("CLIENT_SECRET", "wrong-secret-value")
    write_config(cc("api", oauth.token_endpoint, client_id))
    result = nbcreds.test_credential("api")
    assert not result.success
    assert "invalid_client" in result.message
    missing = nbcreds.test_credential("nope")
    assert not missing.success
    assert "Cannot find credential 'nope'" in missing.message
    assert_no_leak(result.message, ["wrong-secret-value", "right-secret-value"])


def test_unknown_credential(write_config: Any) -> None:
    write_config("")
    with pytest.raises(CredentialNotFound) as info:
        nbcreds.credential("nope", namespace="a.b")
    message = str(info.value)
    assert "'nope'" in message
    assert "a.b, a, tenant" in message
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            'type = "oauth2_client_credentials"\nclient_id = "c"\nclient_secret = "secret:S"\n',
            "token_endpoint",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "https://x/t"\n'
            'client_secret = "secret:S"\n',
            "client_id",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "https://x/t"\nclient_id = "c"\n'
            'client_secret = "secret:S"\nclient_auth_method = "tls"\n',
            "client_auth_method",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "https://x/t"\nclient_id = "c"\n'
            'client_secret = "secret:S"\nclient_sekret = "x"\n',
            "client_sekret",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "ftp://x/t"\nclient_id = "c"\n'
            'client_secret = "secret:S"\n',
            "token_endpoint",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "https://x/t"\nclient_id = "c"\n'
            'client_secret = "secret:S"\n[credentials.bad.token_caching]\n'
            'refresh_before_expiry = "one minute"\n',
            "token_caching.refresh_before_expiry",
        ),
        (
            'type = "oauth2_client_credentials"\ntoken_endpoint = "https://x/t"\nclient_id = "c"\n'
            'client_secret = "secret:S"\n[credentials.bad.token_caching]\nenabled = "yes"\n',
            "token_caching.enabled",
        ),
        ('type = "oauth3"\n', "type"),
        (
            'type = "oauth2_jwt_bearer"\ntoken_endpoint = "https://x/t"\n'
            'private_key = "secret:K"\n',
            "issuer",
        ),
        (
            'type = "oauth2_jwt_bearer"\ntoken_endpoint = "https://x/t"\nissuer = "i"\n'
            'private_key = "secret:K"\nalgorithm = "HS256"\n',
            "algorithm",
        ),
    ],
)
def test_definition_errors_name_credential_level_and_key(
    write_config: Any, isolated_nbcreds: Path, body: str, key: str
) -> None:
    # a bad definition fails when the config loads, not at first use
    with pytest.raises(CredentialConfigError) as info:
        write_config(
            f'[namespaces."ops".credentials.bad]\n{body}'.replace(
                "[credentials.bad.", '[namespaces."ops".credentials.bad.'
            )
        )
    path = isolated_nbcreds / "nbcreds.toml"
    assert info.value.key == key
    assert info.value.path == str(path)
    message = str(info.value)
    assert "'bad'" in message
    assert "level ops" in message
    assert f"key '{key}'" in message
    assert str(path) in message


def test_literal_client_secret_is_refused_by_the_config_loader(write_config: Any) -> None:
    with pytest.raises(ConfigError, match="client_secret"):
        write_config(cc("api", "https://x/t", "c", secret_ref="hunter2-literal"))


def test_env_reference_for_the_secret(
    oauth: Any, write_config: Any, unique: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = unique("envref")
    oauth.add_client(client_id, client_secret="env-ref-secret")
    monkeypatch.setenv("MY_CLIENT_SECRET", "env-ref-secret")
    write_config(cc("api", oauth.token_endpoint, client_id, secret_ref="env:MY_CLIENT_SECRET"))
    assert oauth.issued(nbcreds.credential("api"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1M", 60),
        ("PT30S", 30),
        ("PT1H30M", 5400),
        ("P1D", 86400),
        ("PT0.5S", 0.5),
        ("P1DT1S", 86401),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "1M", "PT1X", "one minute", "-PT1M"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_duration(text)


def test_import_is_light() -> None:
    code = (
        "import sys, nbcreds, nbcreds.credentials\n"
        "nbcreds.credential\n"
        "heavy = [m for m in ('jwt', 'cryptography', 'authlib', 'joserfc') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_leak_anywhere(
    oauth: Any, keys: Any, write_config: Any, unique: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """One sweep over every output of a session using all failure paths."""
    caplog.set_level(logging.DEBUG, logger="nbcreds")
    caplog.set_level(logging.DEBUG, logger="httpx")
    client_id, pk_id = unique("sweep"), unique("sweep-pk")
    secret = "sweep-client-secret-value"
    oauth.add_client(client_id, client_secret=secret)
    oauth.add_client(pk_id, public_key=keys["rsa"].public_pem)
    nbcreds.bind_secret("CLIENT_SECRET", secret)
    nbcreds.bind_secret("PK_KEY", keys["rsa2"].private_pem)  # the wrong key: refused
    write_config(
        cc("api", oauth.token_endpoint, client_id) + "[credentials.pk]\n"
        'type = "oauth2_private_key_jwt"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"client_id = {json.dumps(pk_id)}\n"
        'private_key = "secret:PK_KEY"\n'
    )
    outputs: list[str] = []
    oauth.fail_next(1, 500)
    token = nbcreds.credential("api")
    outputs += [
        repr(token),
        str(nbcreds.credential_info("api")),
        repr(nbcreds.list_credentials()),
        repr(nbcreds.test_credential("api")),
    ]
    for _ in range(2):
        try:
            nbcreds.credential("pk")
        except nbcreds.TokenRequestError as exc:
            outputs += [str(exc), repr(exc), repr(exc.__dict__)]
    outputs.append(repr(nbcreds.test_credential("pk")))
    tokens = [r for r in oauth.requests if r.path == "/token"]
    assertions = [r.form["client_assertion"] for r in tokens if "client_assertion" in r.form]
    assert assertions
    haystack = "\n".join(outputs) + caplog.text
    assert "invalid_client" in haystack
    pem_lines = keys["rsa2"].private_pem.splitlines()[1:-1]
    assert_no_leak(
        haystack, [secret, token.reveal(), *assertions, keys["rsa2"].private_pem, *pem_lines]
    )


def test_namespace_from_the_environment_is_seen_by_the_fast_path(
    layered: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_token = nbcreds.credential("api")
    assert nbcreds.credential("api") is tenant_token
    monkeypatch.setenv("NBCREDS_NAMESPACE", "company.team")
    team_token = nbcreds.credential("api")
    assert team_token != tenant_token
    assert nbcreds.credential_info("api").namespace == "company.team"
    monkeypatch.delenv("NBCREDS_NAMESPACE")
    assert nbcreds.credential("api") == tenant_token

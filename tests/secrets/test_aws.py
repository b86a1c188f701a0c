"""The aws source against a real moto server (Secrets Manager, SSM Parameter Store)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

import nbcreds as nc
from nbcreds import ConfigError, SecretBackendError, SecretNotFound
from nbcreds._session import session
from nbcreds.masking import registry
from nbcreds.secrets._aws import AwsSource
from nbcreds.testing.aws import MotoServer
from nbcreds.testing.leaks import find_leaks

WriteConfig = Callable[[str], Path]


def _value() -> str:
    return "aws-" + secrets.token_urlsafe(18)


def _aws_config(moto: MotoServer, extra: str = "") -> str:
    return f'[sources.aws]\nendpoint_url = "{moto.url}"\nregion = "{moto.region}"\n{extra}'


def test_secrets_manager_reference(aws_env: MotoServer, write_config: WriteConfig) -> None:
    value = _value()
    aws_env.client("secretsmanager").create_secret(Name="prod/db", SecretString=value)
    write_config(_aws_config(aws_env) + '[secrets]\nDB = "aws:prod/db"\n')
    got = nc.secret("DB")
    assert got.reveal() == value
    assert repr(got) == "<Secret DB ****>"
    assert value in registry.values()
    assert "aws" not in nc.load_config().source_order()  # references work outside the order


def test_json_field_reference(aws_env: MotoServer, write_config: WriteConfig) -> None:
    password = _value()
    blob = json.dumps({"username": "etl", "password": password, "port": 5432})
    aws_env.client("secretsmanager").create_secret(Name="prod/pg", SecretString=blob)
    write_config(
        _aws_config(aws_env)
        + '[secrets]\nPG_PW = "aws:prod/pg#password"\nPG_PORT = "aws:prod/pg#port"\n'
    )
    assert nc.secret("PG_PW").reveal() == password
    assert nc.secret("PG_PORT").reveal() == "5432"
    assert password in registry.values()
    with pytest.raises(nc.SecretError, match="no field 'nope'"):
        nc.secret("PG_PW", field="nope")


def test_binary_secret(aws_env: MotoServer, write_config: WriteConfig) -> None:
    value = _value()
    aws_env.client("secretsmanager").create_secret(Name="bin", SecretBinary=value.encode())
    write_config(_aws_config(aws_env) + '[secrets]\nB = "aws:bin"\n')
    assert nc.secret("B").reveal() == value


def test_ssm_secure_string_is_decrypted(aws_env: MotoServer, write_config: WriteConfig) -> None:
    value = _value()
    ssm = aws_env.client("ssm")
    ssm.put_parameter(Name="/team/api/key", Value=value, Type="SecureString")
    ssm.put_parameter(Name="/team/plain", Value="plain-param-1", Type="String")
    write_config(
        _aws_config(aws_env)
        + '[secrets]\nAPI = "aws-ssm:/team/api/key"\nPLAIN = "aws-ssm:/team/plain"\n'
    )
    assert nc.secret("API").reveal() == value
    assert nc.secret("PLAIN").reveal() == "plain-param-1"
    assert value in registry.values()


def test_missing_secret_and_parameter(aws_env: MotoServer, write_config: WriteConfig) -> None:
    write_config(_aws_config(aws_env) + '[secrets]\nA = "aws:no/such"\nB = "aws-ssm:/no/such"\n')
    with pytest.raises(SecretNotFound, match="aws:no/such"):
        nc.secret("A")
    with pytest.raises(SecretNotFound, match="aws-ssm:/no/such"):
        nc.secret("B")


def test_in_the_order_levels_map_to_secret_names(
    aws_env: MotoServer, write_config: WriteConfig
) -> None:
    sm = aws_env.client("secretsmanager")
    team, tenant = _value(), _value()
    sm.create_secret(Name="nbcreds/acme/team/API_KEY", SecretString=team)
    sm.create_secret(Name="nbcreds/TENANT_KEY", SecretString=tenant)
    write_config('[sources]\norder = ["session", "aws"]\n' + _aws_config(aws_env))
    nc.use_namespace("acme.team.project")
    assert (nc.secret("API_KEY").reveal(), nc.secret("API_KEY").source) == (team, "aws")
    assert nc.secret("TENANT_KEY").reveal() == tenant
    rows = {r.name: (r.source, r.level) for r in nc.list_secrets()}
    assert rows == {"API_KEY": ("aws", "acme.team"), "TENANT_KEY": ("aws", None)}


def test_access_denied_is_a_backend_error_without_secrets(
    aws_env: MotoServer, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    write_config(_aws_config(aws_env) + '[secrets]\nDB = "aws:prod/db"\n')
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
        "GetSecretValue",
    )
    source = session().source("aws")
    client = source._client("secretsmanager")
    with (
        mock.patch.object(client, "get_secret_value", side_effect=denied),
        pytest.raises(SecretBackendError, match="AccessDeniedException") as caught,
    ):
        nc.secret("DB")
    assert "lack permission" in str(caught.value)
    assert caught.value.__context__ is None  # no botocore request hangs off it
    assert find_leaks(str(caught.value), [aws_env.secret_access_key]) == []


def _throttled() -> object:
    from botocore.awsrequest import AWSResponse

    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
    raw = mock.Mock()
    raw.stream.return_value = [body.encode()]
    return AWSResponse("https://throttled.invalid", 400, {}, raw)


def test_throttling_is_retried_then_mapped(aws_env: MotoServer, write_config: WriteConfig) -> None:
    """botocore's standard retry mode retries throttling; after max_attempts, our error.
    Fault injection: the server is real, a throttling answer replaces the first sends."""
    value = _value()
    aws_env.client("secretsmanager").create_secret(Name="hot", SecretString=value)
    write_config(_aws_config(aws_env, "max_attempts = 3\n") + '[secrets]\nHOT = "aws:hot"\n')
    source = session().source("aws")
    client = source._client("secretsmanager")
    event = "before-send.secrets-manager.GetSecretValue"
    calls: list[int] = []
    throttle_first = 2

    def inject(**kwargs: object) -> object:
        calls.append(1)
        return _throttled() if len(calls) <= throttle_first else None  # None: really send

    client.meta.events.register(event, inject)
    try:
        assert nc.secret("HOT").reveal() == value  # two throttles, then through
        assert len(calls) == 3
        calls.clear()
        throttle_first = 100
        with pytest.raises(SecretBackendError, match=r"throttled .* after 3 attempts"):
            nc.secret("HOT")
        assert len(calls) == 3  # bounded: max_attempts counts every attempt
    finally:
        client.meta.events.unregister(event, inject)


def test_no_credentials_says_what_to_do(
    aws_env: MotoServer, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    write_config(_aws_config(aws_env) + '[secrets]\nDB = "aws:prod/db"\n')
    with pytest.raises(SecretBackendError, match="no AWS credentials found"):
        nc.secret("DB")


def test_server_down_is_a_backend_error(aws_env: MotoServer, write_config: WriteConfig) -> None:
    from nbcreds.testing._net import free_port

    write_config(
        f'[sources.aws]\nendpoint_url = "http://127.0.0.1:{free_port()}"\nregion = "eu-west-1"\n'
        "max_attempts = 1\ntimeout = 2\n"
        '[secrets]\nDB = "aws:prod/db"\n'
    )
    with pytest.raises(SecretBackendError, match="EndpointConnectionError"):
        nc.secret("DB")


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ('aws_access_key_id = "env:X"', "unknown key"),
        ('profile = "AKIAABCDEFGHIJKLMNOP"', "AWS access key"),
        ('regoin = "eu-west-1"', "did you mean 'region'"),
        ('endpoint_url = "http://u:p@127.0.0.1:1"', "must not hold credentials"),
        ("max_attempts = 0", "1 to 10"),
        ("timeout = -1", "positive"),
        ('region = ""', "must not be empty"),
    ],
)
def test_settings_are_strict(write_config: WriteConfig, table: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):  # at load, before any use
        write_config(f'[sources]\norder = ["aws"]\n[sources.aws]\n{table}\n')


def test_read_only(aws_env: MotoServer) -> None:
    with pytest.raises(nc.SecretReadOnly):
        AwsSource(endpoint_url=aws_env.url).set(None, "X", "v-1234567")

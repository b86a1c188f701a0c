"""Vault / OpenBao faults against the real server: stopped, TLS mismatch, a proxy that
trickles or swallows, a wrong mount. Each: our type, advice, no token in the graph."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import tomli_w

import nbcreds
from nbcreds import SecretBackendError
from nbcreds._exceptions import SecretMountNotFound
from nbcreds.testing._net import free_port
from nbcreds.testing._proxy import TcpProxy
from nbcreds.testing.openbao import OpenBaoLab

from .conftest import FaultClock, no_secret_anywhere, says_what_to_do

pytestmark = pytest.mark.vault


def vault_config(write_config: Callable[[str], Any], url: str, prefix: str, **extra: Any) -> None:
    vault = {"url": url, "auth": "token", "token": "env:VAULT_TOKEN", "path_prefix": prefix}
    vault.update(extra)
    write_config(tomli_w.dumps({"sources": {"order": ["vault"], "vault": vault}}))


def approle_config(write_config: Callable[[str], Any], url: str, prefix: str, **extra: Any) -> None:
    vault = {
        "url": url,
        "auth": "approle",
        "role_id": "env:NB_ROLE_ID",
        "secret_id": "env:NB_SECRET_ID",
        "path_prefix": prefix,
        **extra,
    }
    write_config(tomli_w.dumps({"sources": {"order": ["vault"], "vault": vault}}))


def sensitive(lab: OpenBaoLab, *more: str) -> list[str]:
    return [*lab.sensitive(), *more]


def test_vault_stopped(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault_clock: FaultClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: as a stopped server
    vault_config(write_config, url, vault_prefix)
    with pytest.raises(SecretBackendError) as info, fault_clock:
        nbcreds.secret("ANY")
    says_what_to_do(str(info.value), "cannot reach Vault", "is it running?")
    assert info.value.status is None
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    no_secret_anywhere(info.value, sensitive(vault_lab), caplog.text)


def test_vault_tls_failure(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault_clock: FaultClock,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    url = vault_lab.url.replace("http://", "https://")  # TLS to a plain-HTTP server
    vault_config(write_config, url, vault_prefix)
    with pytest.raises(SecretBackendError) as info, fault_clock:
        nbcreds.secret("ANY")
    says_what_to_do(str(info.value), "TLS", "[sources.vault] ca_cert")
    no_secret_anywhere(info.value, sensitive(vault_lab))


@pytest.mark.parametrize("mode", ["trickle", "swallow", "delay"])
def test_vault_slow_server_fails_at_the_deadline(
    mode: str,
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    proxy_to: Callable[..., TcpProxy],
    fault_clock: FaultClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    proxy = proxy_to(vault_lab.server.port, mode=mode, rate=20.0, delay=60.0)
    vault_config(write_config, proxy.url(), vault_prefix, timeout=1)
    with pytest.raises(SecretBackendError) as info, fault_clock:
        nbcreds.secret("ANY")
    says_what_to_do(str(info.value), "did not answer within 1s", "[sources.vault] timeout")
    no_secret_anywhere(info.value, sensitive(vault_lab), caplog.text)


def test_vault_login_trickled_fails_at_the_deadline(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    proxy_to: Callable[..., TcpProxy],
    fault_clock: FaultClock,
) -> None:
    monkeypatch.setenv("NB_ROLE_ID", vault_lab.role_id)
    monkeypatch.setenv("NB_SECRET_ID", vault_lab.secret_id)
    proxy = proxy_to(vault_lab.server.port, mode="trickle", rate=20.0)
    approle_config(write_config, proxy.url(), vault_prefix, timeout=1)
    with pytest.raises(SecretBackendError) as info, fault_clock:
        nbcreds.secret("ANY")
    says_what_to_do(str(info.value), "did not answer within 1s", "[sources.vault] timeout")
    no_secret_anywhere(info.value, sensitive(vault_lab, vault_lab.role_id, vault_lab.secret_id))


@pytest.mark.parametrize("who", ["reader", "root"])
def test_vault_wrong_mount_is_named(
    who: str,
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault_clock: FaultClock,
) -> None:
    token = vault_lab.reader_token if who == "reader" else vault_lab.server.root_token
    monkeypatch.setenv("VAULT_TOKEN", token)
    vault_config(write_config, vault_lab.url, vault_prefix, mount="secrets")  # typo
    with pytest.raises(SecretMountNotFound) as info, fault_clock:
        nbcreds.secret("ANY")
    message = str(info.value)
    says_what_to_do(message, "'secrets'", "[sources.vault] mount", "'secret'")
    assert "Cannot find" not in message
    assert info.value.mount == "secrets"
    no_secret_anywhere(info.value, sensitive(vault_lab))


def test_vault_server_errors_are_masked_before_they_are_cut(
    vault_lab: OpenBaoLab,
    vault_prefix: str,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a token that is not one: Vault answers 403 and its errors never carry it
    monkeypatch.setenv("VAULT_TOKEN", vault_lab.reader_token)
    vault_config(write_config, vault_lab.url, vault_prefix)
    bogus = "hvs." + "Z" * 40
    nbcreds.mask(bogus)
    monkeypatch.setenv("VAULT_TOKEN", bogus)
    vault_config(write_config, vault_lab.url, vault_prefix)
    with pytest.raises(SecretBackendError) as info:
        nbcreds.secret("ANY")
    assert info.value.status == 403
    no_secret_anywhere(info.value, [*sensitive(vault_lab), bogus])

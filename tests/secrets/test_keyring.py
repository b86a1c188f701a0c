"""The keyring source, against a real Secret Service (gnome-keyring on a private D-Bus)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import nbcreds as nc
from nbcreds import SecretBackendError, SecretError, SecretNotFound
from nbcreds._session import session
from nbcreds.masking import registry
from nbcreds.secrets._keyring import KeyringSource, backend_hint, keyring_username
from nbcreds.testing.leaks import find_leaks

WriteConfig = Callable[[str], Path]


def _value() -> str:
    return "kr-" + secrets.token_urlsafe(18)


def _keyring() -> KeyringSource:
    source = session().source("keyring")
    assert isinstance(source, KeyringSource)
    return source


def test_backend_is_the_real_secret_service(keyring_env: str) -> None:
    import keyring
    import keyring.backends.SecretService

    assert backend_hint()
    backend = keyring.get_keyring()
    assert isinstance(backend, keyring.backends.SecretService.Keyring), type(backend)
    assert _keyring().backend_name() == "keyring.backends.SecretService.Keyring"


def test_usernames_name_the_level() -> None:
    assert keyring_username("acme.team", "api_key") == "acme.team/API_KEY"
    assert keyring_username(None, "API_KEY") == "@tenant/API_KEY"


def test_reference_reads_any_entry(keyring_env: str, write_config: WriteConfig) -> None:
    import keyring

    value = _value()
    keyring.set_password("corp-api", "svc/etl", value)
    write_config('[secrets]\nCORP = "keyring:corp-api/svc/etl"\n')
    got = nc.secret("CORP")
    assert got.reveal() == value
    assert value in registry.values()
    # keyring: references work whatever the order says
    write_config('[sources]\norder = ["session"]\n[secrets]\nCORP = "keyring:corp-api/svc/etl"\n')
    assert nc.secret("CORP").reveal() == value


def test_unset_reference_says_so(keyring_env: str, write_config: WriteConfig) -> None:
    write_config('[secrets]\nNOPE = "keyring:corp-api/nobody"\n')
    with pytest.raises(SecretNotFound, match="keyring:corp-api/nobody"):
        nc.secret("NOPE")


def test_bad_reference_says_the_form(keyring_env: str, write_config: WriteConfig) -> None:
    write_config('[secrets]\nX = "keyring:no-username"\n')
    with pytest.raises(SecretError, match="keyring:SERVICE/USERNAME"):
        nc.secret("X")


def test_bind_store_keyring_then_a_new_process_finds_it(
    keyring_env: str, isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    value = _value()
    nc.use_namespace("acme.team")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": value)
    message = nc.bind_secret("API_KEY", prompt=True, store="keyring")
    assert "acme.team/API_KEY" in message
    assert find_leaks(message, [value]) == []
    assert keyring.get_password("nbcreds", "acme.team/API_KEY") == value
    assert nc.secret("API_KEY").reveal() == value  # this session reads it back
    # a restarted kernel: a fresh process, no config file, no session binding
    code = textwrap.dedent(
        """
        import json, nbcreds as nc
        nc.use_namespace("acme.team.project")
        s = nc.secret("API_KEY")
        print(json.dumps({"source": s.source, "ok": s.reveal() == VALUE,
                          "order": nc.load_config().source_order()}))
        """
    ).replace("VALUE", repr(value))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=isolated_nbcreds,
        timeout=120,
    )
    assert find_leaks(out.stdout + out.stderr, [value]) == []
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"source": "keyring", "ok": True, "order": ["session", "env", "keyring"]}


def test_tenant_level_store_and_listing(keyring_env: str, write_config: WriteConfig) -> None:
    write_config("")
    value = _value()
    nc.bind_secret("TENANT_KEY", value, tenant=True, store="keyring")
    session().source("session").delete(None, "TENANT_KEY")  # as after a restart
    nc.load_config()
    got = nc.secret("TENANT_KEY")
    assert (got.reveal(), got.source) == (value, "keyring")
    rows = {r.name: (r.source, r.level) for r in nc.list_secrets()}
    assert rows["TENANT_KEY"] == ("keyring", None)
    assert "TENANT_KEY" in _keyring().names(None)


def test_magic_bind_prompt_store_keyring(
    keyring_env: str, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from IPython.core.interactiveshell import InteractiveShell

    write_config("")
    value = _value()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": value)
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "nbcreds")
        ip.run_line_magic("secret", "bind MAGIC_KEY --prompt --store keyring")
        assert keyring.get_password("nbcreds", "@tenant/MAGIC_KEY") == value
        with pytest.raises(Exception, match="--store keyring keeps a typed value"):
            ip.run_line_magic("secret", "bind OTHER --env HOME --store keyring")
    finally:
        ip.run_line_magic("unload_ext", "nbcreds")
        InteractiveShell.clear_instance()


def test_store_keyring_needs_a_typed_value(keyring_env: str) -> None:
    with pytest.raises(SecretError, match="keeps a typed value"):
        nc.bind_secret("X", env="HOME", store="keyring")
    with pytest.raises(nc.ConfigError, match="'disk'"):
        nc.bind_secret("X", "v-1234567", store="disk")
    with pytest.raises(SecretError, match="env source is read-only"):
        nc.bind_secret("X", "v-1234567", store="env")


def test_no_backend_finds_nothing_in_the_order_and_says_so_on_write(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no D-Bus session bus: keyring's chain finds no backend
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    write_config('[sources]\norder = ["session", "keyring"]\n')
    with pytest.raises(SecretNotFound, match="sources: session, keyring"):
        nc.secret("ANY")
    assert nc.list_secrets() == []
    with pytest.raises(SecretBackendError, match="no usable OS keyring"):
        nc.bind_secret("ANY", "v-1234567", store="keyring")


def test_default_order_has_keyring_only_with_a_backend_hint(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert nc.load_config().source_order() == ["session", "env"]  # no D-Bus here
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    assert nc.load_config().source_order() == ["session", "env", "keyring"]


def test_secret_binder_widget_keeps_a_typed_value_in_the_keyring(
    keyring_env: str, write_config: WriteConfig
) -> None:
    import keyring

    from nbcreds.widgets import secret_binder

    write_config("")
    value = _value()
    nc.use_namespace("acme")
    binder = secret_binder()
    modes = [mode for _, mode in binder.mode.options]
    assert "value:keyring" in modes  # a typed value kept in the keyring
    assert "keyring" in modes  # a keyring:SERVICE/USERNAME reference
    binder.name.value = "WIDGET_KEY"
    binder.mode.value = "value:keyring"
    assert binder.field is binder.value
    binder.value.value = value  # typed and sent: bound at once, then cleared
    assert binder.value.value == ""
    assert keyring.get_password("nbcreds", "acme/WIDGET_KEY") == value
    assert "stored in the OS keyring" in binder.message.value
    assert "session \u2192 keyring" in binder.listing.value
    assert find_leaks(binder.message.value + binder.listing.value, [value]) == []


def test_sidebar_state_lists_the_sources(keyring_env: str, write_config: WriteConfig) -> None:
    from nbcreds.comm import build_state

    write_config("")
    state = build_state()
    kinds = {t["name"]: t["in_order"] for t in state["types"] if t["kind"] == "source"}
    kinds.pop("example", None)  # tests/plugin_example, installed into the test venv
    assert kinds == {
        "session": True,
        "env": True,
        "vault": False,
        "dotenv": False,
        "keyring": True,
        "aws": False,
    }
    schemes = {t["name"]: t["schemes"] for t in state["types"] if t["kind"] == "source"}
    assert schemes["aws"] == ["aws", "aws-ssm"]
    assert schemes["keyring"] == ["keyring"]
    assert schemes["dotenv"] == ["dotenv"]
    assert state["leases"] == []
    assert state["errors"] == {}

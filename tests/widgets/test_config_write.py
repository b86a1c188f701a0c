"""_config_write.save_credential: references only, atomic, other tables kept."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

import nbcreds as nc
from nbcreds import _config_write
from nbcreds._session import session
from nbcreds.testing.leaks import assert_no_leak

CC = {
    "type": "oauth2_client_credentials",
    "token_endpoint": "http://127.0.0.1:9/token",
    "client_id": "app",
    "client_secret": "secret:APP_SECRET",
}


def test_creates_the_file_in_the_working_directory_when_there_is_none(
    isolated_nbcreds: Path,
) -> None:
    path = _config_write.save_credential("my_oauth", {**CC, "scopes": ["a", "b"]}, None)
    assert path == isolated_nbcreds / "nbcreds.toml"
    data = tomllib.loads(path.read_text())
    assert data["credentials"]["my_oauth"]["client_secret"] == "secret:APP_SECRET"
    assert data["credentials"]["my_oauth"]["scopes"] == ["a", "b"]
    # reloaded: the active config is the file just written
    assert session().config.path == path
    assert "my_oauth" in session().config.credentials_at(None)


def test_namespace_level_keeps_every_other_table(write_config: Any) -> None:
    path = write_config(
        'namespace = "acme.data"\n'
        '[secrets]\nTOKEN = "env:SOME_TOKEN"\n'
        '[credentials.other]\ntype = "github_app"\napp_id = "1"\ninstallation_id = "2"\n'
        'private_key = "secret:GH_KEY"\n'
        '[namespaces."acme".secrets]\nDB = "env:DB_PW"\n'
        '[namespaces."acme.data".credentials.my_oauth]\n'
        'type = "oauth2_client_credentials"\ntoken_endpoint = "http://old/token"\n'
        'client_id = "old"\nclient_secret = "secret:OLD"\naudience = "dropped"\n'
    )
    before = tomllib.loads(path.read_text())
    written = _config_write.save_credential("my_oauth", CC, "acme.data")
    assert written == path
    after = tomllib.loads(path.read_text())
    # the definition is replaced as a whole (the old audience is gone) ...
    assert after["namespaces"]["acme.data"]["credentials"]["my_oauth"] == CC
    # ... and nothing else moved
    del after["namespaces"]["acme.data"]["credentials"]["my_oauth"]
    del before["namespaces"]["acme.data"]["credentials"]["my_oauth"]
    assert after == before
    assert nc.list_namespaces() == ["acme", "acme.data"]


@pytest.mark.parametrize("key", ["client_secret"])
def test_a_literal_secret_is_refused_and_nothing_is_written(write_config: Any, key: str) -> None:
    path = write_config('[secrets]\nX = "env:X"\n')
    original = path.read_bytes()
    literal = "pl41n-s3cret-value"
    with pytest.raises(nc.ConfigError) as info:
        _config_write.save_credential("bad", {**CC, key: literal}, None)
    assert info.value.key == key
    assert path.read_bytes() == original
    assert_no_leak(str(info.value), [literal])


def test_a_known_secret_value_in_any_field_is_refused(isolated_nbcreds: Path) -> None:
    value = "typed-into-the-wrong-field-42"
    nc.bind_secret("APP_SECRET", value)
    with pytest.raises(nc.ConfigError) as info:
        _config_write.save_credential("bad", {**CC, "client_id": value}, None)
    assert info.value.key == "client_id"
    assert not (isolated_nbcreds / "nbcreds.toml").exists()
    assert_no_leak(str(info.value), [value])


def test_secret_shaped_literal_is_refused_by_config_validation(isolated_nbcreds: Path) -> None:
    pat = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    with pytest.raises(nc.ConfigError) as info:
        _config_write.save_credential("bad", {**CC, "description": pat}, None)
    assert info.value.key == "description"
    assert_no_leak(str(info.value), [pat])
    assert not (isolated_nbcreds / "nbcreds.toml").exists()


def test_engine_validation_names_the_key(isolated_nbcreds: Path) -> None:
    with pytest.raises(nc.CredentialConfigError, match="token_endpoint"):
        _config_write.save_credential(
            "gh",
            {
                "type": "github_app",
                "app_id": "1",
                "installation_id": "2",
                "private_key": "secret:K",
                "token_endpoint": "http://x/token",
            },
            None,
        )
    with pytest.raises(nc.CredentialConfigError, match="installation_id"):
        _config_write.save_credential(
            "gh",
            {
                "type": "github_app",
                "app_id": "1",
                "installation_id": "abc",
                "private_key": "secret:K",
            },
            None,
        )
    assert not (isolated_nbcreds / "nbcreds.toml").exists()


@pytest.mark.parametrize("name", ["", "has space", "a.b", "-x", "x" * 101])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(nc.CredentialConfigError, match="credential name"):
        _config_write.save_credential(name, CC, None)


def test_bad_type_and_bad_namespace_are_refused() -> None:
    with pytest.raises(nc.CredentialConfigError, match="type"):
        _config_write.save_credential("x", {**CC, "type": "basic"}, None)
    with pytest.raises(nc.NamespaceError):
        _config_write.save_credential("x", CC, "Bad..NS")


def test_empty_values_are_left_out(isolated_nbcreds: Path) -> None:
    path = _config_write.save_credential(
        "x", {**CC, "audience": "", "scopes": [], "description": None}, None
    )
    assert tomllib.loads(path.read_text())["credentials"]["x"] == CC


def test_write_is_atomic_and_keeps_the_mode(write_config: Any, monkeypatch: Any) -> None:
    path = write_config('[secrets]\nX = "env:X"\n')
    path.chmod(0o640)
    original = path.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        _config_write.save_credential("x", CC, None)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["nbcreds.toml"]  # no temp left
    _config_write.save_credential("x", CC, None)
    assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == ["nbcreds.toml"]


def test_writes_the_loaded_config_not_the_working_directory(
    tmp_path: Path, monkeypatch: Any
) -> None:
    elsewhere = tmp_path / "conf" / "nbcreds.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('tenant = "main"\n')
    monkeypatch.setenv("NBCREDS_CONFIG", str(elsewhere))
    nc.load_config()
    assert _config_write.save_credential("x", CC, None) == elsewhere
    assert not Path("nbcreds.toml").exists()
    assert tomllib.loads(elsewhere.read_text())["tenant"] == "main"


def test_invalid_existing_file_is_reported_not_overwritten(isolated_nbcreds: Path) -> None:
    path = isolated_nbcreds / "nbcreds.toml"
    nc.load_config()  # nothing yet: embedded defaults
    path.write_text("this is = = not toml\n")
    with pytest.raises(nc.ConfigError, match="invalid TOML"):
        _config_write.save_credential("x", CC, None)
    assert path.read_text() == "this is = = not toml\n"


def test_a_sub_table_is_written_and_checked(isolated_nbcreds: Path) -> None:
    path = _config_write.save_credential(
        "x", {**CC, "token_caching": {"enabled": False, "refresh_before_expiry": ""}}, None
    )
    written = tomllib.loads(path.read_text())["credentials"]["x"]
    assert written["token_caching"] == {"enabled": False}
    with pytest.raises(nc.CredentialConfigError, match="token_caching"):
        _config_write.save_credential("x", {**CC, "token_caching": {"bogus": 1}}, None)

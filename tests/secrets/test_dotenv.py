"""The dotenv source: `.env` files read with python-dotenv."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import nbcreds as nc
from nbcreds import ConfigError, SecretBackendError, SecretNotFound
from nbcreds.masking import registry
from nbcreds.secrets._dotenv import DotenvSource
from nbcreds.testing.leaks import find_leaks

WriteConfig = Callable[[str], Path]


def _dotenv(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_reference_reads_a_raw_value_next_to_the_config(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    _dotenv(isolated_nbcreds / ".env", 'API_KEY="k-8f2a9c1d"\nOTHER=x y\n')
    write_config('[secrets]\nAPI_KEY = "dotenv:API_KEY"\n')
    value = nc.secret("API_KEY")
    assert value.reveal() == "k-8f2a9c1d"  # raw, not base64
    assert repr(value) == "<Secret API_KEY ****>"
    assert "k-8f2a9c1d" in registry.values()
    # a dotenv: reference works although dotenv is not in [sources] order
    assert "dotenv" not in nc.load_config().source_order()


def test_in_the_order_secret_finds_its_names(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    _dotenv(isolated_nbcreds / ".env", "DB_PASSWORD=pw-1234567\nexport TOKEN=t-99999999\n")
    write_config('[sources]\norder = ["session", "dotenv"]\n')
    assert nc.secret("DB_PASSWORD").reveal() == "pw-1234567"
    assert nc.secret("token").reveal() == "t-99999999"  # case-insensitive, like env
    rows = {r.name: r.source for r in nc.list_secrets()}
    assert rows == {"DB_PASSWORD": "dotenv", "TOKEN": "dotenv"}
    with pytest.raises(SecretNotFound, match="sources: session, dotenv"):
        nc.secret("MISSING")


def test_names_only_at_the_tenant_level(isolated_nbcreds: Path, write_config: WriteConfig) -> None:
    _dotenv(isolated_nbcreds / ".env", "A_KEY=value-abcdef\n")
    write_config('[sources]\norder = ["dotenv"]\n')
    source = DotenvSource(isolated_nbcreds / ".env", explicit=True)
    assert source.get("acme.team", "A_KEY") is None
    assert source.names("acme.team") == []
    nc.use_namespace("acme.team")
    assert nc.secret("A_KEY").source == "dotenv"  # inherited from the tenant level


def test_path_relative_to_the_config_that_names_it(
    isolated_nbcreds: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = isolated_nbcreds / "conf"
    conf.mkdir()
    _dotenv(conf / "team.env", "KEY=from-team-file\n")
    (conf / "nbcreds.toml").write_text(
        '[sources]\norder = ["dotenv"]\n[sources.dotenv]\npath = "team.env"\n'
    )
    elsewhere = isolated_nbcreds / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    nc.load_config(conf / "nbcreds.toml")
    assert nc.secret("KEY").reveal() == "from-team-file"


def test_default_search_walks_up_from_the_working_directory(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dotenv(isolated_nbcreds / ".env", "UP_KEY=found-upwards\n")
    deep = isolated_nbcreds / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    (deep / "nbcreds.toml").write_text('[secrets]\nUP_KEY = "dotenv:UP_KEY"\n')
    nc.load_config(deep / "nbcreds.toml")
    assert nc.secret("UP_KEY").reveal() == "found-upwards"


def test_next_to_the_config_wins_over_the_working_directory(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = isolated_nbcreds / "conf"
    conf.mkdir()
    _dotenv(conf / ".env", "K=next-to-config\n")
    _dotenv(isolated_nbcreds / ".env", "K=in-cwd-value\n")
    (conf / "nbcreds.toml").write_text('[secrets]\nK = "dotenv:K"\n')
    nc.load_config(conf / "nbcreds.toml")
    assert nc.secret("K").reveal() == "next-to-config"


def test_file_changes_are_seen(isolated_nbcreds: Path, write_config: WriteConfig) -> None:
    path = _dotenv(isolated_nbcreds / ".env", "ROTATING=first-value\n")
    write_config('[sources]\norder = ["dotenv"]\n')
    assert nc.secret("ROTATING").reveal() == "first-value"
    _dotenv(path, "ROTATING=second-value-longer\n")
    assert nc.secret("ROTATING").reveal() == "second-value-longer"


def test_world_readable_file_warns_naming_the_file_never_the_value(
    isolated_nbcreds: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    path = _dotenv(isolated_nbcreds / ".env", "OPEN_KEY=visible-to-all-1\n", mode=0o644)
    write_config('[sources]\norder = ["dotenv"]\n')
    with pytest.warns(RuntimeWarning, match="can be read by other users") as caught:
        assert nc.secret("OPEN_KEY").reveal() == "visible-to-all-1"
    message = str(caught[0].message)
    assert str(path) in message
    assert "chmod 600" in message
    assert find_leaks(message + caplog.text, ["visible-to-all-1"]) == []


def test_group_readable_warns_too_and_once(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    _dotenv(isolated_nbcreds / ".env", "G=group-readable-1\n", mode=0o640)
    write_config('[sources]\norder = ["dotenv"]\n')
    with pytest.warns(RuntimeWarning, match="other users"):
        nc.secret("G")
    os.utime(isolated_nbcreds / ".env")  # re-read, but the warning was given already
    nc.secret("G")  # filterwarnings=error: a second warning would fail here


def test_missing_explicit_file_is_an_error_naming_it(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    write_config('[sources]\norder = ["dotenv"]\n[sources.dotenv]\npath = "nope.env"\n')
    with pytest.raises(SecretBackendError, match=r"nope\.env.*does not exist"):
        nc.secret("X")


def test_no_file_at_all_finds_nothing(isolated_nbcreds: Path, write_config: WriteConfig) -> None:
    write_config('[sources]\norder = ["dotenv"]\n')
    assert nc.list_secrets() == []
    with pytest.raises(SecretNotFound):
        nc.secret("X")


def test_unknown_setting_is_refused_at_load(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    with pytest.raises(ConfigError, match="did you mean 'path'"):
        write_config('[sources]\norder = ["dotenv"]\n[sources.dotenv]\npaht = ".env"\n')


def test_interpolation_can_be_turned_off(isolated_nbcreds: Path, write_config: WriteConfig) -> None:
    _dotenv(isolated_nbcreds / ".env", "BASE=abc123\nFULL=${BASE}-tail\n")
    write_config('[sources]\norder = ["dotenv"]\n[sources.dotenv]\ninterpolate = false\n')
    assert nc.secret("FULL").reveal() == "${BASE}-tail"
    write_config('[sources]\norder = ["dotenv"]\n')
    assert nc.secret("FULL").reveal() == "abc123-tail"


def test_secret_binder_widget_binds_a_dotenv_reference(
    isolated_nbcreds: Path, write_config: WriteConfig
) -> None:
    from nbcreds.widgets import secret_binder

    _dotenv(isolated_nbcreds / ".env", "WIDGET_DOTENV=w-value-12345\n")
    write_config("")
    binder = secret_binder()
    binder.name.value = "FROM_FILE"
    binder.mode.value = "dotenv"
    assert binder.field is binder.targets["dotenv"]
    assert binder.targets["dotenv"].placeholder == "NAME"
    binder.targets["dotenv"].value = "WIDGET_DOTENV"
    binder.bind_button.click()
    assert "bound to dotenv:WIDGET_DOTENV" in binder.message.value
    assert nc.secret("FROM_FILE").reveal() == "w-value-12345"
    assert "session \u2192 dotenv" in binder.listing.value


def test_magic_secret_list_shows_dotenv(isolated_nbcreds: Path, write_config: WriteConfig) -> None:
    from nbcreds.ipython._magics import secret_list

    _dotenv(isolated_nbcreds / ".env", "LISTED=l-value-12345\n")
    write_config('[sources]\norder = ["session", "dotenv"]\n[secrets]\nREF = "dotenv:LISTED"\n')
    table = secret_list(None)
    rows = {row["name"]: row["source"] for row in table.rows}
    assert rows == {"LISTED": "dotenv", "REF": "dotenv"}

"""%kv against the real SQLite KV store (in the test's own data dir)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbcreds as nc
from nbcreds.ipython._magics import parse_kv_value
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture(autouse=True)
def team(ip: InteractiveShell) -> None:
    nc.use_namespace("company.team")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("4.5", 4.5),
        ("true", True),
        ("null", None),
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ('"quoted string"', "quoted string"),
        ("'single quoted'", "single quoted"),
        ("hello world", "hello world"),
        ("{not json", "{not json"),
    ],
)
def test_value_is_json_when_valid_else_string(text: str, value: Any) -> None:
    assert parse_kv_value(text) == value


def test_set_get_roundtrip_with_types(ip: InteractiveShell, cell: Any) -> None:
    result, out = cell('%kv set config {"batch": 500, "dry_run": false}')
    assert result.success
    assert "config set in company.team, revision 1, never expires" in out
    assert nc.kv("config") == {"batch": 500, "dry_run": False}
    cell("%kv set cursor 42")
    assert ip.run_line_magic("kv", "get cursor") == 42
    cell("%kv set greeting hello   world")
    assert nc.kv("greeting") == "hello world"
    cell("%kv set label 42 --type STRING")
    assert nc.kv("label") == "42"
    result, out = cell("x = %kv get config\nx['batch']")
    assert result.result == 500


def test_braces_and_dollars_are_not_expanded(ip: InteractiveShell, cell: Any) -> None:
    ip.user_ns["a"] = "EXPANDED"
    cell('%kv set tmpl {"x": "$a {a}"}')
    assert nc.kv("tmpl") == {"x": "$a {a}"}


def test_ttl_no_overwrite_description_and_revision(ip: InteractiveShell, cell: Any) -> None:
    _, out = cell("%kv set lock 1 --ttl PT1H --description 'run lock'")
    assert "revision 1, expires after PT1H" in out
    with pytest.raises(UsageError, match="lock"):
        ip.run_line_magic("kv", "set lock 2 --no-overwrite")
    assert nc.kv("lock") == 1
    _, out = cell("%kv set lock 3")
    assert "revision 2" in out
    entry = next(e for e in nc.kv_entries() if e.key == "lock")
    assert entry.revision == 2


def test_list_shows_type_revision_and_expiry_never_values(ip: InteractiveShell, cell: Any) -> None:
    marker = "value-" + secrets.token_hex(6)
    nc.set_kv("sync.cursor", marker)
    nc.set_kv("sync.count", 7, ttl="P1D")
    nc.set_kv("other", True)
    table = ip.run_line_magic("kv", "list sync.")
    rows = {r["key"]: r for r in table.rows}
    assert set(rows) == {"sync.count", "sync.cursor"}
    assert rows["sync.cursor"]["type"] == "STRING"
    assert rows["sync.cursor"]["expires"] == "never"
    assert rows["sync.count"]["type"] == "NUMBER"
    assert rows["sync.count"]["revision"] == "1"
    expires = dt.datetime.fromisoformat(rows["sync.count"]["expires"])
    assert expires > dt.datetime.now(dt.UTC)
    _, out = cell("%kv list")
    assert "other" in out
    assert marker not in out  # listing shows metadata, not state


def test_delete_and_missing_key(ip: InteractiveShell, cell: Any) -> None:
    nc.set_kv("gone", 1)
    _, out = cell("%kv delete gone")
    assert "gone deleted from company.team" in out
    _, out = cell("%kv delete gone")
    assert "gone: no such key in company.team" in out
    result, out = cell("%kv get gone")
    assert isinstance(result.error_in_exec, UsageError)
    assert "The key 'gone' does not exist" in out
    assert "Traceback" not in out


def test_get_with_default(ip: InteractiveShell) -> None:
    assert ip.run_line_magic("kv", "get missing --default 0") == 0
    assert ip.run_line_magic("kv", 'get missing --default {"a":1}') == {"a": 1}
    nc.set_kv("present", 5)
    assert ip.run_line_magic("kv", "get present --default 0") == 5
    with pytest.raises(UsageError, match="--default goes with 'get'"):
        ip.run_line_magic("kv", "delete present --default 1")


def test_namespace_option_and_inherit(ip: InteractiveShell) -> None:
    nc.set_kv("shared", "parent", namespace="company")
    with pytest.raises(UsageError, match="does not exist"):
        ip.run_line_magic("kv", "get shared")
    assert ip.run_line_magic("kv", "get shared --inherit") == "parent"
    assert ip.run_line_magic("kv", "get shared -n company") == "parent"
    ip.run_line_magic("kv", "set here 1 -n company.other")
    assert nc.kv("here", namespace="company.other") == 1


def test_secret_value_is_refused_without_echo(
    ip: InteractiveShell, cell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "pw-" + secrets.token_hex(12)
    nc.bind_secret("DB_PW", value)
    result, out = cell(f"%kv set leaked {value}")
    assert isinstance(result.error_in_exec, UsageError)
    assert_no_leak(out.replace(f"%kv set leaked {value}", ""), [value])
    assert nc.kv("leaked", default=None) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "what should %kv do"),
        ("frobnicate x", "unknown %kv command"),
        ("get", "expected exactly one name"),
        ("set onlykey", "usage: %kv set KEY VALUE"),
        ("get x --ttl PT1H", "go with 'set'"),
        ("list a b", "usage: %kv list"),
        ("set bad/key 1", "key"),
        ("set k 1 --ttl forever", "ttl|TTL|duration"),
        ("set k 1 --type COLOUR", "type"),
    ],
)
def test_mistakes_are_usage_errors(ip: InteractiveShell, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("kv", line)


def test_no_namespace_selected_says_what_to_do(ip: InteractiveShell) -> None:
    nc.use_namespace(None)
    with pytest.raises(UsageError, match="use_namespace"):
        ip.run_line_magic("kv", "get x")


def test_kv_key_completion(ip: InteractiveShell) -> None:
    from IPython.core.completer import provisionalcompleter

    nc.set_kv("sync.cursor", 1)
    nc.set_kv("sync.count", 2)
    nc.set_kv("other", 3)
    with provisionalcompleter():
        found = sorted({c.text for c in ip.Completer.completions("%kv get sync.c", 14)})
    assert found == ["sync.count", "sync.cursor"]

"""The plain functions behind the magics, called directly (no shell)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from IPython.core.error import UsageError

import nbcreds as nc
from nbcreds.ipython import _magics as m
from nbcreds.testing.leaks import assert_no_leak


def test_secret_functions() -> None:
    value = "v-" + secrets.token_hex(10)
    nc.bind_secret("ONE", value, namespace="a.b")
    table = m.secret_list("a.b")
    assert table.rows == [{"name": "ONE", "source": "session", "level": "a.b"}]
    assert m.secret_list("a.b.c").rows[0]["level"] == "a.b (inherited)"
    user_ns: dict[str, Any] = {}
    line = m.secret_to_variable(user_ns, "ONE", "one", None, "a.b")
    assert line == "one = <Secret ONE ****> from session"
    assert user_ns["one"].reveal() == value
    assert_no_leak(line + table.text() + table._repr_html_(), [value])
    with pytest.raises(UsageError, match="exactly one of"):
        m.secret_bind("X", None, None, False, None)


def test_kv_functions() -> None:
    assert m.kv_set("k", '{"a": 1}', None, "PT1H", True, "demo", "ns.one") == (
        "k set in ns.one, revision 1, expires after PT1H"
    )
    assert m.kv_get("k", "ns.one", False) == {"a": 1}
    (row,) = m.kv_list(None, "ns.one").rows
    assert (row["key"], row["type"], row["revision"]) == ("k", "JSON", "1")
    assert m.kv_delete("k", "ns.one") == "k deleted from ns.one"
    assert m.kv_delete("k", "ns.one") == "k: no such key in ns.one"
    assert m.kv_list(None, "ns.one").text().endswith("(no keys)")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1, "0 s (expired)"), (59.4, "59 s"), (3599, "60 min"), (7200, "2.0 h")],
)
def test_duration(seconds: float, text: str) -> None:
    assert m._duration(seconds) == text


def test_table_escapes_html_and_aligns_text() -> None:
    from nbcreds.ipython._display import Message, Table

    table = Table(["a", "b"], [["<x>", "1"], ["long value", None]], title="T & U")
    assert "&lt;x&gt;" in table._repr_html_()
    assert "T &amp; U" in table._repr_html_()
    assert table.text().splitlines() == [
        "T & U",
        "a           b",
        "----------  -",
        "<x>         1",
        "long value",
    ]
    assert "var(--jp-error-color1" in Message("no", ok=False)._repr_html_()
    assert "#" not in Message("ok", ok=True)._repr_html_()

"""kv_editor: table of the current namespace's keys; add, edit (typed), delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import nbcreds as nc
from nbcreds.widgets import kv_editor


@pytest.fixture
def ns() -> str:
    nc.use_namespace("acme.jobs")
    return "acme.jobs"


def rows(editor: Any) -> dict[str, list[str]]:
    """key -> [type, revision, expires], as the one table shows them."""
    for key, cells in editor.cells.items():
        assert f"<td>{key}</td>" in editor.table.value
        assert all(f"<td>{c}</td>" in editor.table.value for c in cells[:2])
    return dict(editor.cells)


def test_without_a_namespace_it_asks_for_one() -> None:
    editor = kv_editor()
    assert "choose one first" in editor.table.value


def test_table_lists_type_revision_and_expiry(ns: str) -> None:
    nc.set_kv("cursor", 41)
    nc.set_kv("cursor", 42)
    nc.set_kv("flag", True, ttl="PT1H")
    nc.set_kv("other", "x", namespace="acme")  # another namespace: not shown
    editor = kv_editor()
    table = rows(editor)
    assert set(table) == {"cursor", "flag"}
    assert table["cursor"][:3] == ["NUMBER", "2", "never"]
    assert table["flag"][0] == "BOOLEAN"
    assert "expires in 59m" in table["flag"][2] or "expires in 1h" in table["flag"][2]


@pytest.mark.parametrize(
    ("kind", "typed", "expected"),
    [
        ("STRING", "hello", "hello"),
        ("NUMBER", "3.5", 3.5),
        ("NUMBER", "7", 7),
        (
            "DATETIME",
            "2024-05-01T12:00:00+02:00",
            dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
        ("DURATION", "PT1H30M", dt.timedelta(hours=1, minutes=30)),
        ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}),
    ],
)
def test_add_with_a_typed_input(ns: str, kind: str, typed: str, expected: Any) -> None:
    editor = kv_editor()
    editor.add_button.click()
    assert editor.form_open
    editor.key.value = "k"
    editor.type.value = kind
    assert editor.value_box.children == (editor.inputs[kind],)
    editor.inputs[kind].value = typed
    editor.save_button.click()
    assert "saved 'k'" in editor.message.value
    assert nc.kv("k") == expected
    assert rows(editor)["k"][0] == kind
    assert not editor.form_open


def test_add_boolean_and_date_and_ttl(ns: str) -> None:
    editor = kv_editor()
    editor.start_add()
    editor.key.value = "on"
    editor.type.value = "BOOLEAN"
    editor.inputs["BOOLEAN"].value = True
    editor.expiry.value = "ttl"
    editor.ttl.value = "P1D"
    assert editor.save() is True
    assert nc.kv("on") is True
    (entry,) = [e for e in nc.kv_entries() if e.key == "on"]
    assert entry.expires is not None
    editor.start_add()
    editor.key.value = "day"
    editor.type.value = "DATE"
    editor.inputs["DATE"].value = dt.date(2024, 2, 29)
    assert editor.save() is True
    assert nc.kv("day") == dt.date(2024, 2, 29)


def test_bad_input_shows_the_stores_message(ns: str) -> None:
    editor = kv_editor()
    editor.start_add()
    editor.key.value = "n"
    editor.type.value = "NUMBER"
    editor.inputs["NUMBER"].value = "twelve"
    assert editor.save() is False
    assert "NUMBER needs a number" in editor.message.value
    editor.key.value = "bad key!"
    editor.type.value = "STRING"
    assert editor.save() is False
    assert "Invalid KV key" in editor.message.value
    editor.key.value = "n"
    editor.expiry.value = "ttl"
    assert editor.save() is False
    assert "type a TTL" in editor.message.value
    assert nc.kv_keys() == []


def test_adding_an_existing_key_is_refused(ns: str) -> None:
    nc.set_kv("k", "first")
    editor = kv_editor()
    editor.start_add()
    editor.key.value = "k"
    editor.inputs["STRING"].value = "second"
    assert editor.save() is False
    assert nc.kv("k") == "first"


def test_edit_loads_the_value_keeps_the_expiry_and_checks_the_revision(ns: str) -> None:
    nc.set_kv("cfg", {"a": 1}, ttl="PT2H", description="settings")
    editor = kv_editor()
    before = nc.kv_entries()[0]
    editor.start_edit("cfg")
    assert editor.key.disabled
    assert editor.type.value == "JSON"
    assert '"a": 1' in editor.inputs["JSON"].value
    assert editor.expiry.value == "keep"
    assert editor.description.value == "settings"
    editor.inputs["JSON"].value = '{"a": 2}'
    assert editor.save() is True
    after = nc.kv_entries()[0]
    assert nc.kv("cfg") == {"a": 2}
    assert after.revision == before.revision + 1
    assert after.expires is not None
    assert before.expires is not None
    assert abs((after.expires - before.expires).total_seconds()) < 60  # kept, not reset
    assert after.description == "settings"
    # someone else writes meanwhile: the stale edit is refused, not silently lost
    editor.start_edit("cfg")
    nc.set_kv("cfg", {"a": 3})
    editor.inputs["JSON"].value = '{"a": 4}'
    assert editor.save() is False
    assert "revision" in editor.message.value
    assert nc.kv("cfg") == {"a": 3}


def test_edit_can_drop_the_expiry(ns: str) -> None:
    nc.set_kv("t", "x", ttl="PT1H")
    editor = kv_editor()
    editor.start_edit("t")
    editor.expiry.value = "none"
    assert editor.save() is True
    assert nc.kv_entries()[0].expires is None


def test_delete_asks_for_confirmation(ns: str) -> None:
    nc.set_kv("a", 1)
    nc.set_kv("b", 2)
    editor = kv_editor()
    editor.pick.value = "a"
    editor.delete_button.click()
    assert nc.kv_keys() == ["a", "b"]  # nothing yet
    assert "Delete key <b>a</b>?" in editor.confirm_box.children[0].value
    no = editor.confirm_box.children[2]
    no.click()
    assert editor.confirm_box is None
    assert nc.kv_keys() == ["a", "b"]
    editor.ask_delete("a")
    editor.confirm_box.children[1].click()  # Yes
    assert nc.kv_keys() == ["b"]
    assert set(rows(editor)) == {"b"}
    assert "deleted 'a'" in editor.message.value


def test_refresh_picks_up_changes_made_elsewhere(ns: str) -> None:
    editor = kv_editor()
    assert rows(editor) == {}
    nc.set_kv("late", "x")
    editor.refresh_button.click()
    assert set(rows(editor)) == {"late"}


def test_a_secret_refused_by_the_store_is_cleared_from_the_form(
    ns: str, type_in: Any, everything_sent: Any
) -> None:
    from nbcreds.testing.leaks import assert_no_leak

    value = "kv-s3cret-value-123456"
    nc.bind_secret("K", value)
    editor = kv_editor()
    editor.start_add()
    editor.key.value = "oops"
    type_in(editor.inputs["STRING"], f"prefix {value} suffix")
    assert editor.save() is False
    assert "secret" in editor.message.value
    assert editor.inputs["STRING"].value == ""
    assert nc.kv_keys() == []
    assert_no_leak(everything_sent(), [value])


# ------------------------------------------------------------------ double clicks (#15)


def test_double_click_on_save_saves_once_without_a_false_failure(ns: str) -> None:
    nc.set_kv("batch_lock", "a")
    editor = kv_editor()
    editor.start_edit("batch_lock")
    editor.inputs["STRING"].value = "b"
    editor.save_button.click()
    editor.save_button.click()  # the second click of a double click
    assert nc.kv("batch_lock") == "b"
    assert nc.kv_entries()[0].revision == 2  # written once
    assert "saved 'batch_lock'" in editor.message.value
    assert "overwrite" not in editor.message.value
    assert "if_revision" not in editor.message.value


def test_conflicts_are_worded_for_the_form_with_both_types(ns: str) -> None:
    nc.set_kv("k", 500)
    editor = kv_editor()
    editor.start_add()
    editor.key.value = "k"
    editor.inputs["STRING"].value = "big"
    assert editor.save() is False
    assert "already exists (NUMBER, revision 1)" in editor.message.value
    assert "overwrite" not in editor.message.value
    assert nc.kv("k") == 500
    editor.start_edit("k")
    nc.set_kv("k", "changed")
    editor.type.value = "JSON"
    editor.inputs["JSON"].value = "[1]"
    assert editor.save() is False
    assert "now: STRING, revision 2; yours: JSON" in editor.message.value
    assert "if_revision" not in editor.message.value


def test_double_click_on_delete_keeps_the_dialog_then_deletes(ns: str) -> None:
    nc.set_kv("a", 1)
    editor = kv_editor()
    editor.pick.value = "a"
    editor.delete_button.click()
    editor.delete_button.click()  # double click: the dialog stays open
    assert len(editor.confirm_box.children) == 3
    yes = editor.confirm_box.children[1]
    yes.click()
    yes.click()  # double click on Yes: deleted once, no error
    assert nc.kv_keys() == []
    assert "deleted 'a'" in editor.message.value


def test_edit_heading_keeps_the_key_case(ns: str) -> None:
    nc.set_kv("Batch_Lock", True)
    editor = kv_editor()
    editor.start_edit("Batch_Lock")
    assert "Edit Batch_Lock" in editor.form_title.value
    assert "text-transform" not in editor.form_title.value

"""namespace_picker: lists known namespaces as a tree, switches, adds."""

from __future__ import annotations

from typing import Any

import nbcreds as nc
from nbcreds.widgets import namespace_picker


def test_lists_namespaces_as_a_tree_and_selects_the_current(write_config: Any) -> None:
    write_config('namespace = "acme.data"\n[namespaces."acme.web".secrets]\nX = "env:X"\n')
    picker = namespace_picker()
    values = [v for _, v in picker.dropdown.options]
    assert values == ["", "acme", "acme.data", "acme.web"]
    labels = {v: label for label, v in picker.dropdown.options}
    assert labels["acme.data"].startswith("\u2003")
    assert not labels["acme"].startswith("\u2003")
    assert picker.dropdown.value == "acme.data"


def test_choosing_switches_the_current_namespace_and_tells_listeners(write_config: Any) -> None:
    write_config('[namespaces."acme.web".secrets]\nX = "env:X"\n')
    picker = namespace_picker()
    heard: list[str | None] = []
    picker.on_change(heard.append)
    picker.dropdown.value = "acme.web"
    assert nc.current_namespace() == "acme.web"
    picker.dropdown.value = ""
    assert nc.current_namespace() is None
    assert heard == ["acme.web", None]


def test_add_a_new_namespace() -> None:
    picker = namespace_picker()
    picker.new_name.value = "team.new"
    picker.add_button.click()
    assert nc.current_namespace() == "team.new"
    assert picker.dropdown.value == "team.new"
    assert "team" in [v for _, v in picker.dropdown.options]
    assert picker.new_name.value == ""


def test_an_invalid_name_shows_the_rule_and_changes_nothing() -> None:
    nc.use_namespace("ok.one")
    picker = namespace_picker()
    picker.new_name.value = "Bad Name"
    picker.add_button.click()
    assert nc.current_namespace() == "ok.one"
    assert "Invalid namespace" in picker.message.value
    assert picker.new_name.value == "Bad Name"  # kept, so the user can fix it
    picker.new_name.value = ""
    picker.add_button.click()
    assert "type a namespace" in picker.message.value

"""Weight (#15): the three widgets a notebook typically shows -- namespace picker, secret
binder, credential form -- make a few dozen widget models, not hundreds, and add little
to a saved notebook. Measured in a real kernel through nbclient, which saves every model
the kernel ever opened (closed ones too, so re-renders that make new models show up)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from .conftest import execute_with_widget_state

#: the bounds checked below; before this change the same three widgets made 497 models
#: (112 KB of state without defaults) on display alone, the issue measured 1,046 models
#: and a 335 KB notebook after use. Now: 47 models, 35 KB with every trait.
MAX_MODELS = 50
MAX_STATE_KB = 40

SHOW = """
from ipywidgets.widgets.widget import _instances
import nbcreds as nc
from nbcreds.widgets import credential_setup, namespace_picker, secret_binder
before = len(_instances)
picker, binder, form = namespace_picker(), secret_binder(), credential_setup()
display(picker, binder, form)
"""

USE = """
from nbcreds.widgets._credential_setup import NEW_VALUE

def type_in(widget, value):
    widget._handle_msg({"content": {"data": {"method": "update", "state": {"value": value},
                                             "buffer_paths": []}}, "buffers": []})

picker.new_name.value = "acme"
picker.add_button.click()
binder.name.value = "DB_PASSWORD"
type_in(binder.value, "typed-db-password-1")
binder.mode.value = "env"
form.type.value = "github_app"  # a look at another type, then back
form.type.value = "oauth2_client_credentials"
form.name.value = "idp"
form.save()  # errors next to the fields
form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
form.fields["client_id"].input.value = "app"
form.fields["client_secret"].input.value = NEW_VALUE
type_in(form.fields["client_secret"].typed, "typed-client-secret-1")
assert form.save(), form.message.value
for _ in range(3):
    binder.refresh()
    form.refresh()
    picker.refresh()
print("MODELS", len(_instances) - before)
"""


@pytest.mark.slow
def test_three_widgets_make_a_few_dozen_models(isolated_nbcreds: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SHOW), nbformat.v4.new_code_cell(USE)]
    execute_with_widget_state(nb, isolated_nbcreds)
    out = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    live = int(out.split("MODELS")[1].split()[0])
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    saved = isolated_nbcreds / "weight.ipynb"
    nbformat.write(nb, saved)
    widget_bytes = len(json.dumps(nb.metadata["widgets"]))
    print(
        f"\nthree widgets after use: {live} live models, {len(state)} models saved, "
        f"widget state {widget_bytes / 1024:.1f} KB of a {saved.stat().st_size / 1024:.1f} KB "
        "notebook (nbclient saves every trait; JupyterLab drops defaults)"
    )
    assert "DB_PASSWORD" in json.dumps(state)  # the flows really ran
    assert live <= MAX_MODELS
    assert len(state) <= MAX_MODELS  # nothing made and thrown away on re-render
    assert widget_bytes <= MAX_STATE_KB * 1024


def test_widget_html_uses_only_jupyterlab_theme_colours(
    isolated_nbcreds: Path, type_in: object
) -> None:
    """No hard-coded colour in any widget's HTML: status lines, tables, errors use the
    JupyterLab CSS variables, so both themes keep their contrast."""
    import re

    import ipywidgets as w

    import nbcreds as nc
    from nbcreds.widgets import credential_setup, dashboard

    nc.bind_secret("S", "x-secret-value-1")
    dash = dashboard(interval=None)
    form = credential_setup()
    form.save()  # errors next to the fields
    form.name.value = "c"
    form.fields["token_endpoint"].input.value = "ftp://nope"
    form.fields["client_id"].input.value = "app"
    form.fields["client_secret"].input.value = "S"
    form.save()
    failed = json.dumps(w.Widget.get_manager_state(drop_defaults=True))
    assert "var(--jp-error-color1)" in failed  # the error lines were rendered
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    assert form.save()
    dash.refresh()
    state = failed + json.dumps(w.Widget.get_manager_state(drop_defaults=True))
    assert "var(--jp-success-color1)" in state or "var(--jp-warn-color1)" in state
    colours = re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(", state)
    assert colours == []


def test_kv_editor_makes_a_fixed_handful_of_models_however_many_keys() -> None:
    """The KV editor used to make a row of widgets per key on every refresh (822 models
    and 655 KB for 5 keys after a few edits); now its table is one HTML widget."""
    from ipywidgets.widgets.widget import _instances

    import nbcreds as nc
    from nbcreds.widgets import kv_editor

    nc.use_namespace("acme")
    for i in range(20):
        nc.set_kv(f"k{i}", i)
    before = len(_instances)
    editor = kv_editor()
    editor.start_edit("k1")
    editor.value_input("NUMBER").value = "9"
    assert editor.save()
    editor.start_add()
    editor.key.value = "n"
    editor.value_input("STRING").value = "x"
    assert editor.save()
    editor.ask_delete("k2")
    editor.delete("k2")
    made = len(_instances) - before
    for _ in range(3):
        editor.refresh()
    assert len(_instances) - before == made  # a refresh makes no model
    assert made <= 32  # 31: table, picker, toolbar, form, two value inputs, confirmation

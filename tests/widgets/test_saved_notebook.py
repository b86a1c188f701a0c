"""End to end in a real kernel: a notebook drives the dashboard (secrets typed the
way the browser sends them, a credential tested against a local OAuth server,
a token minted), nbclient records the widget state from the kernel's comm
messages, the notebook is saved -- and the saved file holds no secret.

The masking extension is *not* loaded here: this checks the widgets' own
discipline, not the egress safety net."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nbcreds.testing.leaks import assert_no_leak

from .conftest import execute_with_widget_state

TYPE_IN = """
def type_in(widget, value):
    widget._handle_msg({"content": {"data": {"method": "update", "state": {"value": value},
                                             "buffer_paths": []}}, "buffers": []})
"""

SETUP = """
import json, os, secrets
import nbcreds as nc
from nbcreds.testing.oauth import OAuthServer
server = OAuthServer().start()
client_secret = "cs-" + secrets.token_urlsafe(24)
typed = "tv-" + secrets.token_urlsafe(24)
server.add_client("nb-app", client_secret=client_secret)
nc.use_namespace("acme")
"""

DRIVE = """
from nbcreds.widgets._credential_setup import NEW_VALUE
setup = dash.setup
setup.name.value = "idp"
setup.fields["token_endpoint"].input.value = server.token_endpoint
setup.fields["client_id"].input.value = "nb-app"
setup.fields["client_secret"].input.value = NEW_VALUE
type_in(setup.fields["client_secret"].typed, client_secret)
setup.test_button.click()
tested = setup.message.value
setup.save_button.click()
dash.binder.name.value = "DB_PASSWORD"
type_in(dash.binder.value, typed)
token = nc.credential("idp").reveal()
dash.credentials.tick()
dash.kv.start_add()
dash.kv.key.value = "cursor"
dash.kv.inputs["STRING"].value = "page-2"
dash.kv.save()
print(tested)
"""

FINISH = """
dash.stop_timer()
server.stop()
with open(os.environ["NBCREDS_WIDGET_TEST_VALUES"], "w") as handle:
    json.dump([client_secret, typed, token], handle)
"""


@pytest.mark.slow
def test_saved_notebook_holds_no_secret(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values_file = tmp_path / "values.json"
    monkeypatch.setenv("NBCREDS_WIDGET_TEST_VALUES", str(values_file))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP + TYPE_IN),
        nbformat.v4.new_code_cell(
            "from nbcreds.widgets import dashboard\ndash = dashboard()\ndash"
        ),
        nbformat.v4.new_code_cell(DRIVE),
        nbformat.v4.new_code_cell(FINISH),
    ]
    execute_with_widget_state(nb, isolated_nbcreds)
    saved = isolated_nbcreds / "saved.ipynb"
    nbformat.write(nb, saved)

    text = saved.read_text()
    values = json.loads(values_file.read_text())
    assert len(values) == 3
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {m["model_name"] for m in state.values()}
    assert {"PasswordModel", "TabModel", "HTMLModel"} <= models
    assert "Test passed" in text  # the flows really ran and were recorded
    assert "DB_PASSWORD" in text
    assert_no_leak(text, values)

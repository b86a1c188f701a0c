"""dashboard: tabs, credential list with status and countdown, the timer thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as w
import pytest

import nbcreds as nc
from nbcreds.widgets import dashboard

SECRET = "d4shb0ard-client-s3cret"


@pytest.fixture
def configured(write_config: Any, oauth_server: Any) -> Any:
    oauth_server.add_client("dash-app", client_secret=SECRET)
    nc.bind_secret("DASH_SECRET", SECRET)
    write_config(
        f'[credentials.idp]\ntype = "oauth2_client_credentials"\n'
        f'token_endpoint = "{oauth_server.token_endpoint}"\nclient_id = "dash-app"\n'
        f'client_secret = "secret:DASH_SECRET"\n'
        f'[namespaces."acme".credentials.local]\ntype = "oauth2_client_credentials"\n'
        f'token_endpoint = "{oauth_server.token_endpoint}"\nclient_id = "dash-app"\n'
        f'client_secret = "secret:DASH_SECRET"\n'
    )
    return oauth_server


def test_tabs_and_credential_rows(configured: Any) -> None:
    dash = dashboard(interval=None)
    assert [dash.tabs.get_title(i) for i in range(3)] == ["Credentials", "Secrets", "KV store"]
    assert list(dash.credentials.rows) == ["idp"]
    assert dash.credentials.cells["idp"][2:] == ["not fetched yet", ""]
    assert "not fetched yet" in dash.credentials.table.value
    assert not dash.timer_alive


def test_namespace_switch_refreshes_every_tab(configured: Any) -> None:
    dash = dashboard(interval=None)
    dash.picker.dropdown.value = "acme"
    assert nc.current_namespace() == "acme"
    assert sorted(dash.credentials.rows) == ["idp", "local"]
    assert dash.setup.level.value == "acme"
    assert "KV of namespace acme" in dash.kv.namespace_label.value


def test_row_test_button_then_countdown(configured: Any) -> None:
    dash = dashboard(interval=None)
    creds = dash.credentials
    assert creds.pick.value == "idp"
    creds.test_button.click()
    assert "a token was obtained" in creds.message.value
    nc.credential("idp")  # a notebook uses the credential: now a token is cached
    creds.tick()
    assert creds.cells["idp"][2].startswith("valid · expires in ")
    assert creds.cells["idp"][3].startswith("expires in")
    now = time.time()
    creds.tick(now=now)
    first = creds.table.value
    creds.tick(now=now + 600)
    assert first != creds.table.value  # the one table re-rendered
    assert creds.cells["idp"][3].startswith("expires in 4")  # about 50 minutes left of 60
    creds.tick(now=now + 7200)
    assert creds.cells["idp"][3] == "expired"
    assert ">expired<" in creds.table.value


def test_edit_button_loads_the_setup_form(configured: Any) -> None:
    dash = dashboard(interval=None)
    dash.credentials.pick.value = "idp"
    dash.credentials.edit_button.click()
    assert dash.setup.name.value == "idp"
    assert dash.setup.fields["client_secret"].input.value == "DASH_SECRET"


def test_saving_a_credential_refreshes_the_list(configured: Any) -> None:
    dash = dashboard(interval=None)
    setup = dash.setup
    setup.name.value = "another"
    setup.fields["token_endpoint"].input.value = configured.token_endpoint
    setup.fields["client_id"].input.value = "dash-app"
    setup.fields["client_secret"].input.value = "DASH_SECRET"
    setup.save_button.click()
    assert sorted(dash.credentials.rows) == ["another", "idp"]


def test_timer_ticks_and_stops_on_close(configured: Any) -> None:
    dash = dashboard(interval=0.01)
    ticked = threading.Event()
    original = dash.tick

    def tick() -> None:
        original()
        ticked.set()

    dash.tick = tick
    assert ticked.wait(30)
    thread = dash._thread
    assert thread is not None
    assert thread.is_alive()
    dash.close()
    assert not thread.is_alive()
    assert not dash.timer_alive
    assert dash.comm is None
    assert dash.credentials.comm is None  # children closed too


def test_close_all_stops_the_timer() -> None:
    dash = dashboard(interval=0.01)
    thread = dash._thread
    assert thread is not None
    w.Widget.close_all()
    assert not thread.is_alive()


def test_timer_notices_a_comm_closed_behind_its_back() -> None:
    dash = dashboard(interval=0.01)
    thread = dash._thread
    assert thread is not None
    w.VBox.close(dash)  # the base close: no stop signal, only the comm goes away
    thread.join(30)
    assert not thread.is_alive()


def test_timer_survives_errors_and_says_so(
    configured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dash = dashboard(interval=None)
    failed = threading.Event()

    def broken(*args: Any, **kwargs: Any) -> Any:
        failed.set()
        raise nc.ConfigError("config vanished", path="x")

    monkeypatch.setattr(nc, "list_credentials", broken)
    dash.start_timer(0.01)
    assert failed.wait(30)
    deadline = time.monotonic() + 30
    while "countdown paused" not in dash.message.value and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "countdown paused: config vanished" in dash.message.value
    assert dash.timer_alive  # still running: it recovers when the error goes away
    dash.close()


def test_closing_the_dashboard_closes_every_widget_it_made() -> None:
    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    dash = dashboard(interval=None)
    made = set(_instances) - before
    assert len(made) > 20
    dash.close()
    assert not (set(_instances) & made)

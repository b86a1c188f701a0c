"""The guarantee of issue 8: after every flow of every widget, neither the widget
state a notebook saves (application/vnd.jupyter.widget-state+json) nor any
message the kernel sent to the frontend holds a secret or a token, in clear or
encoded. Secrets are typed the way a browser sends them (a frontend update)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

import nbcreds as nc
from nbcreds.testing.leaks import assert_no_leak, find_leaks
from nbcreds.widgets import credential_setup, dashboard, kv_editor, namespace_picker, secret_binder
from nbcreds.widgets._credential_setup import NEW_VALUE


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_every_flow_leaves_no_secret_in_widget_state_or_comm_traffic(
    oauth_server: Any,
    isolated_nbcreds: Any,
    monkeypatch: pytest.MonkeyPatch,
    type_in: Any,
    everything_sent: Any,
) -> None:
    client_secret = "cs-" + secrets.token_urlsafe(24) + "+/="
    typed_value = "tv-" + secrets.token_urlsafe(24)
    env_value = "ev-" + secrets.token_urlsafe(24)
    wrong_secret = "ws-" + secrets.token_urlsafe(24)
    misplaced = "mp-" + secrets.token_urlsafe(24)
    pem = _pem()
    oauth_server.add_client("leak-app", client_secret=client_secret)
    monkeypatch.setenv("LEAK_TEST_ENV", env_value)

    dash = dashboard(interval=0.01)  # the countdown thread runs during the flows
    extra = [namespace_picker(), secret_binder(), credential_setup(), kv_editor()]

    # namespace picker: a new namespace
    dash.picker.new_name.value = "acme.team"
    dash.picker.add_button.click()
    assert nc.current_namespace() == "acme.team"

    # secret binder: typed value, env var
    binder = dash.binder
    binder.name.value = "DB_PASSWORD"
    type_in(binder.value, typed_value)
    binder.name.value = "FROM_ENV"
    binder.mode.value = "env"
    binder.env.value = "LEAK_TEST_ENV"
    binder.bind_button.click()
    assert nc.secret("FROM_ENV").reveal() == env_value  # read once: now registered
    binder.refresh()

    # credential setup: a secret typed into the password field, one pasted into a plain
    # field (cleared), a wrong secret (server error), then the right one (token)
    setup = dash.setup
    setup.name.value = "idp"
    setup.fields["token_endpoint"].input.value = oauth_server.token_endpoint
    setup.fields["client_id"].input.value = "leak-app"
    setup.fields["client_secret"].input.value = NEW_VALUE
    type_in(setup.fields["client_secret"].typed, wrong_secret)
    setup.test_button.click()
    assert "invalid_client" in setup.message.value
    setup.fields["client_secret"].input.value = NEW_VALUE  # bound again, the right one
    type_in(setup.fields["client_secret"].typed, client_secret)
    type_in(setup.fields["audience"].input, client_secret)  # pasted in the wrong place
    setup.save_button.click()
    assert setup.fields["audience"].input.value == ""
    setup.test_button.click()
    assert "Test passed" in setup.message.value
    assert setup.save()  # Test wrote nothing: save it for the list below
    # a private key typed into a JWT form
    setup.type.value = "oauth2_private_key_jwt"
    setup.fields["private_key"].input.value = NEW_VALUE
    type_in(setup.fields["private_key"].typed, pem)
    assert setup.fields["private_key"].input.value == "IDP_PRIVATE_KEY"
    setup.type.value = "oauth2_client_credentials"

    # credential list: test, use the token, countdown, edit
    creds = dash.credentials
    creds.refresh()
    creds.test("idp")
    token = nc.credential("idp").reveal()
    time.sleep(0.05)  # let the timer thread render the countdown at least once
    creds.tick()
    assert "expires in" in creds.table.value
    creds.edit("idp", "acme.team")

    # KV editor: add, a secret refused (and cleared from the form), edit, delete
    kv = dash.kv
    kv.refresh()
    kv.start_add()
    kv.key.value = "cursor"
    kv.type.value = "NUMBER"
    kv.inputs["NUMBER"].value = "42"
    assert kv.save()
    kv.start_add()
    kv.key.value = "oops"
    type_in(kv.inputs["STRING"], f"token={token}")
    assert not kv.save()
    assert kv.inputs["STRING"].value == ""
    kv.start_edit("cursor")
    kv.inputs["NUMBER"].value = "43"
    assert kv.save()
    kv.ask_delete("cursor")
    kv.confirm_box.children[1].click()
    assert nc.kv_keys() == []

    # a secret pasted into the binder's plain fields and the namespace field
    binder.mode.value = "vault"
    nc.mask(misplaced, "pasted")
    type_in(binder.vault, misplaced)
    binder.name.value = "X"
    binder.bind_button.click()
    assert binder.vault.value == ""

    dash.tick()
    for widget in extra:
        widget.refresh() if hasattr(widget, "refresh") else None

    sent = everything_sent()
    # the scan sees real content: names and messages are there, values are not
    assert "DB_PASSWORD" in sent
    assert "IDP_CLIENT_SECRET" in sent
    assert "a token was obtained" in sent
    values = [client_secret, typed_value, env_value, wrong_secret, misplaced, token, pem]
    values += [line for line in pem.splitlines() if len(line) > 20 and "PRIVATE" not in line]
    assert_no_leak(sent, values)
    dash.close()
    assert not dash.timer_alive


def test_the_scan_would_catch_a_leak(type_in: Any, everything_sent: Any) -> None:
    """The check above can fail: a plain Text widget holding a secret is found."""
    import ipywidgets as w

    value = "pl41n-" + secrets.token_urlsafe(16)
    w.Text(value=value)
    assert find_leaks(everything_sent(), [value])

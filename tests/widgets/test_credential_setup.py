"""credential_setup: per-type fields, typed secrets bound and cleared, Save, Test
against a real local OAuth2 server, validation next to the field at fault."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import nbcreds as nc
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.widgets import credential_setup
from nbcreds.widgets._credential_setup import NEW_VALUE

CLIENT_SECRET = "cl13nt-s3cret: +/=%&<>"


CACHING = ["token_caching.enabled", "token_caching.refresh_before_expiry"]


def shown_keys(form: Any) -> list[str]:
    """The field keys, in the order their controls are laid out."""
    by_control = {field.input: key for key, field in form.fields.items()}
    return [by_control[c] for c in form.children if c in by_control]


def type_secret(field: Any, value: str, type_in: Any) -> None:
    """Choose "type a new value" in a secret field, then type ``value`` as the browser does."""
    field.input.value = NEW_VALUE
    assert field.typed in field.form.children  # the value field appears below the choice
    type_in(field.typed, value)


def test_the_type_changes_the_field_set() -> None:
    form = credential_setup()
    assert shown_keys(form) == [
        "description",
        "token_endpoint",
        "client_id",
        "client_secret",
        "client_auth_method",
        "scopes",
        "audience",
        *CACHING,
    ]
    form.type.value = "github_app"  # the fields the type declares (app_id or client_id)
    assert shown_keys(form) == [
        "description",
        "app_id",
        "client_id",
        "installation_id",
        "private_key",
        "api_url",
        "repositories",
        *CACHING,
    ]
    form.type.value = "oauth2_jwt_bearer"
    assert "issuer" in shown_keys(form)
    assert "subject" in shown_keys(form)
    form.type.value = "oauth2_private_key_jwt"
    assert "client_secret" not in shown_keys(form)
    assert "private_key" in shown_keys(form)


def test_another_types_fields_are_closed_and_come_back_as_they_were(
    isolated_nbcreds: Path,
) -> None:
    """Switching the type closes the fields the new type does not show (a saved notebook
    keeps live models only); switching back shows what they held."""
    nc.bind_secret("CS", "cs-value-98765")
    form = credential_setup()
    endpoint = form.fields["token_endpoint"].input
    endpoint.value = "https://idp.example/token"
    form.fields["client_secret"].input.value = "CS"
    form.fields["client_auth_method"].input.value = "client_secret_post"
    client_id = form.fields["client_id"].input
    client_id.value = "app"
    form.type.value = "github_app"
    assert endpoint.comm is None  # closed, not just hidden
    assert "token_endpoint" not in form.fields
    assert form.fields["client_id"].input is client_id  # a key both types show stays
    form.type.value = "oauth2_client_credentials"
    assert form.fields["token_endpoint"].input.value == "https://idp.example/token"
    assert form.fields["client_secret"].input.value == "CS"
    assert form.fields["client_auth_method"].input.value == "client_secret_post"
    assert client_id.value == "app"


def test_an_error_line_is_closed_once_the_error_is_gone(isolated_nbcreds: Path) -> None:
    form = credential_setup()
    assert not form.save()
    line = form.fields["token_endpoint"].error.widget
    assert "required" in line.value
    assert not form.save()
    assert form.fields["token_endpoint"].error.widget is line  # a failing Save reuses it
    form.fields["token_endpoint"].input.value = "https://idp.example/token"
    assert not form.save()  # other fields still missing
    assert line.comm is None
    assert form.fields["token_endpoint"].error.widget is None
    assert line not in form.children


def test_missing_fields_are_marked_next_to_the_field(isolated_nbcreds: Path) -> None:
    form = credential_setup()
    form.save_button.click()
    assert "a name is required" in form.name_error.value
    assert "required" in form.fields["token_endpoint"].error.value
    assert "required" in form.fields["client_secret"].error.value
    assert form.fields["audience"].error.value == ""
    assert "fix the fields" in form.message.value
    assert not (isolated_nbcreds / "nbcreds.toml").exists()
    form.name.value = "bad name!"
    form.save_button.click()
    assert "credential name" in form.name_error.value


def test_typed_secret_is_bound_cleared_and_referenced(
    isolated_nbcreds: Path, type_in: Any, everything_sent: Any
) -> None:
    nc.use_namespace("acme")
    form = credential_setup()
    form.name.value = "my_oauth"
    assert form.level.value == "acme"
    field = form.fields["client_secret"]
    type_secret(field, CLIENT_SECRET, type_in)
    assert field.typed.value == ""
    assert field.input.value == "MY_OAUTH_CLIENT_SECRET"
    assert field.typed not in form.children  # back to one control: the secret chosen
    assert nc.secret("MY_OAUTH_CLIENT_SECRET").reveal() == CLIENT_SECRET
    assert "bound as session secret MY_OAUTH_CLIENT_SECRET at acme" in field.error.value
    assert "memory only" in field.error.value
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    form.fields["client_id"].input.value = "app"
    form.fields["scopes"].input.value = "read, write"
    form.save_button.click()
    assert "saved 'my_oauth' at acme" in form.message.value
    text = (isolated_nbcreds / "nbcreds.toml").read_text()
    definition = tomllib.loads(text)["namespaces"]["acme"]["credentials"]["my_oauth"]
    assert definition == {
        "type": "oauth2_client_credentials",
        "token_endpoint": "http://127.0.0.1:9/token",
        "client_id": "app",
        "client_secret": "secret:MY_OAUTH_CLIENT_SECRET",
        "scopes": ["read", "write"],
    }  # client auth left to its default: not written
    assert_no_leak(text, [CLIENT_SECRET])
    assert_no_leak(everything_sent(), [CLIENT_SECRET])


def test_pick_existing_secrets_and_a_value_without_a_name_is_discarded(type_in: Any) -> None:
    nc.bind_secret("EXISTING", "some-existing-value")
    form = credential_setup()
    field = form.fields["client_secret"]
    values = [v for _, v in field.input.options]
    assert "EXISTING" in values
    assert values[-1] == NEW_VALUE
    assert field.typed is None  # no value field until "type a new value" is chosen
    field.input.value = "EXISTING"
    assert form.definition()["client_secret"] == "secret:EXISTING"
    # without a credential name the value is discarded, and said so next to the field
    type_secret(field, "another-typed-value", type_in)
    assert field.typed.value == ""
    assert "discarded" in field.error.value
    assert form.children.index(field.error.widget) == form.children.index(field.input) + 2
    assert [r.name for r in nc.list_secrets()] == ["EXISTING"]


def test_a_secret_field_is_one_control(type_in: Any) -> None:
    form = credential_setup()
    field = form.fields["client_secret"]
    after = form.children[form.children.index(field.input) + 1]
    assert after is form.fields["client_auth_method"].input
    form.name.value = "svc"
    type_secret(field, "a-typed-value-1234", type_in)
    after = form.children[form.children.index(field.input) + 1]
    assert after is field.error.widget  # the value field went away once it was bound


def test_engine_errors_go_next_to_the_field(isolated_nbcreds: Path) -> None:
    nc.bind_secret("S", "x-secret-value")
    form = credential_setup()
    form.name.value = "c"
    form.fields["token_endpoint"].input.value = "ftp://nope"
    form.fields["client_id"].input.value = "app"
    form.fields["client_secret"].input.value = "S"
    assert form.save() is False
    assert "http:// or https://" in form.fields["token_endpoint"].error.value
    assert "not saved" in form.message.value
    assert not (isolated_nbcreds / "nbcreds.toml").exists()


@pytest.fixture
def oauth_client(oauth_server: Any) -> Any:
    oauth_server.add_client("widget-app", client_secret=CLIENT_SECRET)
    return oauth_server


def fill_client_credentials(form: Any, server: Any, type_in: Any, secret: str) -> None:
    form.name.value = "idp"
    form.fields["token_endpoint"].input.value = server.token_endpoint
    form.fields["client_id"].input.value = "widget-app"
    type_secret(form.fields["client_secret"], secret, type_in)


def test_test_button_tests_the_unsaved_form_and_writes_nothing(
    isolated_nbcreds: Path, oauth_client: Any, type_in: Any, everything_sent: Any
) -> None:
    form = credential_setup()
    fill_client_credentials(form, oauth_client, type_in, CLIENT_SECRET)
    form.fields["client_auth_method"].input.value = "client_secret_post"
    form.test_button.click()
    assert "Test passed" in form.message.value
    assert "a token was obtained" in form.message.value
    assert "nothing was saved" in form.message.value
    assert not (isolated_nbcreds / "nbcreds.toml").exists()
    assert nc.list_credentials() == []
    assert form.save() is True
    token = nc.credential("idp")
    assert oauth_client.issued(token.reveal())
    form.test_button.click()  # the saved definition: no "nothing was saved" any more
    assert "Test passed" in form.message.value
    assert "nothing was saved" not in form.message.value
    assert_no_leak(everything_sent(), [CLIENT_SECRET, token.reveal()])


def test_test_button_checks_the_form_first(isolated_nbcreds: Path) -> None:
    nc.bind_secret("S", "x-secret-value")
    form = credential_setup()
    form.name.value = "c"
    assert form.test() is False
    assert "required" in form.fields["token_endpoint"].error.value
    assert "not tested" in form.message.value
    form.fields["token_endpoint"].input.value = "ftp://nope"
    form.fields["client_id"].input.value = "app"
    form.fields["client_secret"].input.value = "S"
    assert form.test() is False  # the engine's own check, next to the field it names
    assert "http:// or https://" in form.fields["token_endpoint"].error.value
    assert not (isolated_nbcreds / "nbcreds.toml").exists()


def test_save_warns_when_a_secret_lives_only_in_this_session(
    isolated_nbcreds: Path, type_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = credential_setup()
    form.name.value = "svc"
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    form.fields["client_id"].input.value = "app"
    type_secret(form.fields["client_secret"], "typed-only-here-123", type_in)
    assert form.save() is True
    assert "saved 'svc'" in form.message.value
    assert "SVC_CLIENT_SECRET is a typed value kept in this kernel's memory only" in (
        form.message.value
    )
    assert "after a restart" in form.message.value
    # the same credential pointing at an environment variable: no warning
    monkeypatch.setenv("SVC_ENV_SECRET", "from-the-environment-1")
    nc.bind_secret("FROM_ENV", ref="env:SVC_ENV_SECRET")
    form.fields["client_secret"].set_secret_options()
    form.fields["client_secret"].input.value = "FROM_ENV"
    assert form.save() is True
    assert "saved 'svc'" in form.message.value
    assert "memory only" not in form.message.value


def test_test_button_shows_the_servers_error(
    oauth_client: Any, type_in: Any, everything_sent: Any
) -> None:
    wrong = "wr0ng-s3cret-typed-in"
    form = credential_setup()
    fill_client_credentials(form, oauth_client, type_in, wrong)
    assert form.test() is False
    assert "Test failed" in form.message.value
    assert "invalid_client" in form.message.value
    assert_no_leak(everything_sent(), [wrong, CLIENT_SECRET])


def test_load_fills_the_form_from_a_saved_definition(write_config: Any) -> None:
    write_config(
        '[namespaces."acme".credentials.gh]\ntype = "github_app"\napp_id = "12"\n'
        'installation_id = "34"\nprivate_key = "secret:GH_KEY"\n'
    )
    form = credential_setup()
    form.load("gh", "acme")
    assert form.name.value == "gh"
    assert form.level.value == "acme"
    assert form.type.value == "github_app"
    assert form.fields["installation_id"].input.value == "34"
    assert form.fields["private_key"].input.value == "GH_KEY"
    assert form.definition() == {
        "type": "github_app",
        "app_id": "12",
        "installation_id": "34",
        "private_key": "secret:GH_KEY",
    }
    form.load("missing", None)
    assert "no credential 'missing'" in form.message.value


def test_a_secret_pasted_into_a_plain_field_is_cleared_not_saved(
    isolated_nbcreds: Path, type_in: Any, everything_sent: Any
) -> None:
    nc.bind_secret("S", CLIENT_SECRET)
    form = credential_setup()
    form.name.value = "c"
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    form.fields["client_secret"].input.value = "S"
    type_in(form.fields["client_id"].input, CLIENT_SECRET)
    assert form.save() is False
    assert form.fields["client_id"].input.value == ""
    assert "held a secret value" in form.fields["client_id"].error.value
    assert not (isolated_nbcreds / "nbcreds.toml").exists()
    assert_no_leak(everything_sent(), [CLIENT_SECRET])


def test_token_caching_settings_round_trip(isolated_nbcreds: Path) -> None:
    nc.bind_secret("S", "x-secret-value")
    form = credential_setup()
    form.name.value = "c"
    form.fields["token_endpoint"].input.value = "http://127.0.0.1:9/token"
    form.fields["client_id"].input.value = "app"
    form.fields["client_secret"].input.value = "S"
    form.fields["token_caching.refresh_before_expiry"].input.value = "soon"
    assert form.save() is False
    assert "ISO-8601" in form.fields["token_caching.refresh_before_expiry"].error.value
    form.fields["token_caching.refresh_before_expiry"].input.value = "PT2M"
    form.fields["token_caching.enabled"].input.value = False
    assert form.save() is True
    saved = tomllib.loads((isolated_nbcreds / "nbcreds.toml").read_text())
    assert saved["credentials"]["c"]["token_caching"] == {
        "enabled": False,
        "refresh_before_expiry": "PT2M",
    }
    assert nc.credential_info("c").caching_enabled is False
    other = credential_setup()
    other.load("c")
    assert other.fields["token_caching.enabled"].input.value is False
    assert other.fields["token_caching.refresh_before_expiry"].input.value == "PT2M"
    assert other.definition() == form.definition()


def test_edit_keeps_settings_the_form_does_not_show(write_config: Any) -> None:
    path = write_config(
        '[credentials.gh]\ntype = "github_app"\napp_id = "12"\ninstallation_id = "34"\n'
        'private_key = "secret:GH_KEY"\nrepositories = ["a", "b"]\n'
        '[credentials.gh.permissions]\ncontents = "read"\n'
    )
    form = credential_setup()
    form.load("gh")
    form.fields["installation_id"].input.value = "56"
    assert form.save() is True
    saved = tomllib.loads(path.read_text())["credentials"]["gh"]
    assert saved["installation_id"] == "56"
    assert saved["repositories"] == ["a", "b"]
    assert saved["permissions"] == {"contents": "read"}


def test_a_third_party_type_gets_its_fields_from_the_registry(
    isolated_nbcreds: Path, type_in: Any, everything_sent: Any
) -> None:
    """tests/plugin_example (installed in the test venv) declares ``example_hmac``: the form
    offers it and shows its fields, with no change to the widgets."""
    key_value = "hm4c-signing-key-typed-in"
    form = credential_setup()
    assert ("Example HMAC token", "example_hmac") in form.type.options
    form.type.value = "example_hmac"
    assert shown_keys(form) == ["description", "key", "lifetime", *CACHING]
    assert form.fields["key"].input.description == "Signing key *"
    assert form.fields["lifetime"].input.placeholder == "300 (the default)"
    form.name.value = "hmac"
    type_secret(form.fields["key"], key_value, type_in)
    form.fields["lifetime"].input.value = "soon"
    assert form.test() is False
    assert "must be a number" in form.fields["lifetime"].error.value
    form.fields["lifetime"].input.value = "-5"  # the plugin's own check, next to its field
    assert form.test() is False
    assert "positive number of seconds" in form.fields["lifetime"].error.value
    form.fields["lifetime"].input.value = "120"
    assert form.test() is True
    assert "Test passed" in form.message.value
    assert "valid for 120 s" in form.message.value
    assert form.fields["lifetime"].error.value == ""
    assert not (isolated_nbcreds / "nbcreds.toml").exists()
    assert form.save() is True
    saved = tomllib.loads((isolated_nbcreds / "nbcreds.toml").read_text())
    assert saved["credentials"]["hmac"] == {
        "type": "example_hmac",
        "key": "secret:HMAC_KEY",
        "lifetime": 120,
    }
    assert_no_leak(everything_sent(), [key_value])


def test_every_control_of_every_type_has_an_accessible_name() -> None:
    import ipywidgets as w

    form = credential_setup()
    for _, name in form.type.options:
        form.type.value = name
        for key in form.shown:
            field = form.fields[key]
            field.input.value = NEW_VALUE if field.spec.kind == "secret" else field.input.value
        controls = [c for c in form.children if isinstance(c, w.DOMWidget)]
        controls = [c for c in controls if not isinstance(c, w.HTML | w.Box)]
        for control in controls:
            assert control.description.strip(), (name, control)
        # one label column: every labelled control shares the one style
        assert {id(c.style) for c in controls if not isinstance(c, w.Button)} == {
            id(form.parts.style)
        }
        buttons = [c for c in form.buttons.children]
        assert [b.description for b in buttons] == ["Test", "Save"]

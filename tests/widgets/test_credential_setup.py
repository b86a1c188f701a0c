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

CLIENT_SECRET = "cl13nt-s3cret: +/=%&<>"


CACHING = ["token_caching.enabled", "token_caching.refresh_before_expiry"]


def shown_keys(form: Any) -> list[str]:
    by_row = {field.row: key for key, field in form.fields.items()}
    return [by_row[row] for row in form.field_box.children]


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
    type_in(field.typed, CLIENT_SECRET)
    assert field.typed.value == ""
    assert field.input.value == "MY_OAUTH_CLIENT_SECRET"
    assert nc.secret("MY_OAUTH_CLIENT_SECRET").reveal() == CLIENT_SECRET
    assert "bound as session secret MY_OAUTH_CLIENT_SECRET at acme" in field.error.value
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
        "client_auth_method": "client_secret_basic",
        "scopes": ["read", "write"],
    }
    assert_no_leak(text, [CLIENT_SECRET])
    assert_no_leak(everything_sent(), [CLIENT_SECRET])


def test_bind_as_an_entered_name_and_pick_existing_secrets(type_in: Any) -> None:
    nc.bind_secret("EXISTING", "some-existing-value")
    form = credential_setup()
    field = form.fields["client_secret"]
    assert "EXISTING" in [v for _, v in field.input.options]
    field.bind_as.value = "CHOSEN_NAME"
    type_in(field.typed, CLIENT_SECRET)
    assert field.input.value == "CHOSEN_NAME"
    assert nc.secret("CHOSEN_NAME").reveal() == CLIENT_SECRET
    # without a credential name or a bind-as name the value is discarded
    field.bind_as.value = ""
    type_in(field.typed, "another-typed-value")
    assert field.typed.value == ""
    assert "discarded" in field.error.value
    assert [r.name for r in nc.list_secrets()] == ["CHOSEN_NAME", "EXISTING"]


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
    type_in(form.fields["client_secret"].typed, secret)


def test_test_button_saves_then_gets_a_token(
    isolated_nbcreds: Path, oauth_client: Any, type_in: Any, everything_sent: Any
) -> None:
    form = credential_setup()
    fill_client_credentials(form, oauth_client, type_in, CLIENT_SECRET)
    form.fields["client_auth_method"].input.value = "client_secret_post"
    form.test_button.click()
    assert "Test passed" in form.message.value
    assert "a token was obtained" in form.message.value
    assert (isolated_nbcreds / "nbcreds.toml").exists()
    token = nc.credential("idp")
    assert oauth_client.issued(token.reveal())
    assert_no_leak(everything_sent(), [CLIENT_SECRET, token.reveal()])


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

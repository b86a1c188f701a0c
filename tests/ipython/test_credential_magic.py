"""%credential against a real authlib OAuth server on 127.0.0.1, and keep-fresh."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbcreds as nc
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture
def api(oauth: Any, write_config: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Credential 'api' (client credentials) at the tenant level, a second one in team.a."""
    client_id = "nb-" + secrets.token_hex(4)
    client_secret = "cs-" + secrets.token_urlsafe(16)
    oauth.add_client(client_id, client_secret=client_secret)
    monkeypatch.setenv("SECRET_CLIENT_SECRET", base64.b64encode(client_secret.encode()).decode())

    def table(header: str, extra: str = "") -> str:
        return (
            f"{header}\n"
            'type = "oauth2_client_credentials"\n'
            f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
            f"client_id = {json.dumps(client_id)}\n"
            'client_secret = "secret:CLIENT_SECRET"\n' + extra
        )

    write_config(table("[credentials.api]") + table('[namespaces."team.a".credentials.eager]'))
    return {"client_secret": client_secret}


def all_values() -> list[str]:
    return list(nc.masking.registry.values())


def test_bind_token_to_variable_without_showing_it(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    result, out = cell("%credential api --as token\ntoken")
    assert result.success
    token = ip.user_ns["token"]
    assert oauth.issued(token)
    assert "token = <Secret api ****>  (expires in 60 min; kept fresh before each cell)" in out
    assert_no_leak(out, [token.reveal(), api["client_secret"], *all_values()])


def test_default_variable_name_and_get_form(
    ip: InteractiveShell, oauth: Any, api: dict[str, Any]
) -> None:
    ip.run_line_magic("credential", "api")
    assert oauth.issued(ip.user_ns["api"])
    ip.run_line_magic("credential", "get api --as t2")
    assert ip.user_ns["t2"] == ip.user_ns["api"]  # the cached token


def test_list_shows_type_level_and_cache_state(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    nc.use_namespace("team.a")
    rows = {r["name"]: r for r in ip.run_line_magic("credential", "list").rows}
    assert rows["api"]["type"] == "oauth2_client_credentials"
    assert rows["api"]["level"] == "tenant (inherited)"
    assert rows["eager"]["level"] == "team.a"
    assert rows["api"]["token"] == "not fetched yet"
    nc.credential("api")
    rows = {r["name"]: r for r in ip.run_line_magic("credential", "list").rows}
    assert re.fullmatch(r"valid · expires in (59|60) min", rows["api"]["token"])
    oauth.fail_next(5, 400, body={"error": "invalid_client"})
    nc.invalidate("api")
    with pytest.raises(nc.NbcredsError) as info:
        nc.credential("api")
    rows = {r["name"]: r for r in ip.run_line_magic("credential", "list").rows}
    assert rows["api"]["token"] == f"failed: {info.value}"
    _, out = cell("%credential list")
    assert_no_leak(out, all_values())


def test_test_info_and_invalidate(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    message = ip.run_line_magic("credential", "test api")
    assert message.ok is True
    assert message.text.startswith("✓ api: Credential 'api'")
    assert "a token was obtained" in message.text
    info = {r["field"]: r["value"] for r in ip.run_line_magic("credential", "info api").rows}
    assert info["type"] == "oauth2_client_credentials"
    assert info["token_endpoint"] == oauth.token_endpoint
    assert info["cached"] == "False"
    nc.credential("api")
    info = {r["field"]: r["value"] for r in ip.run_line_magic("credential", "info api").rows}
    assert info["cached"] == "True"
    _, out = cell("%credential invalidate api")
    assert "api: cached token dropped" in out
    _, out = cell("%credential invalidate api")
    assert "api: no cached token to drop" in out
    assert_no_leak(out, all_values())


def test_failed_test_is_a_red_message_not_an_error(
    ip: InteractiveShell, oauth: Any, api: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_CLIENT_SECRET", base64.b64encode(b"wrong-secret-xyz").decode())
    message = ip.run_line_magic("credential", "test api")
    assert message.ok is False
    assert message.text.startswith("✗ api:")
    assert "invalid_client" in message.text
    assert "wrong-secret-xyz" not in message._repr_html_()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "what should %credential do"),
        ("nope", "nope"),
        ("test", "expected exactly one name"),
        ("info a b", "expected exactly one name"),
        ("list x", "takes no name"),
        ("api --as 1x", "not a valid Python variable name"),
    ],
)
def test_mistakes_are_usage_errors(
    ip: InteractiveShell, api: dict[str, Any], line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("credential", line)


def test_token_request_failure_is_one_line(
    ip: InteractiveShell,
    cell: Any,
    oauth: Any,
    api: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_CLIENT_SECRET", base64.b64encode(b"wrong-secret-xyz").decode())
    result, out = cell("%credential api")
    assert isinstance(result.error_in_exec, UsageError)
    assert "invalid_client" in out
    assert "Traceback" not in out
    assert "api" not in ip.user_ns


# ------------------------------------------------------------------------------ keep fresh


def test_not_due_binding_is_left_alone(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%credential api --as tok")
    first = ip.user_ns["tok"]
    requests = oauth.token_requests
    cell("x = 1")
    assert ip.user_ns["tok"] is first
    assert oauth.token_requests == requests  # nothing minted: not due


def test_invalidated_token_is_rebound_before_next_cell(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%credential api --as tok")
    first = ip.user_ns["tok"]
    cell("%credential invalidate api")
    result, out = cell("seen = tok")
    assert result.success
    assert ip.user_ns["seen"] != first  # the cell already ran with the new token
    assert oauth.issued(ip.user_ns["seen"])
    assert_no_leak(out, all_values())


def test_due_token_is_rebound_before_the_cell(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    oauth.token_lifetime = 1  # refresh point: 80 % of the lifetime
    cell("%credential api --as tok")
    first = ip.user_ns["tok"].reveal()
    deadline = time.monotonic() + 10
    while not nc.credential_info("api").refresh_due and time.monotonic() < deadline:
        time.sleep(0.05)
    oauth.token_lifetime = 3600
    cell("seen = tok")
    second = ip.user_ns["seen"].reveal()
    changed = second != first
    assert changed  # the cell ran with a new token
    assert oauth.issued(second)
    assert ip.user_ns["tok"] is ip.user_ns["seen"]


def test_binding_pins_its_namespace(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%namespace team.a\n%credential eager --as tok\n%namespace --tenant")
    result, _ = cell("pass")  # 'eager' is not visible from the tenant: still refreshed
    assert result.success
    magics = ip.magics_manager.registry["NbcredsMagics"]
    assert magics.bindings["tok"].namespace == "team.a"


def test_reassigned_variable_is_left_alone_and_forgotten(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%credential api --as tok")
    cell("tok = 'mine'")
    cell("%credential invalidate api")
    cell("pass")
    assert ip.user_ns["tok"] == "mine"
    magics = ip.magics_manager.registry["NbcredsMagics"]
    assert "tok" not in magics.bindings


def test_keep_fresh_can_be_turned_off(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%config NbcredsMagics.keep_fresh = False")
    cell("%credential api --as tok")
    first = ip.user_ns["tok"]
    cell("%credential invalidate api")
    cell("pass")
    assert ip.user_ns["tok"] is first


def test_refresh_failure_is_one_line_on_stderr(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any]
) -> None:
    cell("%credential api --as tok")
    first = ip.user_ns["tok"]
    cell("%credential invalidate api")
    oauth.fail_next(1, 400, body={"error": "invalid_client", "error_description": "revoked"})
    result, out = cell("y = 2")
    assert result.success  # the cell still runs
    assert ip.user_ns["tok"] is first
    assert "nbcreds: could not refresh `tok` (credential 'api')" in out
    assert "Traceback" not in out
    assert_no_leak(out, all_values())
    oauth.fail_next(1, 400, body={"error": "invalid_client", "error_description": "revoked"})
    _, out = cell("y = 3")
    assert "could not refresh" not in out  # the same failure is not repeated
    _, out = cell("y = 4")  # the server answers again: re-bound
    assert ip.user_ns["tok"] is not first
    assert oauth.issued(ip.user_ns["tok"])


def test_binding_ends_when_the_credential_disappears(
    ip: InteractiveShell, cell: Any, oauth: Any, api: dict[str, Any], write_config: Any
) -> None:
    cell("%credential api --as tok")
    first = ip.user_ns["tok"]
    write_config("")  # no credentials any more
    _, out = cell("pass")
    assert "`tok` is no longer kept fresh: Cannot find credential 'api'" in out
    _, out = cell("pass")
    assert "no longer kept fresh" not in out
    assert ip.user_ns["tok"] is first


def test_credential_names_complete(ip: InteractiveShell, api: dict[str, Any]) -> None:
    from IPython.core.completer import provisionalcompleter

    def complete(text: str) -> list[str]:
        with provisionalcompleter():
            return sorted({c.text for c in ip.Completer.completions(text, len(text))})

    assert complete("%credential ") == ["api", "get", "info", "invalidate", "list", "test"]
    assert complete("%credential test a") == ["api"]
    assert complete("%credential -n team.a info e") == ["eager"]
    assert complete("%%http --auth ") == ["api"]

"""%%http in a real InteractiveShell against local servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbcreds as nc
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> nc.Secret:
    """A random env secret API_KEY; a Secret, so a failing test's report masks it."""
    value = "key-" + secrets.token_urlsafe(20)
    monkeypatch.setenv("SECRET_API_KEY", base64.b64encode(value.encode()).decode())
    return nc.Secret(value, "API_KEY")


def test_get_displays_status_headers_and_json(ip: InteractiveShell, api_url: str) -> None:
    with capture_output(display=True) as cap:
        result = ip.run_cell(f"%%http\nGET {api_url}/nested\nAccept: application/json\n")
    assert result.success
    (shown,) = cap.outputs
    assert "text/html" in shown.data
    assert "<details" in shown.data["text/html"]
    plain = shown.data["text/plain"]
    assert re.match(r"HTTP/1\.[01] 200 OK  ·  \d+ ms\n", plain)
    assert f"GET {api_url}/nested" in plain
    assert "content-type: application/json" in plain
    assert '"n": 3' in plain


def test_as_var_keeps_the_response(ip: InteractiveShell, cell: Any, api_url: str) -> None:
    cell(f'%%http --as resp\nPOST {api_url}/echo\n\n{{"a": 1}}')
    resp = ip.user_ns["resp"]
    assert isinstance(resp, httpx.Response)
    assert resp.json()["body"] == '{"a": 1}'
    assert resp.json()["method"] == "POST"


def test_secret_template_and_echo_never_shown(
    ip: InteractiveShell, cell: Any, api_url: str, api_key: str
) -> None:
    result, out = cell(
        f"%%http --as resp\nPOST {api_url}/echo?k={{{{ secret('API_KEY') }}}}\n"
        "X-Custom: {{ secret('API_KEY') }}\n\n"
        '{"key": "{{ secret(\'API_KEY\') }}"}'
    )
    assert result.success
    assert ip.user_ns["resp"].json()["headers"]["X-Custom"] == api_key
    assert_no_leak(out, [api_key.reveal()])


def test_kv_template_in_namespace(ip: InteractiveShell, cell: Any, api_url: str) -> None:
    nc.set_kv("page_size", 25, namespace="company.team")
    cell(f"%%http -n company.team --as resp\nGET {api_url}/echo?size={{{{ kv('page_size') }}}}")
    assert ip.user_ns["resp"].json()["path"] == "/echo?size=25"


def _api_credential(
    oauth: Any, client_id: str, write_config: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Credential ``api``: ``client_id`` on the OAuth server with a fresh secret given
    as ``secret:CS``; returns the secret."""
    client_secret = "cs-" + secrets.token_urlsafe(16)
    oauth.add_client(client_id, client_secret=client_secret)
    monkeypatch.setenv("SECRET_CS", base64.b64encode(client_secret.encode()).decode())
    write_config(
        "[credentials.api]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f'client_id = "{client_id}"\n'
        'client_secret = "secret:CS"\n'
    )
    return client_secret


def test_auth_with_credential_against_protected_resource(
    ip: InteractiveShell,
    cell: Any,
    oauth: Any,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_secret = _api_credential(oauth, "http-magic", write_config, monkeypatch)
    result, out = cell(f"%%http --auth api --as resp\nGET {oauth.resource_url}")
    assert result.success
    assert ip.user_ns["resp"].status_code == 200
    assert ip.user_ns["resp"].json()["owner"] == "http-magic"
    assert "200 OK" in out
    sent = ip.user_ns["resp"].request.headers["Authorization"]
    assert_no_leak(out, [sent.removeprefix("Bearer "), client_secret])
    # without --auth the resource refuses, shown as a response (not an error)
    result, out = cell(f"%%http\nGET {oauth.resource_url}")
    assert result.success
    assert "401 Unauthorized" in out


def test_credential_template_in_header(
    ip: InteractiveShell,
    cell: Any,
    oauth: Any,
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_secret = _api_credential(oauth, "http-tmpl", write_config, monkeypatch)
    _result, out = cell(
        f"%%http --as resp\nGET {oauth.resource_url}\n"
        "Authorization: Bearer {{ credential('api') }}"
    )
    assert ip.user_ns["resp"].status_code == 200
    assert_no_leak(out, [client_secret, *nc.masking.registry.values()])


def test_connection_error_is_one_usage_error_line(cell: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, out = cell(f"%%http\nGET http://127.0.0.1:{port}/x")
    assert isinstance(result.error_in_exec, UsageError)
    assert out.strip() == (
        f"UsageError: GET 127.0.0.1:{port}: connection refused: is the server running on that port?"
    )


def test_timeout_option(cell: Any, api_url: str) -> None:
    result, out = cell(f"%%http --timeout 0.3\nGET {api_url}/slow")
    assert isinstance(result.error_in_exec, UsageError)
    assert "timed out after 0.3 s" in out


def test_default_timeout_is_configurable(ip: InteractiveShell, cell: Any, api_url: str) -> None:
    cell("%config NbcredsMagics.http_timeout = 0.3")
    _result, out = cell(f"%%http\nGET {api_url}/slow")
    assert "timed out after 0.3 s" in out


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%%http\n# only a comment\n", "needs a request"),
        ("%%http\nGET http://127.0.0.1:1/x\nnot a header", "line 2: expected a header"),
        ("%%http\nGET http://h/{{ nope() }}", "'nope' is undefined"),
        ("%%http\nGET http://h/{{ secret('MISSING_X') }}", "Cannot find secret 'MISSING_X'"),
        ("%%http --as 1bad\nGET http://127.0.0.1:1/", "not a valid Python variable"),
        ("%%http --bogus\nGET http://h/", "unrecognized arguments"),
        ("%%http\nGET ftp://h/x", "must start with http"),
        ("%%http --auth nope\nGET http://127.0.0.1:9/x", "Cannot find credential 'nope'"),
    ],
)
def test_mistakes_are_usage_errors(cell: Any, code: str, message: str) -> None:
    result, out = cell(code)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in out
    assert "Traceback" not in out

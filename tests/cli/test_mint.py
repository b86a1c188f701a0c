"""``scan --mint``: credential tokens are looked for too (real authlib token server)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_output

import nbcreds
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.oauth import OAuthServer


def test_mint_finds_a_credential_token(
    oauth: OAuthServer,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    rand_str: Callable[..., str],
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    client_secret = rand_str(24)
    oauth.add_client("scan-client", client_secret=client_secret)
    monkeypatch.setenv("NB_TEST_CLIENT_SECRET", client_secret)
    write_config(
        '[secrets]\nCLIENT_SECRET = "env:NB_TEST_CLIENT_SECRET"\n'
        "[credentials.warehouse]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        'client_id = "scan-client"\n'
        'client_secret = "secret:CLIENT_SECRET"\n'
    )
    token = nbcreds.credential("warehouse").reveal()  # what a notebook printed earlier
    cell = new_code_cell("headers")
    blob = base64.b64encode(f"Bearer {token}".encode()).decode()
    cell.outputs = [new_output("execute_result", execution_count=1, data={"text/plain": blob})]
    path = write_notebook([cell])

    code, out, err = run_cli("scan", "--format", "json", str(path))
    assert (code, json.loads(out)["findings"]) == (0, [])  # the token is not a configured secret

    code, out, err = run_cli("scan", "--mint", "--format", "json", str(path))
    assert code == 1, err
    [finding] = json.loads(out)["findings"]
    assert finding["secret"] == "warehouse"
    assert finding["location"] == "cell 1:output 1 (text/plain)"
    assert finding["encoding"] == "base64"
    assert_no_leak(out + err, [token, client_secret])

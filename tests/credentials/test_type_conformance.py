"""nbcreds' credential types pass the plugin conformance suite (real OAuth server)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

import nbcreds
from nbcreds import plugins
from nbcreds.testing.conformance import CredentialTypeTests


class TestClientCredentials(CredentialTypeTests):
    @pytest.fixture
    def credential_type(self) -> plugins.CredentialType:
        found = plugins.credential_type("oauth2_client_credentials")
        assert found is not None
        return found

    @pytest.fixture
    def definition(self, oauth: Any) -> str:
        client, secret = "conf-" + secrets.token_hex(6), "s3-" + secrets.token_hex(16)
        oauth.add_client(client, client_secret=secret)
        nbcreds.bind_secret("CONF_SECRET", secret)
        return (
            'type = "oauth2_client_credentials"\n'
            f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
            f'client_id = "{client}"\n'
            'client_secret = "secret:CONF_SECRET"\n'
        )

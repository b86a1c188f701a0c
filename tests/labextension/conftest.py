"""Fixtures for the sidebar's tests: a local OAuth server and a configured credential."""

from __future__ import annotations

from typing import Any

import pytest

import nbcreds as nc
from nbcreds.testing.oauth import OAuthServer

CLIENT_SECRET = "sidebar-client-secret: +/=% 7Qx"


@pytest.fixture(scope="session")
def oauth_server(_oauth_server: OAuthServer) -> OAuthServer:
    """The session's one OAuth server (tests/conftest.py), with the sidebar's client."""
    _oauth_server.add_client("sidebar-app", client_secret=CLIENT_SECRET)
    return _oauth_server


@pytest.fixture
def credential_config(write_config: Any, oauth_server: OAuthServer) -> OAuthServer:
    """A tenant-level credential ``idp`` and a namespaced ``team_api`` against the server."""
    nc.bind_secret("SIDEBAR_CLIENT_SECRET", CLIENT_SECRET)
    write_config(
        f'[credentials.idp]\ntype = "oauth2_client_credentials"\n'
        f'token_endpoint = "{oauth_server.token_endpoint}"\nclient_id = "sidebar-app"\n'
        f'client_secret = "secret:SIDEBAR_CLIENT_SECRET"\n'
        f'[credentials.broken]\ntype = "oauth2_client_credentials"\n'
        f'token_endpoint = "{oauth_server.token_endpoint}"\nclient_id = "unknown-app"\n'
        f'client_secret = "secret:SIDEBAR_CLIENT_SECRET"\n'
        f'[namespaces."acme.team".credentials.team_api]\ntype = "oauth2_client_credentials"\n'
        f'token_endpoint = "{oauth_server.token_endpoint}"\nclient_id = "sidebar-app"\n'
        f'client_secret = "secret:SIDEBAR_CLIENT_SECRET"\n'
    )
    return oauth_server

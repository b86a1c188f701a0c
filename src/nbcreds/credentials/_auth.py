"""``nbcreds.auth(name)``: an ``httpx.Auth`` that carries a credential's token.

Shaped like httpx's own ``Auth`` classes: one generator flow for sync and
async clients. The token comes from the shared cache (refreshed when due, one
mint for many concurrent requests); a 401 drops that token -- only if the cache
still holds it, so concurrent 401s cause one re-mint -- and the request is sent
once more with a new one.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from .._session import resolve_namespace
from ._api import acredential, credential, engine, find_definition

__all__ = ["CredentialAuth", "auth"]


def auth(name: str, namespace: str | None = None) -> httpx.Auth:
    """An ``httpx.Auth`` for ``Client`` and ``AsyncClient``: Bearer token, refreshed
    when due; on a 401 the cached token is dropped and the request retried once."""
    return CredentialAuth(name, namespace)


class CredentialAuth(httpx.Auth):
    """Bearer authentication from credential ``name`` (namespace fixed at creation)."""

    requires_request_body = True  # the body must be replayable for the retry on 401

    def __init__(self, name: str, namespace: str | None = None) -> None:
        self.name = name
        self.namespace = resolve_namespace(namespace)
        find_definition(name, self.namespace)  # fail early on an unknown name

    def __repr__(self) -> str:
        return f"CredentialAuth({self.name!r}, namespace={self.namespace!r})"

    def _drop(self, token: str) -> None:
        definition = find_definition(self.name, self.namespace)
        engine.drop(definition, token)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = credential(self.name, self.namespace)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
            self._drop(token)
            token = credential(self.name, self.namespace)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await acredential(self.name, self.namespace)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            self._drop(token)
            token = await acredential(self.name, self.namespace)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

"""Credentials benchmark: the cost of a cached token, and single-flight under a cold start.

One run, side by side, against the same local authlib OAuth server
(``nbcreds.testing.oauth.OAuthServer``) and the same client:

1. cost per call of getting an already-cached token:
   ``nbcreds.credential()``, authlib's ``OAuth2Client.ensure_active_token``,
   httpx-auth's ``OAuth2ClientCredentials`` auth flow, and a bare dict lookup
   plus clock read (the floor);
2. 64 cold concurrent callers (threads, then asyncio tasks): how many token
   requests each library makes.

Run: ``python benchmarks/credentials.py``
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret-value"
CALLERS = 64
NUMBER = 20_000


def per_call_us(
    candidates: dict[str, tuple[Callable[[], Any], int]], rounds: int = 40
) -> dict[str, float]:
    """Microseconds per call of each candidate: the best of ``rounds`` runs, the candidates
    interleaved round by round so that a noisy neighbour slows them all alike."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, (fn, number) in candidates.items():
            elapsed = timeit.Timer(fn).timeit(number)
            best[name] = min(best[name], elapsed / number * 1e6)
    return best


def setup_nbcreds(endpoint: str, workdir: Path) -> None:
    import nbcreds

    path = workdir / "nbcreds.toml"
    path.write_text(
        "[credentials.api]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(endpoint)}\n"
        f'client_id = "{CLIENT_ID}"\n'
        'client_secret = "secret:CLIENT_SECRET"\n'
    )
    nbcreds.load_config(path)
    nbcreds.bind_secret("CLIENT_SECRET", CLIENT_SECRET, namespace=None)


def cached_costs(srv: Any) -> dict[str, float]:
    import httpx_auth
    from authlib.integrations.httpx_client import OAuth2Client

    import nbcreds
    from nbcreds.credentials._auth import CredentialAuth

    # floor: a dict lookup and a clock read
    table = {("api", None): ("token", time.monotonic() + 3600)}
    mono = time.monotonic

    def bare() -> bool:
        hit = table.get(("api", None))
        return hit is not None and mono() < hit[1]

    # nbcreds, tenant level with no namespace selected (the default notebook case), and
    # with an explicit namespace argument
    nbcreds.credential("api")
    nbcreds.credential("api", "team.a")

    client = OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, token_endpoint=srv.token_endpoint, grant_type="client_credentials"
    )
    client.fetch_token()

    # httpx-auth: one pass of the auth flow up to the request it yields
    auth = httpx_auth.OAuth2ClientCredentials(
        srv.token_endpoint, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    request = httpx.Request("GET", srv.resource_url)
    next(auth.auth_flow(request))
    ours = CredentialAuth("api")  # nbcreds' httpx Auth, measured the same way

    results = per_call_us(
        {
            "bare dict lookup + clock read": (bare, NUMBER),
            "nbcreds credential('api')": (lambda: nbcreds.credential("api"), NUMBER),
            "nbcreds credential('api', 'team.a')": (
                lambda: nbcreds.credential("api", "team.a"),
                NUMBER,
            ),
            "authlib OAuth2Client.ensure_active_token": (
                lambda: client.ensure_active_token(client.token),
                NUMBER,
            ),
            "httpx-auth OAuth2ClientCredentials flow": (
                lambda: next(auth.auth_flow(request)),
                NUMBER // 20,
            ),
            "nbcreds auth('api') flow": (lambda: next(ours.sync_auth_flow(request)), NUMBER // 20),
        }
    )
    client.close()
    return results


def run_threads(fn: Callable[[], Any]) -> None:
    barrier = threading.Barrier(CALLERS)

    def call(_: int) -> Any:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(CALLERS) as pool:
        list(pool.map(call, range(CALLERS)))


def cold_threads(srv: Any) -> dict[str, int]:
    import httpx_auth
    from authlib.integrations.httpx_client import OAuth2Client

    import nbcreds
    from nbcreds.credentials import engine

    counts: dict[str, int] = {}

    engine.reset()
    srv.reset()
    srv.delay = 0.2
    run_threads(lambda: nbcreds.credential("api"))
    counts["nbcreds credential()"] = srv.token_requests

    srv.reset()
    srv.delay = 0.2
    client = OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token_endpoint=srv.token_endpoint,
        grant_type="client_credentials",
        token={"access_token": "stale", "token_type": "Bearer", "expires_at": 1},
    )
    run_threads(lambda: client.ensure_active_token(client.token))
    counts["authlib OAuth2Client.ensure_active_token"] = srv.token_requests
    client.close()

    srv.reset()
    srv.delay = 0.2
    httpx_auth.OAuth2.token_cache.clear()
    auth = httpx_auth.OAuth2ClientCredentials(
        srv.token_endpoint, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    with httpx.Client(auth=auth) as http:
        run_threads(lambda: http.get(srv.resource_url))
    counts["httpx-auth OAuth2ClientCredentials"] = srv.token_requests
    return counts


def cold_tasks(srv: Any) -> dict[str, int]:
    import httpx_auth
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    from nbcreds.credentials import acredential, engine

    counts: dict[str, int] = {}

    async def gather(make: Callable[[], Any]) -> None:
        await asyncio.gather(*(make() for _ in range(CALLERS)))

    engine.reset()
    srv.reset()
    srv.delay = 0.2
    asyncio.run(gather(lambda: acredential("api")))
    counts["nbcreds acredential()"] = srv.token_requests

    srv.reset()
    srv.delay = 0.2

    async def authlib_run() -> None:
        async with AsyncOAuth2Client(
            CLIENT_ID,
            CLIENT_SECRET,
            token_endpoint=srv.token_endpoint,
            grant_type="client_credentials",
            token={"access_token": "stale", "token_type": "Bearer", "expires_at": 1},
        ) as client:
            await gather(lambda: client.ensure_active_token(client.token))

    asyncio.run(authlib_run())
    counts["authlib AsyncOAuth2Client.ensure_active_token"] = srv.token_requests

    srv.reset()
    srv.delay = 0.2
    httpx_auth.OAuth2.token_cache.clear()
    auth = httpx_auth.OAuth2ClientCredentials(
        srv.token_endpoint, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )

    async def httpx_auth_run() -> None:
        async with httpx.AsyncClient(auth=auth) as http:
            await gather(lambda: http.get(srv.resource_url))

    asyncio.run(httpx_auth_run())
    counts["httpx-auth OAuth2ClientCredentials (AsyncClient)"] = srv.token_requests
    return counts


def main() -> None:
    import logging
    import warnings

    import authlib.deprecate  # noqa: F401 - it installs an "always" filter on import

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")  # authlib's httpx integration warns about its own future
    from nbcreds.testing.oauth import OAuthServer

    workdir = Path(tempfile.mkdtemp(prefix="nbcreds-bench-"))
    os.chdir(workdir)
    with OAuthServer(token_lifetime=3600) as srv:
        srv.add_client(CLIENT_ID, client_secret=CLIENT_SECRET)
        setup_nbcreds(srv.token_endpoint, workdir)

        costs = cached_costs(srv)
        authlib_cost = costs["authlib OAuth2Client.ensure_active_token"]
        print(
            "Cached token, cost per call (best of 40 interleaved rounds; ratio to authlib "
            "ensure_active_token)"
        )
        for name, value in costs.items():
            print(f"  {name:<45} {value:8.3f} us   x{value / authlib_cost:5.2f}")

        print(f"\n{CALLERS} cold concurrent callers, server answering in 0.2 s: token requests")
        print("  threads:")
        for name, count in cold_threads(srv).items():
            print(f"    {name:<50} {count:3d}")
        print("  asyncio tasks:")
        for name, count in cold_tasks(srv).items():
            print(f"    {name:<50} {count:3d}")


if __name__ == "__main__":
    main()

"""The token engine: cache, refresh timing, single-flight, definition changes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import nbcreds
from nbcreds import TokenRequestError
from nbcreds.credentials import acredential, engine, refresh_point
from nbcreds.masking import registry


def cc_config(endpoint: str, client_id: str, extra: str = "") -> str:
    return (
        "[credentials.api]\n"
        'type = "oauth2_client_credentials"\n'
        f"token_endpoint = {json.dumps(endpoint)}\n"
        f"client_id = {json.dumps(client_id)}\n"
        'client_secret = "secret:CLIENT_SECRET"\n' + extra
    )


@pytest.fixture
def api(oauth: Any, write_config: Any, unique: Any) -> Any:
    """A client_credentials credential 'api' on the OAuth server."""
    client_id = unique("engine")
    oauth.add_client(client_id, client_secret="engine-secret-value")
    nbcreds.bind_secret("CLIENT_SECRET", "engine-secret-value")

    def define(extra: str = "") -> None:
        write_config(cc_config(oauth.token_endpoint, client_id, extra))

    define()
    return define


# -- refresh timing ----------------------------------------------------------------------


def test_refresh_point_is_the_earlier_of_margin_and_80_percent() -> None:
    assert refresh_point(100.0, 3600.0, 60.0) == pytest.approx(100 + 0.8 * 3600)
    assert refresh_point(100.0, 3600.0, 900.0) == pytest.approx(100 + 3600 - 900)
    assert refresh_point(0.0, 100.0, 99.0) == pytest.approx(1.0)
    # a margin longer than the token's life: only the 80 % rule is left
    assert refresh_point(0.0, 2.0, 60.0) == pytest.approx(1.6)
    assert refresh_point(0.0, None, 60.0) == float("inf")


def test_cached_until_due_then_refreshed(oauth: Any, api: Any) -> None:
    oauth.token_lifetime = 2
    first = nbcreds.credential("api")
    assert nbcreds.credential("api") is first
    info = nbcreds.credential_info("api")
    assert info.cached
    assert not info.refresh_due
    assert oauth.token_requests == 1
    deadline = time.monotonic() + 10
    while not nbcreds.credential_info("api").refresh_due and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nbcreds.credential_info("api").refresh_due
    second = nbcreds.credential("api")
    assert second != first
    assert oauth.token_requests == 2
    assert oauth.issued(second)


def test_refresh_before_expiry_margin(oauth: Any, api: Any) -> None:
    oauth.token_lifetime = 100
    api('[credentials.api.token_caching]\nrefresh_before_expiry = "PT99S"\n')
    first = nbcreds.credential("api")
    assert not nbcreds.credential_info("api").refresh_due
    deadline = time.monotonic() + 10
    while not nbcreds.credential_info("api").refresh_due and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nbcreds.credential("api") != first  # refreshed about 1 s in, far before 80 s


def test_token_without_expiry_is_kept(oauth: Any, api: Any) -> None:
    oauth.token_lifetime = None
    first = nbcreds.credential("api")
    info = nbcreds.credential_info("api")
    assert info.expires_at is None
    assert info.cached
    assert not info.refresh_due
    assert nbcreds.credential("api") is first
    assert oauth.token_requests == 1


def test_caching_disabled_mints_every_call(oauth: Any, api: Any) -> None:
    api("[credentials.api.token_caching]\nenabled = false\n")
    tokens = {nbcreds.credential("api") for _ in range(3)}
    assert len(tokens) == 3
    assert oauth.token_requests == 3
    assert nbcreds.credential_info("api").cached is False
    assert len(engine.cache) == 0


def test_changed_definition_is_never_served_the_old_token(oauth: Any, api: Any) -> None:
    first = nbcreds.credential("api")
    api('scopes = ["other"]\n')
    second = nbcreds.credential("api")
    assert second != first
    assert oauth.token_requests == 2
    assert oauth.requests[-1].form["scope"] == "other"


def test_reloading_an_identical_definition_keeps_the_token(oauth: Any, api: Any) -> None:
    first = nbcreds.credential("api")
    api()
    assert nbcreds.credential("api") == first
    assert oauth.token_requests == 1


def test_cached_token_is_registered_again_after_the_registry_forgets_it(api: Any) -> None:
    token = nbcreds.credential("api")
    registry.clear()
    assert token not in registry
    assert nbcreds.credential("api") == token
    assert token in registry


def test_invalidate(oauth: Any, api: Any) -> None:
    first = nbcreds.credential("api")
    assert nbcreds.invalidate("api") is True
    assert nbcreds.invalidate("api") is False
    assert nbcreds.credential_info("api").cached is False
    assert nbcreds.credential("api") != first
    assert oauth.token_requests == 2


# -- single-flight -----------------------------------------------------------------------


def test_64_threads_one_request(oauth: Any, api: Any) -> None:
    oauth.delay = 0.3  # keep the flight open while every thread arrives
    barrier = threading.Barrier(64)

    def call(_: int) -> str:
        barrier.wait()
        return nbcreds.credential("api")

    with ThreadPoolExecutor(64) as pool:
        tokens = list(pool.map(call, range(64)))

    assert oauth.token_requests == 1
    assert len(set(tokens)) == 1
    assert oauth.issued(tokens[0])


def test_64_asyncio_tasks_one_request(oauth: Any, api: Any) -> None:
    oauth.delay = 0.3

    async def main() -> list[str]:
        return list(await asyncio.gather(*(acredential("api") for _ in range(64))))

    tokens = asyncio.run(main())
    assert oauth.token_requests == 1
    assert len(set(tokens)) == 1


def test_threads_and_tasks_share_one_flight(oauth: Any, api: Any) -> None:
    oauth.delay = 0.4
    results: list[str] = []
    started = threading.Event()

    def in_thread() -> None:
        started.set()
        results.append(nbcreds.credential("api"))

    threads = [threading.Thread(target=in_thread) for _ in range(8)]
    for t in threads:
        t.start()
    started.wait()

    async def main() -> list[str]:
        return list(await asyncio.gather(*(acredential("api") for _ in range(8))))

    results.extend(asyncio.run(main()))
    for t in threads:
        t.join()
    assert len(results) == 16
    assert len(set(results)) == 1
    assert oauth.token_requests == 1


def test_every_waiter_gets_the_flight_error(oauth: Any, api: Any) -> None:
    oauth.delay = 0.3
    oauth.fail_next(1, 400, body={"error": "invalid_client", "error_description": "nope"})
    barrier = threading.Barrier(32)

    def call(_: int) -> BaseException | None:
        barrier.wait()
        try:
            nbcreds.credential("api")
        except TokenRequestError as exc:
            return exc
        return None

    with ThreadPoolExecutor(32) as pool:
        errors = list(pool.map(call, range(32)))

    assert oauth.token_requests == 1
    assert all(isinstance(e, TokenRequestError) and e.error == "invalid_client" for e in errors)

    async def main() -> list[BaseException | str]:
        return list(
            await asyncio.gather(*(acredential("api") for _ in range(16)), return_exceptions=True)
        )

    oauth.reset()
    oauth.delay = 0.3
    oauth.fail_next(1, 400, body={"error": "invalid_grant"})
    outcomes = asyncio.run(main())
    assert oauth.token_requests == 1
    assert all(isinstance(o, TokenRequestError) and o.error == "invalid_grant" for o in outcomes)


def test_a_failed_flight_does_not_stick(oauth: Any, api: Any) -> None:
    oauth.fail_next(1, 400, body={"error": "invalid_client"})
    with pytest.raises(TokenRequestError):
        nbcreds.credential("api")
    assert oauth.issued(nbcreds.credential("api"))
    assert oauth.token_requests == 2


def test_cancelled_task_does_not_break_the_flight(oauth: Any, api: Any) -> None:
    oauth.delay = 0.3

    async def main() -> str:
        first = asyncio.create_task(acredential("api"))
        second = asyncio.create_task(acredential("api"))
        await asyncio.sleep(0.05)
        first.cancel()
        return await second

    token = asyncio.run(main())
    assert oauth.issued(token)
    assert oauth.token_requests == 1

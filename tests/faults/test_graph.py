"""The exception-graph walker finds what the fault tests look for: a secret held by a
library exception's request headers, behind ``__context__``, in an attribute's slot."""

from __future__ import annotations

import base64

import pytest

from nbcreds.testing.leaks import assert_no_leak_in_exception, exception_graph_texts

SECRET = "walker-secret-0123456789"


def chained(inner: BaseException) -> BaseException:
    try:
        raise inner
    except BaseException:
        try:
            raise RuntimeError("ours, raised inside except")
        except RuntimeError as outer:
            return outer


def test_finds_an_httpx_request_header_behind_context() -> None:
    import httpx

    header = "Basic " + base64.b64encode(f"client:{SECRET}".encode()).decode()
    request = httpx.Request("POST", "http://127.0.0.1:1/token", headers={"Authorization": header})
    outer = chained(httpx.ConnectError("refused", request=request))
    with pytest.raises(AssertionError, match="reachable from the exception"):
        assert_no_leak_in_exception(outer, [SECRET])


def test_finds_a_requests_vault_token_header() -> None:
    import requests

    prepared = requests.Request(
        "GET", "http://127.0.0.1:1/v1/secret", headers={"X-Vault-Token": SECRET}
    ).prepare()
    outer = chained(requests.ConnectionError("down", request=prepared))
    with pytest.raises(AssertionError):
        assert_no_leak_in_exception(outer, [SECRET])


def test_finds_a_slot_and_survives_cycles() -> None:
    class Holder:
        __slots__ = ("me", "value")

        def __init__(self) -> None:
            self.value = SECRET
            self.me = self

    exc = ValueError("plain")
    exc.holder = Holder()  # type: ignore[attr-defined]
    assert any(SECRET in text for text in exception_graph_texts(exc))


def test_a_clean_exception_passes() -> None:
    assert_no_leak_in_exception(ValueError("nothing here"), [SECRET])

"""The leak scanner every test relies on must itself find what it claims to."""

from __future__ import annotations

import base64
import html
import json
import secrets
from urllib.parse import quote, quote_plus

import pytest

from nbcreds.testing.leaks import assert_no_leak, find_leaks


@pytest.mark.parametrize("prefix", [b"", b"u", b"us", b"use", b"user:"])
def test_finds_the_value_inside_a_longer_base64_blob(prefix: bytes) -> None:
    value = "p@ss w/rd+" + secrets.token_hex(6)
    blob = base64.b64encode(prefix + value.encode() + b"!tail").decode()
    assert find_leaks(f"Authorization: Basic {blob}", [value])
    urlsafe = base64.urlsafe_b64encode(prefix + value.encode() + b"?>").decode()
    assert find_leaks(urlsafe, [value])


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: v,
        lambda v: json.dumps(v),
        lambda v: quote(v, safe=""),
        lambda v: quote_plus(v),
        lambda v: html.escape(v),
        lambda v: repr(v),
    ],
)
def test_finds_each_text_encoding(encode) -> None:  # type: ignore[no-untyped-def]
    value = "a'b\"c<d>&e f/g+" + secrets.token_hex(4)
    assert find_leaks(f"prefix {encode(value)} suffix", [value])


def test_clean_text_passes_and_a_leak_fails_without_showing_the_value() -> None:
    value = secrets.token_urlsafe(16)
    assert_no_leak("nothing to see", [value])
    with pytest.raises(AssertionError) as info:
        assert_no_leak(f"x{value}y".encode(), [value])
    assert value not in str(info.value)
    assert "value#0" in str(info.value)


def test_a_secret_object_is_scanned_by_its_plain_value() -> None:
    from nbcreds import Secret

    plain = secrets.token_urlsafe(16)
    value = Secret(plain, "TOKEN")
    assert_no_leak(f"shown as {value!r}", [value])  # the mask is not a leak
    assert find_leaks(f"'{plain}'", [value])

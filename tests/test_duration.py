"""One ISO-8601 duration parser for both old call sites (KV and credential settings)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import nbcreds
from nbcreds.credentials import parse_duration as credential_duration
from nbcreds.kvstore import parse_duration as kv_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1M", 60),
        ("PT30S", 30),
        ("PT1H30M", 5400),
        ("P1D", 86400),
        ("P1W", 604800),
        ("pt0.5s", 0.5),
        ("P1DT2H", 93600),
    ],
)
def test_both_call_sites_agree(text: str, seconds: float) -> None:
    assert credential_duration(text) == seconds
    assert kv_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["P1M", "PT", "P", "1H", "P1Y", "soon"])
def test_both_refuse_the_same(text: str) -> None:
    with pytest.raises(ValueError):
        credential_duration(text)
    with pytest.raises(nbcreds.KVValueError):
        kv_duration(text)


def test_a_credential_setting_takes_weeks(write_config: Any) -> None:
    write_config(
        '[credentials.c]\ntype = "oauth2_client_credentials"\ntoken_endpoint = "https://h/t"\n'
        'client_id = "c"\nclient_secret = "secret:S"\n'
        '[credentials.c.token_caching]\nrefresh_before_expiry = "P1W"\n'
    )
    assert nbcreds.credential_info("c").caching_enabled

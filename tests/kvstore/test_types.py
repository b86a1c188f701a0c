"""The codec shared by both backends: durations, TTLs, inference, exact round trips."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nbcreds import KVValueError
from nbcreds.kvstore import MISSING, KVType, format_duration, parse_duration
from nbcreds.kvstore._types import (
    MAX_TTL_SECONDS,
    check_key,
    decode,
    deep_merge,
    encode,
    infer_type,
    ttl_seconds,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30M", dt.timedelta(minutes=30)),
        ("P1D", dt.timedelta(days=1)),
        ("P1W", dt.timedelta(weeks=1)),
        ("P2DT3H4M5.5S", dt.timedelta(days=2, hours=3, minutes=4, seconds=5.5)),
        ("PT0.000001S", dt.timedelta(microseconds=1)),
        ("PT1,5S", dt.timedelta(seconds=1.5)),
        ("-PT1H", dt.timedelta(hours=-1)),
        ("pt1h", dt.timedelta(hours=1)),
        ("PT36H", dt.timedelta(hours=36)),
        ("PT0S", dt.timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "1D", "P1Y", "P1M", "PT1H2", "P1DT", "PTH", "P-1D", "PT1.5.5S", "P1D ", "xP1D"],
)
def test_invalid_durations(text: str) -> None:
    if text == "P1D ":
        assert parse_duration(text) == dt.timedelta(days=1)  # surrounding blanks are fine
        return
    with pytest.raises(KVValueError, match="ISO-8601 duration"):
        parse_duration(text)


@given(st.timedeltas())
def test_format_duration_round_trips(value: dt.timedelta) -> None:
    text = format_duration(value)
    assert text.lstrip("-").startswith("P")
    assert parse_duration(text) == value


def test_format_duration_is_readable() -> None:
    assert format_duration(dt.timedelta(days=1, hours=2, seconds=3.5)) == "P1DT2H3.5S"
    assert format_duration(dt.timedelta(0)) == "PT0S"
    assert format_duration(dt.timedelta(minutes=-90)) == "-PT1H30M"


def test_ttl_seconds() -> None:
    assert ttl_seconds(None) is None
    assert ttl_seconds("PT1M") == 60
    assert ttl_seconds(dt.timedelta(hours=1)) == 3600
    assert ttl_seconds(dt.timedelta.max) == MAX_TTL_SECONDS
    assert ttl_seconds("P" + "9" * 40 + "D") == MAX_TTL_SECONDS
    for bad in ("PT0S", dt.timedelta(0), "-P1D", dt.timedelta(days=-1)):
        with pytest.raises(KVValueError, match="positive"):
            ttl_seconds(bad)
    with pytest.raises(KVValueError, match="ISO-8601"):
        ttl_seconds(60)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("s", KVType.STRING),
        (True, KVType.BOOLEAN),
        (1, KVType.NUMBER),
        (1.5, KVType.NUMBER),
        (Decimal("1"), KVType.NUMBER),
        (dt.datetime(2024, 1, 1), KVType.DATETIME),
        (dt.date(2024, 1, 1), KVType.DATE),
        (dt.timedelta(1), KVType.DURATION),
        ({}, KVType.JSON),
        ([], KVType.JSON),
        (None, KVType.JSON),
    ],
)
def test_inference(value: object, kind: KVType) -> None:
    assert infer_type(value) is kind


@example(dt.datetime(2002, 3, 31, 4, 0, tzinfo=ZoneInfo("Asia/Baku")))  # in a DST gap
@example(dt.datetime(2021, 11, 7, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1))
@given(
    st.one_of(
        st.text(),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.decimals(allow_nan=False),
        st.dates(),
        st.timedeltas(),
        st.datetimes(timezones=st.timezones() | st.none()),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=10,
        ),
    )
)
def test_encode_decode_round_trips(value: object) -> None:
    kind, text = encode(value)
    back = decode(kind, text)
    if isinstance(value, float) and value != value:
        assert back != back
        return
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, dt.datetime):
        assert back.utcoffset() == value.utcoffset()
        assert str(back.tzinfo) == str(value.tzinfo)
    if isinstance(value, Decimal):
        assert str(back) == str(value)


def test_tuples_become_lists_and_bad_json_is_refused() -> None:
    assert decode(*encode((1, 2))) == [1, 2]
    with pytest.raises(KVValueError, match="keys must be strings"):
        encode({1: "x"})
    with pytest.raises(KVValueError, match="NaN"):
        encode([float("nan")])
    with pytest.raises(KVValueError, match="cannot be stored"):
        encode({"a": object()})


def test_damaged_stored_values_give_a_kv_error() -> None:
    with pytest.raises(KVValueError, match="cannot be decoded"):
        decode("NUMBER", "twelve")
    with pytest.raises(KVValueError):
        decode("MYSTERY", "x")


def test_check_key_caches_only_valid_keys() -> None:
    assert check_key("good.key-1_x") == "good.key-1_x"
    with pytest.raises(KVValueError):
        check_key("bad key")
    with pytest.raises(KVValueError):
        check_key("bad key")  # still refused the second time


def test_a_secret_cannot_be_a_key() -> None:
    from nbcreds import KVSecretRefused, Secret

    with pytest.raises(KVSecretRefused, match="cannot be a KV key") as err:
        check_key(Secret("abcdefgh", "K"))
    assert "abcdefgh" not in str(err.value)


def test_deep_merge() -> None:
    base = {"a": {"x": 1, "y": {"z": 1}}, "b": [1]}
    patch = {"a": {"y": {"w": 2}}, "b": [2], "c": None}
    assert deep_merge(base, patch) == {"a": {"x": 1, "y": {"z": 1, "w": 2}}, "b": [2], "c": None}
    assert base == {"a": {"x": 1, "y": {"z": 1}}, "b": [1]}  # not mutated


def test_missing_sentinel() -> None:
    assert repr(MISSING) == "MISSING"
    assert not MISSING
    assert type(MISSING)() is MISSING

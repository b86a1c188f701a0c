"""KV value types: inference, the stored text form, ISO-8601 durations, entries.

Both backends store a value as ``(type, text)``; this module is the one codec,
so a value written through SQLite reads back exactly like one written through
PostgreSQL. The text form is chosen to round-trip exactly: an ``int`` stays an
``int``, a ``float`` a ``float``, a :class:`~decimal.Decimal` keeps its digits,
an aware ``datetime`` keeps its offset (and its IANA zone), a ``timedelta``
becomes an ISO-8601 duration.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

from .._duration import DURATION_RULE
from .._duration import duration_seconds as _duration_seconds
from .._exceptions import KVSecretRefused, KVValueError
from ..values import Secret

__all__ = [
    "KEY_RULE",
    "MAX_EXPIRY",
    "MISSING",
    "KVEntry",
    "KVItem",
    "KVType",
    "check_key",
    "decode",
    "deep_merge",
    "encode",
    "format_duration",
    "parse_duration",
    "ttl_seconds",
]


class _Missing:
    """The type of :data:`MISSING`: "no default given" (``None`` is a valid default)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Sentinel for ``kv(..., default=MISSING)``: raise :class:`KVNotFound` when absent."""


class KVType(StrEnum):
    """Kestra's KV types."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


@dataclass(frozen=True, slots=True)
class KVEntry:
    """A key's metadata -- never its value (listing a namespace shows no state)."""

    key: str
    namespace: str
    type: KVType
    revision: int
    description: str | None
    created: _dt.datetime
    updated: _dt.datetime
    expires: _dt.datetime | None
    """``None``: the key never expires (a ``set_kv`` without ``ttl`` keeps no expiry)."""


@dataclass(frozen=True, slots=True)
class KVItem:
    """A value read together with its metadata, for compare-and-set loops::

    item = kv_item("counter", default=0)
    set_kv("counter", item.value + 1, if_revision=item.revision)
    """

    value: Any
    entry: KVEntry | None
    """``None`` when the key is absent and the default was returned."""

    @property
    def revision(self) -> int:
        """The revision read; ``0`` for an absent key (``if_revision=0`` means "create")."""
        return 0 if self.entry is None else self.entry.revision


KEY_RULE = "a key matches ^[a-zA-Z0-9][a-zA-Z0-9._-]*$ (e.g. 'last_run', 'cursor.page-2')"
_KEY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
_valid_keys: set[str] = set()


def check_key(key: object) -> str:
    """Return ``key`` when it follows Kestra's key rule, else raise :class:`KVValueError`.

    Valid keys are remembered, so the hot path pays a set lookup, not a regex.
    """
    if key.__class__ is str and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise KVValueError(f"A KV key must be a string, not {type(key).__name__}: {KEY_RULE}.")
    if isinstance(key, Secret):  # a key is stored and listed in clear
        raise KVSecretRefused(
            f"A Secret ({key.label}) cannot be a KV key: keys are stored and listed in clear."
        )
    if not _KEY.fullmatch(key):
        shown = key if len(key) <= 60 else key[:57] + "..."
        raise KVValueError(f"Invalid KV key {shown!r}: {KEY_RULE}.")
    if len(_valid_keys) > 50_000:
        _valid_keys.clear()
    _valid_keys.add(key)
    return key


# --- ISO-8601 durations --------------------------------------------------------------------


def parse_duration(text: str) -> _dt.timedelta:
    """Parse an ISO-8601 duration (``PnW``, ``PnDTnHnMn.nS``) into a ``timedelta``.

    Exact to the microsecond: components are summed as :class:`Decimal`. A
    duration beyond ``timedelta``'s range raises :class:`KVValueError`; use
    :func:`duration_seconds` where a clamp is wanted (TTLs).
    """
    total = duration_seconds(text)
    try:
        micros = int((total * 1_000_000).to_integral_value())
        return _dt.timedelta(microseconds=micros)
    except OverflowError:
        raise KVValueError(
            f"The duration {text!r} is too long for a timedelta (at most 999999999 days)."
        ) from None


def duration_seconds(text: str) -> Decimal:
    """The length of an ISO-8601 duration in seconds, as an exact :class:`Decimal`."""
    return _duration_seconds(text, KVValueError)


def format_duration(value: _dt.timedelta) -> str:
    """A ``timedelta`` as the ISO-8601 duration :func:`parse_duration` reads back exactly.

    >>> format_duration(_dt.timedelta(days=1, hours=2, seconds=3.5))
    'P1DT2H3.5S'
    """
    if value < _dt.timedelta(0):
        return "-" + format_duration(-value)
    days = value.days
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"P{days}D" if days else "P"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or value.microseconds or not (days or time):
        frac = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        time += f"{seconds}{frac}S"
    if time:
        text += "T" + time
    return text


# Every expiry is clamped here: a huge TTL is accepted, not an overflow (Kestra #4479).
MAX_EXPIRY: Final = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.UTC)
MAX_EXPIRY_EPOCH: Final = MAX_EXPIRY.timestamp()
# Longer than any clamp could need, small enough for PostgreSQL intervals and floats.
MAX_TTL_SECONDS: Final = 400 * 365 * 86400 * 100.0


def ttl_seconds(ttl: object) -> float | None:
    """A TTL (ISO-8601 text or ``timedelta``) in seconds, capped; ``None`` for no TTL.

    Zero and negative TTLs are refused: a key that is already expired is a mistake.
    """
    if ttl is None:
        return None
    if isinstance(ttl, _dt.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, str):
        seconds_dec = duration_seconds(ttl)
        seconds = float(min(seconds_dec, Decimal(MAX_TTL_SECONDS)))
    else:
        raise KVValueError(
            f"A TTL must be an ISO-8601 duration string or a timedelta, not {type(ttl).__name__}: "
            f"{DURATION_RULE}."
        )
    if not seconds > 0:
        raise KVValueError(
            "A TTL must be positive; to keep a key forever, leave ttl=None "
            "(to remove it now, use delete_kv)."
        )
    return min(seconds, MAX_TTL_SECONDS)


def epoch_to_datetime(epoch: float) -> _dt.datetime:
    """A stored epoch (seconds, UTC) as an aware ``datetime``."""
    return _dt.datetime.fromtimestamp(min(epoch, MAX_EXPIRY_EPOCH), _dt.UTC)


# --- values ----------------------------------------------------------------------------------


def infer_type(value: object) -> KVType:
    """Kestra's type of a Python value (``bool`` before ``int``: a bool is an int)."""
    cls = value.__class__
    if cls is str or isinstance(value, str):
        return KVType.STRING
    if cls is bool:
        return KVType.BOOLEAN
    if cls in (int, float) or isinstance(value, int | float | Decimal):
        return KVType.NUMBER
    if isinstance(value, _dt.datetime):
        return KVType.DATETIME
    if isinstance(value, _dt.date):
        return KVType.DATE
    if isinstance(value, _dt.timedelta):
        return KVType.DURATION
    if value is None or isinstance(value, dict | list | tuple):
        return KVType.JSON
    raise KVValueError(
        f"A {type(value).__name__} cannot be stored in KV: use str, int, float, Decimal, bool, "
        "datetime, date, timedelta, or JSON (dict, list, None)."
    )


def _number_text(value: object) -> str:
    if isinstance(value, bool):
        raise KVValueError("type NUMBER needs a number, not a bool; use type BOOLEAN.")
    if isinstance(value, Decimal):
        return "d" + str(value)
    if isinstance(value, float):
        return repr(value)  # always holds '.', 'e', 'inf' or 'nan': decodes back as a float
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return str(int(text))
        except ValueError:
            pass
        try:
            return "d" + str(Decimal(text))
        except InvalidOperation:
            raise KVValueError("type NUMBER needs a number; the string given is not one.") from None
    raise KVValueError(f"type NUMBER needs a number, not a {type(value).__name__}.")


def _decode_number(text: str) -> int | float | Decimal:
    if text[0] == "d":
        return Decimal(text[1:])
    if "." in text or "e" in text or "n" in text:  # 1.5, 1e+300, inf, nan
        return float(text)
    return int(text)


def _boolean_text(value: object) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise KVValueError("type BOOLEAN needs True/False (or the string 'true' / 'false').")


def _datetime_text(value: object) -> str:
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise KVValueError(
                "type DATETIME needs a datetime or an ISO-8601 string like "
                "'2024-05-01T12:00:00+02:00'."
            ) from None
    if not isinstance(value, _dt.datetime):
        raise KVValueError(f"type DATETIME needs a datetime, not a {type(value).__name__}.")
    text = value.isoformat()
    zone = getattr(value.tzinfo, "key", None)  # a zoneinfo.ZoneInfo keeps its name
    if not isinstance(zone, str):
        return text
    # the wall time, its zone and its fold: a time in a DST gap or overlap comes
    # back exactly as it was given, not normalised through UTC
    return f"{text}[{zone}|1]" if value.fold else f"{text}[{zone}]"


def _decode_datetime(text: str) -> _dt.datetime:
    if text.endswith("]"):
        stamp, _, zone = text[:-1].partition("[")
        zone, _, fold = zone.partition("|")
        from zoneinfo import ZoneInfo

        wall = _dt.datetime.fromisoformat(stamp).replace(tzinfo=None)
        return wall.replace(tzinfo=ZoneInfo(zone), fold=1 if fold == "1" else 0)
    return _dt.datetime.fromisoformat(text)


def _date_text(value: object) -> str:
    if isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value.strip())
        except ValueError:
            raise KVValueError(
                "type DATE needs a date or an ISO-8601 string like '2024-05-01'."
            ) from None
    if isinstance(value, _dt.datetime) or not isinstance(value, _dt.date):
        raise KVValueError(f"type DATE needs a date, not a {type(value).__name__}.")
    return value.isoformat()


def _duration_text(value: object) -> str:
    if isinstance(value, str):
        value = parse_duration(value)
    if not isinstance(value, _dt.timedelta):
        raise KVValueError(
            "type DURATION needs a timedelta or an ISO-8601 duration, "
            f"not a {type(value).__name__}."
        )
    return format_duration(value)


def _check_json(value: object, depth: int = 0) -> None:
    """Refuse what JSON would change silently: non-str keys, NaN, other types."""
    if depth > 200:
        raise KVValueError("A JSON value nests too deeply (more than 200 levels).")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise KVValueError(
                    f"JSON object keys must be strings; found a {type(key).__name__} key "
                    "(it would come back as a string)."
                )
            _check_json(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise KVValueError("JSON has no NaN or Infinity; store the number with type NUMBER.")
    elif value is not None and not isinstance(value, str | int | float):
        raise KVValueError(
            f"A {type(value).__name__} cannot be stored inside a JSON value: use dict, list, str, "
            "int, float, bool or None."
        )


def _json_text(value: object) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise KVValueError("type JSON with a string needs valid JSON text.") from None
    _check_json(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _string_text(value: object) -> str:
    if not isinstance(value, str):
        raise KVValueError(
            f"type STRING needs a str, not a {type(value).__name__}; convert it with str() first "
            "or let the type be inferred."
        )
    return str.__str__(value)


_ENCODERS: dict[str, Callable[[object], str]] = {
    KVType.STRING: _string_text,
    KVType.NUMBER: _number_text,
    KVType.BOOLEAN: _boolean_text,
    KVType.DATETIME: _datetime_text,
    KVType.DATE: _date_text,
    KVType.DURATION: _duration_text,
    KVType.JSON: _json_text,
}

_DECODERS: dict[str, Callable[[str], Any]] = {
    KVType.NUMBER: _decode_number,
    KVType.BOOLEAN: lambda text: text == "true",
    KVType.DATETIME: _decode_datetime,
    KVType.DATE: _dt.date.fromisoformat,
    KVType.DURATION: parse_duration,
    KVType.JSON: json.loads,
}


def to_type(kind: object) -> KVType:
    """A ``type=`` argument (``KVType`` or its name, any case) as a :class:`KVType`."""
    if isinstance(kind, KVType):
        return kind
    if isinstance(kind, str):
        try:
            return KVType(kind.upper())
        except ValueError:
            pass
    raise KVValueError(
        f"Unknown KV type {kind!r}; use one of {', '.join(t.value for t in KVType)}."
    )


def encode(value: object, kind: object = None) -> tuple[str, str]:
    """``(type, text)`` of a value; ``kind`` forces a type (strings are then parsed)."""
    if kind is None:
        if value.__class__ is str:  # the hot path
            return "STRING", value
        kind = infer_type(value)
    else:
        kind = to_type(kind)
    return str(kind), _ENCODERS[kind](value)


def decode(kind: str, text: str) -> Any:
    """The Python value of a stored ``(type, text)``."""
    if kind == "STRING":
        return text
    try:
        return _DECODERS[kind](text)
    except (KeyError, ValueError, ArithmeticError):
        raise KVValueError(
            f"A stored value of type {kind} cannot be decoded; it was not written by nbcreds "
            "or is damaged. Overwrite it with set_kv or remove it with delete_kv."
        ) from None


def deep_merge(base: Any, patch: Any) -> Any:
    """``patch`` merged into ``base``: objects merge key by key, recursively; anything
    else in ``patch`` replaces. The PostgreSQL backend's SQL function does the same."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return patch

"""Each encoding a value takes on its way out, made by the real encoder, is masked."""

from __future__ import annotations

import csv
import html
import io
import json
import shlex
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape, quoteattr

import pytest
import yaml

import nbcreds
from nbcreds._session import session
from nbcreds.masking import _engine, masked

# quotes, slashes, a backslash, '&<>', a space, non-ASCII and a newline: every
# encoder below changes something in it
VALUE = "P'a\"ss/W\\rd <&> S3cr3t-é€ 0123\nline-TWO"
OTHER = "nothing in common with it at all, XYZ"


@pytest.fixture(autouse=True, params=nbcreds.masking.available_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    # load the (empty) config now: a lazy load later would push the default
    # [masking] settings over those a test configures
    session().config  # noqa: B018
    _engine._reset_for_tests()
    _engine.force_backend(request.param)
    yield request.param
    _engine.force_backend(None)
    _engine._reset_for_tests()


def _csv(value: str) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["id", value])
    return out.getvalue()


ENCODERS: dict[str, Callable[[str], str]] = {
    "json-in-json ascii": lambda v: json.dumps(json.dumps(v)),
    "json-in-json unicode": lambda v: json.dumps(
        json.dumps(v, ensure_ascii=False), ensure_ascii=False
    ),
    "json-in-json mixed": lambda v: json.dumps(json.dumps(v, ensure_ascii=False)),
    "json-in-json object": lambda v: json.dumps({"body": json.dumps({"token": v})}),
    "json \\/": lambda v: json.dumps(v).replace("/", "\\/"),
    "url twice": lambda v: quote(quote(v, safe=""), safe=""),
    "url in redirect=": lambda v: (
        "https://a.example/?redirect="
        + quote("https://b.example/cb?token=" + quote(v, safe=""), safe="")
    ),
    "url plus twice": lambda v: quote_plus(quote_plus(v)),
    "bytes repr": lambda v: repr(v.encode()),
    "bytes repr in a list": lambda v: repr([v.encode()]),
    "shlex.quote": shlex.quote,
    "shlex.join": lambda v: shlex.join(["curl", "-H", f"X-Token: {v}", "https://x"]),
    "set -x quoting": lambda v: "+ curl -H '" + v.replace("'", "'\\''") + "'",
    "csv": _csv,
    "sql": lambda v: "INSERT INTO t VALUES ('" + v.replace("'", "''") + "')",
    "xml text": escape,
    "xml attribute": lambda v: f"<a key={quoteattr(v)}/>",
    "yaml double-quoted": lambda v: yaml.dump({"token": v}, default_style='"', width=10**9),
    "yaml unicode": lambda v: yaml.dump(
        {"token": v}, default_style='"', allow_unicode=True, width=10**9
    ),
    'command line \\"': lambda v: 'run --arg "' + v.replace("\\", "\\\\").replace('"', '\\"') + '"',
    "html-escaped json": lambda v: html.escape(json.dumps({"token": v})),
    "hex": lambda v: v.encode().hex(),
    "HEX": lambda v: v.encode().hex().upper(),
    "upper": str.upper,
    "lower": str.lower,
}


@pytest.mark.parametrize("kind", list(ENCODERS))
def test_encoded_value_is_masked(kind: str) -> None:
    nbcreds.mask(VALUE, "TOKEN")
    encoded = ENCODERS[kind](VALUE)
    assert encoded != VALUE
    out = masked(f"before {encoded} after")
    assert "****" in out
    # nothing of the encoded value is left: no 16-character slice of the encoder's
    # output that the same encoder does not make of an unrelated value (the JSON
    # keys or URL around the value are not secret)
    unrelated = ENCODERS[kind](OTHER)
    windows = {unrelated[i : i + 16] for i in range(len(unrelated) - 15)}
    for start in range(len(encoded) - 15):
        piece = encoded[start : start + 16]
        if piece not in windows:
            assert piece not in out, (kind, start)


@pytest.mark.parametrize("kind", ["json-in-json ascii", "url twice", "bytes repr", "hex", "upper"])
def test_slices_of_encoded_forms_are_masked(kind: str) -> None:
    nbcreds.mask(VALUE)
    encoded = ENCODERS[kind](VALUE)
    # (past the quotes the encoders put around it: those are not the value)
    for start in (3, 7, len(encoded) // 2, len(encoded) - 24):
        piece = encoded[start : start + 20]
        assert masked(f"[{piece}]") == "[****]", (kind, start)


def test_case_insensitive_only_for_long_values(write_config: Callable[[str], object]) -> None:
    short, long_ = "Pass-Word1", "Long-Secret-Value-42"  # 10 and 20 characters
    nbcreds.mask(short)
    nbcreds.mask(long_)
    assert masked(short.upper()) == short.upper()
    assert masked(long_.upper()) == "****"
    assert masked(long_.lower()) == "****"
    assert masked(long_.swapcase()) == "****"
    write_config("[masking]\ncase_insensitive_min_length = 0\n")
    assert masked(long_.upper()) == long_.upper()
    assert masked(long_) == "****"


def test_json_valued_secret_masks_its_string_leaves(write_config: Callable[[str], object]) -> None:
    key = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    account = json.dumps(
        {
            "type": "sa",
            "private_key_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "private_key": key,
            "nested": [{"password": "hunter2-but-longer"}],
            "n": 12345678,
        }
    )
    nbcreds.mask(account, "SA")
    assert masked("id=0a1b2c3d4e5f60718293a4b5c6d7e8f9") == "id=****"
    assert masked(f"pw={'hunter2-but-longer'}!") == "pw=****!"
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in masked(key)
    assert masked("type=sa private_key_id") == "type=sa private_key_id"  # short leaf, a key
    creds = '{"user": "alice", "password": "pw-4f9a2c"}'
    nbcreds.mask(creds)
    assert masked("login alice / pw-4f9a2c") == "login alice / ****"
    assert masked("alice") == "alice"  # shorter than min_length
    write_config("[masking]\njson_leaves = false\n")
    assert masked("login alice / pw-4f9a2c") == "login alice / pw-4f9a2c"

"""Hostile input: wrapped or empty env values, control characters in names, and
values up to 10 MB through secret(), set_kv's refusal check and output masking."""

from __future__ import annotations

import base64
import secrets
import string
import warnings

import pytest

import nbcreds
from nbcreds import KVSecretRefused, NamespaceError
from nbcreds.masking import masked
from nbcreds.testing.leaks import assert_no_leak

from .conftest import FaultClock, no_secret_anywhere


@pytest.mark.parametrize("width", [64, 76])
def test_env_base64_wrapped_as_the_base64_tool_writes_it(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = secrets.token_urlsafe(120)  # long enough to wrap several times
    encoded = base64.b64encode(value.encode()).decode()
    wrapped = "\n".join(encoded[i : i + width] for i in range(0, len(encoded), width)) + "\n"
    assert "\n" in wrapped.strip()
    monkeypatch.setenv("SECRET_WRAPPED", wrapped)
    assert nbcreds.secret("WRAPPED").reveal() == value


def test_env_empty_value_warns_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_BLANK", "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert nbcreds.secret("BLANK").reveal() == ""
    texts = [str(w.message) for w in caught]
    assert any("'SECRET_BLANK'" in t and "empty" in t for t in texts), texts


@pytest.mark.parametrize("name", ["team\nadmin", "team\x00x", "team\x1b[31mred"])
def test_control_characters_in_names_are_escaped(name: str) -> None:
    with pytest.raises(NamespaceError) as info:
        nbcreds.use_namespace(name)
    message = str(info.value)
    assert "\n" not in message
    assert "\x00" not in message
    assert "\x1b" not in message
    assert repr(name) in message


@pytest.mark.parametrize("name", ["db\npassword", "db\x00x"])
def test_control_characters_in_secret_and_credential_names_are_escaped(name: str) -> None:
    for lookup in (nbcreds.secret, nbcreds.credential):
        with pytest.raises(LookupError) as info:
            lookup(name)
        message = str(info.value)
        assert "\n" not in message
        assert "\x00" not in message
        assert repr(name) in message


SIZES = {"13KB": 13_000, "1MB": 1_000_000, "10MB": 10_000_000}


def _large_value(size: int, kind: str) -> str:
    if kind == "random":
        return secrets.token_urlsafe(size)[:size]
    # periodic: 64 characters repeated, then 16 random ones -- every position of it
    # is an anchor hit, the matcher's worst case
    alphabet = string.ascii_letters + string.digits
    chunk = "".join(secrets.choice(alphabet) for _ in range(64))
    return (chunk * (size // 64 + 1))[: size - 16] + secrets.token_hex(8)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["periodic", "random"])
@pytest.mark.parametrize("size", list(SIZES))
def test_large_values_end_to_end(size: str, kind: str, fault_clock: FaultClock) -> None:
    """A large secret is bound, read back, refused by set_kv (alone and inside a bigger
    value), leaves a harmless set_kv alone, and is masked in output. Failure messages
    are kept short: a megabyte string must never reach an assertion's repr."""
    value = _large_value(SIZES[size], kind)
    nbcreds.use_namespace("team")
    with fault_clock:
        nbcreds.bind_secret("HUGE", value)
        same = nbcreds.secret("HUGE").reveal() == value
        assert same, "secret() returned another value"
        assert nbcreds.set_kv("harmless", "a cursor value") >= 1
        with pytest.raises(KVSecretRefused) as info:
            nbcreds.set_kv("leak", "prefix " + value + " suffix")
        shown = masked(f"the value is {value}.")
    leaked = value in shown
    assert not leaked, "the value is in the masked output"
    assert len(shown) < 100, f"masked output is {len(shown)} characters long"
    assert shown == "the value is ****."
    assert_no_leak(shown[:200], [value[:64]])
    no_secret_anywhere(info.value, [value[:64]])

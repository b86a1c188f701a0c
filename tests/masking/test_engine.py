"""masked() / contains_secret(): the registry compiled, settings, recompilation."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import nbcreds
from nbcreds import ConfigError
from nbcreds._session import session
from nbcreds.masking import (
    MaskingSettingError,
    MaskingSettings,
    _engine,
    configure,
    contains_secret,
    current_settings,
    masked,
    registry,
)
from nbcreds.testing.leaks import assert_no_leak

VALUE = "Tr0ub4dor&3-horse"


@pytest.fixture(autouse=True, params=["hyperscan", "ahocorasick"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in nbcreds.masking.available_backends():
        pytest.skip(f"{request.param} not importable")
    _engine._reset_for_tests()
    _engine.force_backend(request.param)
    yield request.param
    _engine.force_backend(None)
    _engine._reset_for_tests()


def test_facade_exposes_masked() -> None:
    nbcreds.mask(VALUE, "PW")
    assert nbcreds.masked(f"pw={VALUE}") == "pw=****"


def test_every_encoding_is_masked() -> None:
    nbcreds.mask(VALUE)
    basic = base64.b64encode(f"alice:{VALUE}".encode()).decode()
    text = (
        f"raw {VALUE} url {quote(VALUE, safe='')} basic {basic} "
        f'json {{"p": "{VALUE}"}} html {VALUE.replace("&", "&amp;")}'
    )
    out = masked(text)
    assert_no_leak(out, [VALUE])
    assert out.startswith("raw **** url **** basic ")


def test_recompiles_when_the_registry_changes() -> None:
    assert masked(VALUE) == VALUE
    nbcreds.mask(VALUE)
    assert masked(VALUE) == "****"
    other = "another-secret-42"
    assert masked(other) == other
    nbcreds.mask(other)
    assert masked(f"{VALUE} {other}") == "**** ****"
    assert nbcreds.unmask(VALUE)
    assert masked(VALUE) == VALUE


def test_contains_secret() -> None:
    assert not contains_secret(f"x {VALUE}")
    nbcreds.mask(VALUE)
    assert contains_secret(f"x {VALUE}")
    assert contains_secret(f"x {VALUE}".encode())
    assert not contains_secret("nothing")


def test_short_values_are_not_masked_and_warned_once_without_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="nbcreds.masking"):
        nbcreds.mask("12345", "PIN")
        assert masked("a 12345 b") == "a 12345 b"
        assert masked("again 12345") == "again 12345"
    warnings = [r for r in caplog.records if r.name == "nbcreds.masking"]
    assert len(warnings) == 1
    assert "PIN" in warnings[0].getMessage()
    assert "12345" not in warnings[0].getMessage()


def test_settings_min_length_replacement_and_label(write_config: Callable[[str], Path]) -> None:
    write_config('[masking]\nmin_length = 3\nreplacement = "<hidden>"\n')
    nbcreds.mask("abc", "TINY")
    assert masked("x abc y") == "x <hidden> y"
    write_config("[masking]\nlabel = true\n")
    nbcreds.mask(VALUE, "DB_PASSWORD")
    nbcreds.mask("unlabelled-value")
    assert masked(f"{VALUE} unlabelled-value abc") == "[DB_PASSWORD] **** abc"


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ("min_length = 0", "min_length", "positive integer"),
        ('min_length = "6"', "min_length", "positive integer"),
        ("min_length = true", "min_length", "positive integer"),
        ('replacement = ""', "replacement", "non-empty string"),
        ('label = "yes"', "label", "true or false"),
        ("fragment_length = 4", "fragment_length", "at least 8"),
        ("fragment_length = -1", "fragment_length", "0 (off)"),
        ("json_leaves = 1", "json_leaves", "true or false"),
        ("colour = 1", "colour", "unknown setting"),
        ("fragment_lenght = 12", "fragment_lenght", "did you mean 'fragment_length'"),
    ],
)
def test_invalid_settings_fail_at_load_and_keep_masking(
    write_config: Callable[[str], Path], table: str, key: str, says: str
) -> None:
    nbcreds.mask(VALUE)
    with pytest.raises(ConfigError, match=key) as caught:
        write_config(f"[masking]\n{table}\n")
    assert says in str(caught.value)
    assert "[masking]" in str(caught.value)
    assert "nbcreds.toml" in str(caught.value)
    # the bad table never became the settings: masking goes on with the last good ones
    assert current_settings() == MaskingSettings()
    assert masked(VALUE) == "****"


def test_from_table_is_strict_without_a_config() -> None:
    assert MaskingSettings.from_table({}) == MaskingSettings()
    assert MaskingSettings.from_table({"fragment_length": 0}).fragment_length == 0
    with pytest.raises(MaskingSettingError) as caught:
        MaskingSettings.from_table({"lable": True})
    assert caught.value.key == "lable"
    assert "did you mean 'label'" in caught.value.message
    assert isinstance(caught.value, ValueError)
    with pytest.raises(MaskingSettingError, match="replacement"):
        MaskingSettings(replacement=3)  # type: ignore[arg-type]


def test_configure_pushes_settings_and_recompiles() -> None:
    nbcreds.mask(VALUE)
    assert masked(f"a {VALUE}") == "a ****"
    configure(MaskingSettings(replacement="[hidden]"))
    assert current_settings().replacement == "[hidden]"
    assert masked(f"a {VALUE}") == "a [hidden]"
    configure(MaskingSettings())
    assert masked(f"a {VALUE}") == "a ****"
    with pytest.raises(TypeError):
        configure({"replacement": "x"})  # type: ignore[arg-type]


def test_loading_and_resetting_the_config_pushes_masking_settings(
    write_config: Callable[[str], Path],
) -> None:
    write_config('[masking]\nreplacement = "<gone>"\nfragment_length = 0\n')
    assert current_settings() == MaskingSettings(replacement="<gone>", fragment_length=0)
    session().reset()
    assert current_settings() == MaskingSettings()


def test_secret_instances_are_plain_after_masking() -> None:
    secret = nbcreds.Secret(VALUE, "PW")
    registry.register(secret, "PW")
    out = masked(f"{secret.reveal()}!")
    assert out == "****!"
    assert type(out) is str


def test_masked_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        masked(b"bytes")  # type: ignore[arg-type]


def test_hold_from_finds_the_longest_prefix_suffix() -> None:
    nbcreds.mask("abcdefgh")
    state = _engine.compiled()
    assert state.hold_from("xx abcd") == 3
    assert state.hold_from("xx abcdefgh.") == len("xx abcdefgh.")
    # its last character can start one of its base64 variants
    assert state.hold_from("xx abcdefgh") < len("xx abcdefgh")
    assert state.hold_from("nothing") == len("nothing")


def test_fragments_mask_slices_by_default(write_config: Callable[[str], Path]) -> None:
    token = "ghp_0123456789abcdefghijKLMNOPQRSTuv"
    nbcreds.mask(token)
    # the default window is 16 characters: %whos' 25 + <...> + 25, pandas' 47...
    assert masked(f"head={token[:20]} tail={token[-16:]}") == "head=**** tail=****"
    assert masked(f"short={token[:15]}") == f"short={token[:15]}"
    write_config("[masking]\nfragment_length = 12\n")
    assert masked(f"head={token[:12]} tail={token[-15:]}") == "head=**** tail=****"
    assert masked(f"short={token[:11]}") == f"short={token[:11]}"
    write_config("[masking]\nfragment_length = 0\n")
    assert masked(f"head={token[:20]}") == f"head={token[:20]}"
    assert masked(f"whole={token}") == "whole=****"


def test_masked_bytes() -> None:
    from nbcreds.masking import masked_bytes

    nbcreds.mask(VALUE)
    assert masked_bytes(f"é {VALUE} é".encode()) == "é **** é".encode()

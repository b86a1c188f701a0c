from __future__ import annotations

import copy
import json
import pickle

import pytest

from nbcreds import Secret


def test_secret_is_a_str_that_hides_itself() -> None:
    s = Secret("s3cr3t-value", "DB_PASSWORD", "env")
    assert isinstance(s, str)
    assert s == "s3cr3t-value"
    assert f"Bearer {s}" == "Bearer s3cr3t-value"
    assert s.reveal() == "s3cr3t-value"
    assert type(s.reveal()) is str
    assert repr(s) == "<Secret DB_PASSWORD ****>"
    assert "s3cr3t" not in s._repr_html_()
    assert s.label == "DB_PASSWORD"
    assert s.source == "env"


def test_mask_does_not_reveal_length() -> None:
    assert repr(Secret("a" * 6, "X")) == repr(Secret("a" * 60, "X"))


def test_pretty_printer_uses_the_mask() -> None:
    from IPython.lib.pretty import pretty

    s = Secret("s3cr3t-value", "TOKEN")
    assert pretty(s) == "<Secret TOKEN ****>"
    assert pretty({"k": s}) == "{'k': <Secret TOKEN ****>}"
    assert repr([s]) == "[<Secret TOKEN ****>]"


def test_pickling_is_refused() -> None:
    s = Secret("s3cr3t-value", "TOKEN")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled") as info:
            pickle.dumps(s, protocol=protocol)
        assert "s3cr3t" not in str(info.value)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [s]})


def test_copy_keeps_the_secret_type() -> None:
    s = Secret("s3cr3t-value", "TOKEN")
    assert copy.copy(s) is s
    assert copy.deepcopy({"a": s})["a"] is s


def test_json_dumps_works_like_a_str() -> None:
    # a Secret is usable wherever a string is: serialising it is the user's call,
    # and the masker catches the result at the kernel's egress
    assert json.dumps({"t": Secret("abc123xyz", "T")}) == '{"t": "abc123xyz"}'

"""variants(): every encoded form a registered value takes on its way out."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbcreds.masking import variants

VALUE = "p@ss w/rd+&<x>\"'é"


def test_raw_value_comes_first() -> None:
    assert variants(VALUE)[0] == VALUE


def test_text_escapings_are_present() -> None:
    forms = set(variants(VALUE))
    for form in (
        quote(VALUE),
        quote(VALUE, safe=""),
        quote_plus(VALUE),
        json.dumps(VALUE)[1:-1],
        json.dumps(VALUE, ensure_ascii=False)[1:-1],
        html.escape(VALUE),
        repr(VALUE)[1:-1],
    ):
        assert form in forms


@pytest.mark.parametrize("prefix", ["", "u", "us", "use", "user:", "x" * 10])
def test_value_inside_a_longer_base64_blob_is_found(prefix: str) -> None:
    """A Basic Authorization header: base64 of ``user:value`` at any alignment."""
    value = "s3cr3t-PASS/+?~"
    for suffix in ("", "!", "!!", "@host"):
        blob = base64.b64encode(f"{prefix}{value}{suffix}".encode()).decode()
        url_blob = base64.urlsafe_b64encode(f"{prefix}{value}{suffix}".encode()).decode()
        forms = variants(value)
        assert any(form in blob for form in forms[1:] if len(form) >= 8)
        assert any(form in url_blob for form in forms[1:] if len(form) >= 8)
        assert any(form in url_blob.rstrip("=") for form in forms[1:] if len(form) >= 8)


def test_padded_tail_is_a_variant() -> None:
    value = "abcdefg"  # 7 bytes: base64 ends with '='
    encoded = base64.b64encode(value.encode()).decode()
    assert encoded.endswith("=")
    assert encoded in variants(value)
    assert encoded.rstrip("=") in variants(value)


def test_lines_of_multiline_values() -> None:
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----"
    forms = set(variants(pem))
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" in forms
    assert "-----BEGIN KEY-----" in forms
    assert "short" not in forms  # lines under 8 characters are not masked alone


def test_empty_value_has_no_variants() -> None:
    assert variants("") == []


@given(st.text(min_size=6, max_size=40))
def test_every_derived_form_is_long_enough_and_unique(value: str) -> None:
    forms = variants(value)
    assert forms[0] == value
    assert len(forms) == len(set(forms))
    assert all(len(form) >= 4 for form in forms[1:])


def test_fragments_are_every_window() -> None:
    from nbcreds.masking._variants import fragments

    assert fragments("abcdefghij", 8) == ["abcdefgh", "bcdefghi", "cdefghij"]
    assert fragments("abcdefgh", 8) == []
    assert fragments("abcdefghij", 0) == []


@given(st.text(alphabet=st.sampled_from("ab&<>\"'\n\r\t é"), max_size=20))
def test_xml_forms_are_the_standard_librarys(value: str) -> None:
    """The XML escapes are written out (xml.sax is slow to import): same results."""
    from xml.sax import saxutils

    from nbcreds.masking._variants import quoteattr, xml_escape

    assert xml_escape(value) == saxutils.escape(value)
    assert xml_escape(value, {'"': "&quot;"}) == saxutils.escape(value, {'"': "&quot;"})
    assert quoteattr(value) == saxutils.quoteattr(value)

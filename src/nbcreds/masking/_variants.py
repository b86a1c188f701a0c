"""Every form a registered value takes on its way out of the kernel.

A value rarely leaves in its raw form only: an ``Authorization: Basic`` header
carries it base64-encoded *inside* a longer blob, a URL percent-encodes it, a
JSON document or an ``.ipynb`` escapes its quotes and backslashes, an HTML repr
escapes ``<`` and ``&``, a dict repr shows ``\\n`` for a newline, and a PEM key is
printed line by line. The matcher looks for all of them.
"""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

__all__ = ["FRAGMENT_MIN_LENGTH", "LINE_MIN_LENGTH", "fragments", "variants"]

#: Lines of a multi-line value shorter than this are not masked on their own
#: (a PEM key's short last line or ``-----END...`` is not worth blanking).
LINE_MIN_LENGTH = 8

#: The shortest fragment length ``[masking] fragment_length`` accepts.
FRAGMENT_MIN_LENGTH = 8

#: A derived form (a base64 fragment, ...) shorter than this is dropped: it would
#: blank unrelated text far more often than it would hide anything.
_DERIVED_MIN_LENGTH = 4


def _base64_forms(raw: bytes) -> set[str]:
    """Base64 of ``raw`` at the three byte alignments, standard and URL-safe,
    with and without padding.

    Inside a longer blob (``user:pass`` in a Basic header) the characters at the
    edges of the value depend on the neighbouring bytes, so for each alignment we
    keep only the characters that depend on the value alone (the core). When the
    value ends the blob, its tail (the last partial character and the padding) is
    fixed too: that form is kept with and without ``=``.
    """
    forms: set[str] = set()
    n = len(raw)
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        start = (8 * shift + 5) // 6  # first character made only of value bits
        stop = (8 * (shift + n)) // 6  # end of the characters made only of value bits
        tail = encoded[start:]
        for form in (encoded[start:stop], tail, tail.rstrip("=")):
            forms.add(form)
            forms.add(form.replace("+", "-").replace("/", "_"))
    return forms


def _text_forms(value: str) -> set[str]:
    """Escapings of ``value`` that keep its text shape (URL, JSON, HTML, repr)."""
    forms = {
        value,
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        repr(value)[1:-1],
        ascii(value)[1:-1],
    }
    # string-literal escaping of one or both quotes (IPython's dict-key completion
    # escapes both; shells and SQL drivers escape one)
    slashed = value.replace("\\", "\\\\")
    forms.add(slashed.replace('"', '\\"'))
    forms.add(slashed.replace("'", "\\'"))
    forms.add(slashed.replace('"', '\\"').replace("'", "\\'"))
    # a JSON document inside a JSON string (a notebook saving a JSON output)
    forms.add(json.dumps(json.dumps(value, ensure_ascii=False)[1:-1], ensure_ascii=False)[1:-1])
    return forms


def _forms(value: str) -> set[str]:
    forms = _text_forms(value)
    forms |= _base64_forms(value.encode("utf-8", "surrogatepass"))
    return forms


def variants(value: str) -> list[str]:
    """Every form the matcher looks for when ``value`` is registered.

    The raw value first, then (deduplicated, longest first): base64 standard and
    URL-safe with and without padding at three alignments, percent-encodings
    (``quote``, ``quote(safe="")``, ``quote_plus``), JSON string escaping
    (ASCII and not), HTML escaping, Python ``repr`` escaping, and for a
    multi-line value each of its lines of at least 8 characters (with the same
    encodings). Derived forms shorter than 4 characters are dropped.
    """
    plain = str.__str__(value)
    if not plain:
        return []
    found = _forms(plain)
    lines = [line.strip() for line in plain.splitlines()]
    if len(lines) > 1:
        for line in lines:
            if len(line) >= LINE_MIN_LENGTH:
                found |= _forms(line)
    found.discard(plain)
    derived = sorted(
        (form for form in found if len(form) >= _DERIVED_MIN_LENGTH),
        key=lambda form: (-len(form), form),
    )
    return [plain, *derived]


def fragments(value: str, length: int) -> list[str]:
    """Every ``length``-character window of ``value`` (none if it is not longer).

    Masking every window masks any slice of the value at least ``length`` long --
    ``print(token[:20])`` included -- which a mask of the whole value alone
    would miss. Opt-in (``[masking] fragment_length``): it multiplies the
    patterns by the values' length.
    """
    plain = str.__str__(value)
    if length <= 0 or len(plain) <= length:
        return []
    return list(dict.fromkeys(plain[i : i + length] for i in range(len(plain) - length + 1)))

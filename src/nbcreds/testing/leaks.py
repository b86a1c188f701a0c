"""Find a secret, or any of its usual encodings, in text or bytes.

Deliberately independent of the masking engine: tests use it to check the
engine's work, so it must not share its code.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["assert_no_leak", "encodings", "find_leaks"]


def encodings(value: str) -> dict[str, str]:
    """The value and the forms it takes on its way out: kind -> text."""
    value = str.__str__(value)  # a Secret's repr is its mask: work on the plain text
    raw = value.encode("utf-8")
    forms = {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "json-ascii": json.dumps(value, ensure_ascii=True)[1:-1],
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "html": html.escape(value),
        # Python string-literal escaping, as IPython's dict-key completion writes it
        "py-escaped": value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"'),
        "repr": repr(value)[1:-1],
    }
    for shift in range(3):
        # the value inside a longer base64 blob: drop the characters that depend
        # on the bytes around it
        prefix = b"\0" * shift
        enc = base64.b64encode(prefix + raw).decode()
        start = (shift * 8 + 5) // 6 + (1 if shift else 0)
        end_bits = (shift + len(raw)) * 8
        stop = end_bits // 6
        core = enc[start:stop]
        if len(core) >= 4:
            forms[f"base64@{shift}"] = core
            forms[f"base64url@{shift}"] = core.replace("+", "-").replace("/", "_")
    return {k: v for k, v in forms.items() if v}


def find_leaks(haystack: str | bytes, values: Iterable[str]) -> list[tuple[str, str]]:
    """Return (label, kind) for each value/encoding found; the label is the value's
    position in ``values`` (never the value itself)."""
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    found: list[tuple[str, str]] = []
    for index, value in enumerate(values):
        for kind, form in encodings(value).items():
            if form in text:
                found.append((f"value#{index}", kind))
    return found


def assert_no_leak(haystack: str | bytes, values: Iterable[str]) -> None:
    """Fail (without printing any value) when a value or an encoding of it is present."""
    leaks = find_leaks(haystack, list(values))
    if leaks:
        raise AssertionError(f"secret material found: {leaks}")

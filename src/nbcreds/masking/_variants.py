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
import re
import shlex
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

from ._settings import FRAGMENT_MIN_LENGTH

__all__ = [
    "FRAGMENT_MIN_LENGTH",
    "LINE_MIN_LENGTH",
    "fragments",
    "json_leaves",
    "quoteattr",
    "variants",
    "xml_escape",
    "yaml_double_quoted",
]

#: Lines of a multi-line value shorter than this are not masked on their own
#: (a PEM key's short last line or ``-----END...`` is not worth blanking).
LINE_MIN_LENGTH = 8

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
    # a JSON string's repr: ``json.dumps(value)`` as a cell's result
    for ensure_ascii in (True, False):
        forms.add(repr(json.dumps(value, ensure_ascii=ensure_ascii))[2:-2])
    # a JSON document inside a JSON string (a notebook saving a JSON output), with
    # and without ensure_ascii at each level
    for outer in (True, False):
        for inner in (True, False):
            once = json.dumps(value, ensure_ascii=inner)
            forms.add(json.dumps(once, ensure_ascii=outer)[1:-1])
            forms.add(json.dumps(once[1:-1], ensure_ascii=outer)[1:-1])
    json_forms = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    for form in json_forms:
        forms.add(form.replace("/", "\\/"))  # JSON's optional \/ (PHP, some Java encoders)
        forms.add(html.escape(form))  # JSON in an HTML attribute or <pre>
        forms.add(html.escape(form, quote=False))
    # a URL inside a URL parameter (redirect=...): percent-encoded twice
    for once in (quote(value, safe=""), quote(value), quote_plus(value)):
        forms.add(quote(once, safe=""))
        forms.add(quote_plus(once))
    # Python bytes repr (b'...'), and hex of the UTF-8 bytes (both cases)
    raw = value.encode("utf-8", "surrogatepass")
    forms.add(repr(raw)[2:-1])
    forms.add(raw.hex())
    forms.add(raw.hex().upper())
    # shell quoting: shlex.quote / shlex.join ('"'"'), bash's set -x ('\'')
    quoted = shlex.quote(value)
    forms.add(quoted[1:-1] if quoted.startswith("'") else quoted)
    forms.add(value.replace("'", "'\\''"))
    # Windows command-line quoting (subprocess.list2cmdline): \" for a quote, and
    # backslashes doubled only before a quote
    forms.add(_BACKSLASHES_QUOTE.sub(lambda m: m.group(1) * 2 + '\\"', value))
    # CSV and SQL quote doubling
    forms.add(value.replace('"', '""'))
    forms.add(value.replace("'", "''"))
    # XML text and attributes
    forms.add(xml_escape(value))
    forms.add(xml_escape(value, {'"': "&quot;"}))
    forms.add(quoteattr(value)[1:-1])
    # ... written in an ASCII encoding (ElementTree's us-ascii, html's
    # xmlcharrefreplace): every other character as a numeric reference (&#233;)
    if not value.isascii():
        for form in (
            xml_escape(value),
            xml_escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}),
            html.escape(value),
            html.escape(value, quote=False),
        ):
            forms.add(form.encode("ascii", "xmlcharrefreplace").decode("ascii"))
    # YAML double-quoted scalars
    forms.add(yaml_double_quoted(value))
    forms.add(yaml_double_quoted(value, ascii_only=False))
    return forms


_BACKSLASHES_QUOTE = re.compile(r'(\\*)"')


def xml_escape(value: str, entities: dict[str, str] | None = None) -> str:
    """``xml.sax.saxutils.escape``: ``&``, ``<``, ``>`` and ``entities`` replaced.

    Written out here because importing ``xml.sax.saxutils`` pulls in
    ``urllib.request`` and ``http.client``: a third of ``%load_ext nbcreds``."""
    out = value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    for char, entity in (entities or {}).items():
        out = out.replace(char, entity)
    return out


def quoteattr(value: str) -> str:
    """``xml.sax.saxutils.quoteattr``: ``value`` escaped and quoted as an XML attribute."""
    out = xml_escape(value, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
    if '"' not in out:
        return f'"{out}"'
    if "'" not in out:
        return f"'{out}'"
    return '"{}"'.format(out.replace('"', "&quot;"))


_YAML_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def yaml_double_quoted(value: str, *, ascii_only: bool = True) -> str:
    """``value`` as the inside of a YAML double-quoted scalar, escaped the way
    PyYAML's emitter does (``allow_unicode=False`` when ``ascii_only``)."""
    out: list[str] = []
    for char in value:
        escaped = _YAML_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
            continue
        code = ord(char)
        printable = 0x20 <= code <= 0x7E or (
            not ascii_only
            and (0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code < 0x110000)
            and code != 0xFEFF
        )
        if printable:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02X}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    return "".join(out)


def json_leaves(value: str, min_length: int) -> list[str]:
    """The string leaves (at least ``min_length`` long) of ``value`` if it is a JSON
    object or array: a service-account key's ``private_key``, the password of
    ``{"user": ..., "password": ...}``. Keys are not leaves."""
    stripped = value.strip()
    if not stripped or stripped[0] not in "[{":
        return []
    try:
        document = json.loads(stripped)
    except ValueError:
        return []
    found = dict.fromkeys(leaf for leaf in _walk(document) if len(leaf) >= min_length)
    found.pop(value, None)
    return list(found)


def _walk(node: object) -> Iterator[str]:
    stack = [node]
    while stack:  # iterative: a deeply nested document must not hit the recursion limit
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


#: Above this many characters a value gets only its most common encodings (raw,
#: JSON, repr, percent, hex, base64): 40 forms of a 10 MB value would take 400 MB.
HUGE_VALUE = 1 << 16

#: At most this many lines of a multi-line value get forms of their own.
MAX_LINES = 1000


def _huge_forms(value: str) -> set[str]:
    raw = value.encode("utf-8", "surrogatepass")
    forms = {
        value,
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        raw.hex(),
    }
    for shift in range(3):  # the longest base64 form per alignment: the others are its prefixes
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        tail = encoded[(8 * shift + 5) // 6 :]
        forms.add(tail)
        forms.add(tail.replace("+", "-").replace("/", "_"))
    return forms


def _forms(value: str) -> set[str]:
    if len(value) > HUGE_VALUE:
        return _huge_forms(value)
    forms = _text_forms(value)
    forms |= _base64_forms(value.encode("utf-8", "surrogatepass"))
    return forms


def variants(value: str, fragment_length: int = 0) -> list[str]:
    """Every form the matcher looks for when ``value`` is registered.

    The raw value first, then (deduplicated, longest first): base64 standard and
    URL-safe with and without padding at three alignments, percent-encodings
    (once and twice), JSON string escaping (ASCII and not, once and twice, with
    ``\\/``, HTML-escaped), HTML and XML escaping, Python ``repr`` of the str and
    of its UTF-8 bytes, hex of the bytes (both cases), shell quoting
    (``shlex.quote``, ``'\\''``), CSV / SQL quote doubling, ``\\"`` escaping, YAML
    double-quoted escapes, and for a multi-line value each of its lines of at
    least 8 characters (with the same encodings; with ``fragment_length`` set,
    only lines too short for a window, since the value's windows cover the rest).
    Derived forms shorter than 4 characters are dropped.
    """
    plain = str.__str__(value)
    if not plain:
        return []
    found = _forms(plain)
    lines = [line.strip() for line in plain.splitlines()]
    if len(lines) > 1:
        wanted = [
            line
            for line in dict.fromkeys(lines)
            if len(line) >= LINE_MIN_LENGTH
            and not (fragment_length and len(line) > fragment_length)
        ]
        for line in wanted[:MAX_LINES]:
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
    would miss. On by default (``[masking] fragment_length = 16``; 0 turns it
    off). The matcher does not compile this list: it finds every window through
    a few short anchors per value (see :class:`~nbcreds.masking.Matcher`); this
    function spells out what it covers.
    """
    plain = str.__str__(value)
    if length <= 0 or len(plain) <= length:
        return []
    return list(dict.fromkeys(plain[i : i + length] for i in range(len(plain) - length + 1)))

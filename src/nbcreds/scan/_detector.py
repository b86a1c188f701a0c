"""Find configured values and token shapes in a text, also under encodings.

A secret saved in a notebook is often not in its raw form: a JSON document
inside an output escapes it (``\\n`` in a PEM key, ``\\"`` around a value), a URL
percent-encodes it, a Basic-auth header or a data URI base64-encodes it. The
detector scans the text, then the text decoded each of those ways (JSON
unescaping, percent-decoding, each base64 run decoded), recursively to a small
depth, and maps what it finds back to a span of the original text so that the
scrubber can replace it.

Configured values need no decoding: the masking engine's variants already
include their encoded forms, which is faster and exact.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._rules import ALL_MARKERS, RuleSet
from ._values import ConfiguredValue, ValueMatcher

__all__ = ["Detector", "Hit", "merge_spans"]

#: Base64 runs shorter than this are not decoded (a 20-character run holds 15 bytes).
B64_MIN_RUN = 20
MAX_DEPTH = 2

_B64_RUN = re.compile(r"[A-Za-z0-9+/]{" + str(B64_MIN_RUN) + r",}={0,2}")
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "/": "/"}


@dataclass(frozen=True)
class Hit:
    """A finding inside one text: where, what kind, through which encoding.

    ``label`` is the secret's name for a configured value, ``None`` for a shape.
    """

    start: int
    end: int
    kind: str
    rule: str
    encoding: str
    priority: int
    label: str | None = None


class _Decoded:
    """A decoded text and the map from its offsets back to the original's."""

    def __init__(self, text: str, segments: list[tuple[int, int, int, int]]) -> None:
        self.text = text
        # (out_start, orig_start, out_len, orig_len); literal runs have out_len == orig_len
        self._segments = segments
        self._starts = [s[0] for s in segments]

    def _segment(self, pos: int) -> tuple[int, int, int, int]:
        return self._segments[max(0, bisect.bisect_right(self._starts, pos) - 1)]

    def span(self, start: int, end: int) -> tuple[int, int]:
        out_s, orig_s, out_len, orig_len = self._segment(start)
        first = orig_s + (start - out_s) if out_len == orig_len else orig_s
        out_s, orig_s, out_len, orig_len = self._segment(max(start, end - 1))
        last = orig_s + (end - out_s) if out_len == orig_len else orig_s + orig_len
        return first, last


def _unescape(
    text: str, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]
) -> _Decoded | None:
    segments: list[tuple[int, int, int, int]] = []
    parts: list[str] = []
    out = pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            n = m.start() - pos
            segments.append((out, pos, n, n))
            parts.append(text[pos : m.start()])
            out += n
        char = repl(m)
        segments.append((out, m.start(), len(char), m.end() - m.start()))
        parts.append(char)
        out += len(char)
        pos = m.end()
    if not segments:
        return None
    if pos < len(text):
        segments.append((out, pos, len(text) - pos, len(text) - pos))
        parts.append(text[pos:])
    return _Decoded("".join(parts), segments)


def _json_char(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16)) if m.group(1) else _SIMPLE[m.group(2)]


def _percent_char(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16))


def b64decode_run(run: str) -> bytes | None:
    """Decode a base64 run (trailing characters that make no whole byte are dropped)."""
    body = run.rstrip("=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of overlapping or touching spans."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class Detector:
    """Configured values and token shapes, with the decoding layers above.

    ``backend`` is ``"auto"``, ``"hyperscan"`` or ``"regex"`` for the shapes
    (the values' matcher picks Hyperscan or Aho-Corasick by itself).
    """

    def __init__(
        self,
        values: Sequence[ConfiguredValue] = (),
        *,
        shapes: bool = True,
        backend: str = "auto",
    ) -> None:
        self.rules = RuleSet(backend=backend) if shapes else None
        self.values = ValueMatcher(values) if values else None

    def find(self, text: str, *, binary: bool = False) -> list[Hit]:
        """Every hit in ``text``. With ``binary`` the text is a base64 payload (an
        image output): it is decoded as a whole and a hit inside covers all of it."""
        hits, markers = self._direct(text)
        if binary:
            if self.rules is not None:
                data = b64decode_run("".join(text.split()))
                if data:
                    for m in self.rules.find(data.decode("latin-1"), data):
                        hits.append(
                            Hit(0, len(text), m.rule.kind, m.rule.id, "base64", m.rule.priority)
                        )
            return hits
        return hits + self._layers(text, 0, markers)

    def _direct(self, text: str, values: bool = True) -> tuple[list[Hit], frozenset[str]]:
        """Hits in ``text`` itself, and the markers saying which decodings to try."""
        hits: list[Hit] = []
        markers = ALL_MARKERS
        if values and self.values is not None:
            for start, end, name, encoding in self.values.find(text):
                hits.append(
                    Hit(
                        start,
                        end,
                        f"configured secret {name}",
                        "configured-secret",
                        encoding,
                        0,
                        name,
                    )
                )
        if self.rules is not None:
            rules, markers = self.rules.scan(text.encode("utf-8", "surrogatepass"))
            for m in self.rules.match(text, rules):
                hits.append(Hit(m.start, m.end, m.rule.kind, m.rule.id, "raw", m.rule.priority))
        return hits, markers

    def _layers(self, text: str, depth: int, markers: frozenset[str]) -> list[Hit]:
        if depth >= MAX_DEPTH:
            return []
        hits: list[Hit] = []
        decoded: list[tuple[str, _Decoded]] = []
        if "json-escape" in markers:
            d = _unescape(text, _JSON_ESCAPE, _json_char)
            if d is not None:
                decoded.append(("JSON-escaped", d))
        if "percent" in markers:
            d = _unescape(text, _PERCENT, _percent_char)
            if d is not None:
                decoded.append(("URL-encoded", d))
        for name, d in decoded:
            for hit in self._inner(d.text, depth):
                start, end = d.span(hit.start, hit.end)
                hits.append(_wrap(hit, start, end, name))
        if self.rules is not None and "base64" in markers:
            # configured values need no base64 decoding: their variants include base64
            for m in _B64_RUN.finditer(text):
                data = b64decode_run(m.group())
                if not data or len(data) < 12:
                    continue
                inner = data.decode("latin-1")
                for hit in self._inner(inner, depth, values=False):
                    hits.append(_wrap(hit, m.start(), m.end(), "base64"))
        return hits

    def _inner(self, text: str, depth: int, values: bool = True) -> list[Hit]:
        """Hits in a decoded text: its own direct hits, then its decodings."""
        hits, markers = self._direct(text, values=values)
        return hits + self._layers(text, depth + 1, markers)


def _wrap(hit: Hit, start: int, end: int, layer: str) -> Hit:
    encoding = layer if hit.encoding == "raw" else f"{layer}, then {hit.encoding}"
    return Hit(start, end, hit.kind, hit.rule, encoding, hit.priority, hit.label)


def report_hits(hits: Sequence[Hit]) -> list[Hit]:
    """One hit per place: of overlapping hits keep the most specific (a named
    configured secret, then a token shape, then a keyword assignment)."""
    starts: list[int] = []  # the kept hits are disjoint: sorted by start, so by end too
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.priority, h.start, -(h.end - h.start))):
        i = bisect.bisect_right(starts, hit.start)
        if i > 0 and kept[i - 1].end > hit.start:
            continue  # overlaps the kept hit starting at or before it
        if i < len(kept) and kept[i].start < hit.end:
            continue  # overlaps the next kept hit
        starts.insert(i, hit.start)
        kept.insert(i, hit)
    return kept

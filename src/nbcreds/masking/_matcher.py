"""A multi-pattern literal matcher: Hyperscan where it imports, Aho-Corasick otherwise.

Compiled once from the registry's patterns, it finds every occurrence of every
pattern in one pass over the text (never a loop of ``str.replace``, never one
giant regex) and merges overlapping or touching occurrences into their union, so
that two overlapping secrets are hidden as one block and the mask says nothing
about where one ends. Both backends report the complete set of occurrences, so
their spans -- and therefore :meth:`Matcher.sub` -- are identical.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from .._exceptions import MaskingError

__all__ = ["Backend", "Matcher", "Span", "available_backends", "merge_spans"]

Backend = Literal["hyperscan", "ahocorasick"]
Span = tuple[int, int, str | None]
Replacement = str | Callable[[str | None], str]


def available_backends() -> list[Backend]:
    """The backends that import on this machine, preferred first."""
    found: list[Backend] = []
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        pass
    else:
        found.append("hyperscan")
    try:
        import ahocorasick_rs  # noqa: F401
    except ImportError:
        pass
    else:
        found.append("ahocorasick")
    return found


def merge_spans(raw: Iterable[tuple[int, int, int]], labels: Sequence[str | None]) -> list[Span]:
    """Merge ``(pattern_index, start, end)`` occurrences into sorted disjoint spans.

    Overlapping and touching occurrences become one span (their union). Its
    label is the label of the longest occurrence starting at the span's start
    (ties: the lowest pattern index), so the result does not depend on the order
    in which a backend reports matches.
    """
    occurrences = sorted((start, -end, index) for index, start, end in raw)
    merged: list[Span] = []
    cur_start = cur_end = -1
    cur_label: str | None = None
    for start, neg_end, index in occurrences:
        end = -neg_end
        if start <= cur_end:
            if end > cur_end:
                cur_end = end
            continue
        if cur_end >= 0:
            merged.append((cur_start, cur_end, cur_label))
        cur_start, cur_end, cur_label = start, end, labels[index]
    if cur_end >= 0:
        merged.append((cur_start, cur_end, cur_label))
    return merged


#: Unchanged text between matches is copied in slices of at most this many
#: characters: large slices are allocated (and page-faulted) fresh from the OS
#: each time, small ones reuse the allocator's memory -- several times faster on
#: multi-MB texts with few matches.
_SLICE = 1 << 16


def _replace(text: Any, spans: Sequence[Span], replacement: Any, joiner: Any) -> Any:
    if not spans:
        return text
    parts = []
    pos = 0
    for start, end, label in spans:
        while start - pos > _SLICE:
            parts.append(text[pos : pos + _SLICE])
            pos += _SLICE
        parts.append(text[pos:start])
        parts.append(replacement(label) if callable(replacement) else replacement)
        pos = end
    size = len(text)
    while size - pos > _SLICE:
        parts.append(text[pos : pos + _SLICE])
        pos += _SLICE
    parts.append(text[pos:])
    return joiner.join(parts)


class Matcher:
    """Find every occurrence of a set of literal patterns.

    ``patterns`` is a sequence of ``(pattern, label)``; empty patterns are
    ignored and duplicates keep their first label. ``backend`` forces
    ``"hyperscan"`` or ``"ahocorasick"`` (default: the first available).
    Works on ``str`` (offsets are character offsets) and on ``bytes``
    (patterns are matched as UTF-8; offsets are byte offsets).
    """

    backend: Backend

    def __init__(
        self, patterns: Iterable[tuple[str, str | None]], backend: Backend | None = None
    ) -> None:
        unique: dict[str, str | None] = {}
        for pattern, label in patterns:
            if pattern and pattern not in unique:
                unique[pattern] = label
        self.patterns: list[str] = list(unique)
        self.labels: list[str | None] = list(unique.values())
        available = available_backends()
        if backend is None:
            if not available:
                raise MaskingError(
                    "no matcher backend: install 'hyperscan' (x86-64 Linux) or 'ahocorasick-rs'"
                )
            backend = available[0]
        elif backend not in ("hyperscan", "ahocorasick"):
            raise MaskingError(f"unknown matcher backend {backend!r}: use hyperscan or ahocorasick")
        elif backend not in available:
            raise MaskingError(
                f"matcher backend {backend!r} is not importable here: install "
                + ("'hyperscan'" if backend == "hyperscan" else "'ahocorasick-rs'")
            )
        self.backend = backend
        self._encoded = [p.encode("utf-8", "surrogatepass") for p in self.patterns]
        self._roots, self._extensions = _prefix_roots(self._encoded)
        self._root_bytes = [self._encoded[i] for i in self._roots]
        self._lock = threading.Lock()
        self._hs_db: Any = None
        self._ac: Any = None
        if self.patterns:
            if backend == "hyperscan":
                self._hs_db = self._compile_hyperscan()
            else:
                self._ac = self._compile_ahocorasick()

    def __len__(self) -> int:
        return len(self.patterns)

    def __repr__(self) -> str:
        return f"<Matcher {self.backend} patterns={len(self.patterns)}>"

    # -- backends -----------------------------------------------------------------
    #
    # Both backends match UTF-8 bytes (a str is encoded; for ASCII text byte and
    # character offsets are the same). Only the *root* patterns are compiled: a
    # pattern that has another pattern as a proper prefix (base64 with padding
    # after the same base64 without it, a percent-encoding that starts like the
    # raw value...) is checked where its root matched -- every occurrence of it is
    # an occurrence of its root -- which roughly halves the automaton.

    def _compile_hyperscan(self) -> Any:
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        # Pure literals: the start of a match is its end minus the pattern's byte
        # length, so no start-of-match tracking (HS_FLAG_SOM_LEFTMOST) is needed --
        # it would only slow the scan down and cap the pattern length.
        # Hyperscan picks its literal engine by the number of patterns; on this
        # kind of text a few dozen patterns scan several times slower than 64 or
        # more. Small sets are padded with literals that cannot occur in UTF-8
        # (they start with 0xFF); their matches, if any in raw bytes, are ignored.
        roots = self._root_bytes + [
            b"\xffnbcreds-pad-%04d\xfe" % i for i in range(_HS_MIN_PATTERNS - len(self._root_bytes))
        ]
        if any(b"\0" in p for p in roots):
            # the literal API takes C strings: a NUL byte needs the regex compiler,
            # with every byte escaped so each expression is still a plain literal
            expressions = [b"".join(b"\\x%02x" % byte for byte in p) for p in roots]
            literal = False
        else:
            expressions, literal = roots, True
        db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=0,
            literal=literal,
        )
        return db

    def _compile_ahocorasick(self) -> Any:
        import ahocorasick_rs

        # A DFA scans about twice as fast as the NFA but takes roughly 10 KB of
        # memory per pattern: use it up to a few thousand patterns.
        size = sum(len(p) for p in self._root_bytes)
        implementation = ahocorasick_rs.Implementation.DFA if size <= _DFA_MAX_BYTES else None
        return ahocorasick_rs.BytesAhoCorasick(
            self._root_bytes,
            matchkind=ahocorasick_rs.MATCHKIND_STANDARD,
            implementation=implementation,
        )

    def _scan(self, data: bytes) -> list[tuple[int, int, int]]:
        """Occurrences of the root patterns as (root number, start, end) byte offsets."""
        if self.backend == "ahocorasick":
            matches: list[tuple[int, int, int]] = self._ac.find_matches_as_indexes(
                data, overlapping=True
            )
            return matches
        found: list[tuple[int, int, int]] = []
        with self._lock:  # one scratch space per database: scans must not overlap
            self._hs_db.scan(data, match_event_handler=self._on_match, context=found)
        return found

    def _on_match(
        self, index: int, _start: int, end: int, _flags: int, found: list[tuple[int, int, int]]
    ) -> None:
        if index < len(self._root_bytes):  # not a padding literal
            found.append((index, end - len(self._root_bytes[index]), end))

    def _raw_bytes(self, data: bytes) -> list[tuple[int, int, int]]:
        """Every occurrence of every pattern as (pattern index, start, end) byte offsets."""
        return self._extend(data, self._scan(data))

    def _extend(
        self, data: bytes, scanned: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        """Root occurrences -> occurrences of every pattern (roots and their extensions)."""
        found: list[tuple[int, int, int]] = []
        roots = self._roots
        extensions = self._extensions
        encoded = self._encoded
        for root, start, end in scanned:
            index = roots[root]
            found.append((index, start, end))
            for longer in extensions.get(index, ()):
                if data.startswith(encoded[longer], start):
                    found.append((longer, start, start + len(encoded[longer])))
        return found

    def _raw(self, text: str | bytes) -> list[tuple[int, int, int]]:
        if not self.patterns or not text:
            return []
        if isinstance(text, (bytes, bytearray, memoryview)):
            return self._raw_bytes(bytes(text))
        if text.isascii():  # O(1) in CPython
            return self._raw_bytes(text.encode("ascii"))
        encoded = text.encode("utf-8", "surrogatepass")
        found = self._raw_bytes(encoded)
        return _to_char_offsets(encoded, found) if found else found

    # -- public -------------------------------------------------------------------

    def spans(self, text: str | bytes) -> list[Span]:
        """Sorted, disjoint ``(start, end, label)`` spans covering every occurrence."""
        return merge_spans(self._raw(text), self.labels)

    def search(self, text: str | bytes) -> bool:
        """True when any pattern occurs in ``text``."""
        return bool(self._raw(text))

    def sub(self, text: str, replacement: Replacement) -> str:
        """``text`` with every span replaced by ``replacement`` (a string, or a
        function of the span's label returning one)."""
        if not self.patterns or not text:
            return text
        if text.isascii():  # the common case, inlined: one scan, nothing else if no match
            data = text.encode("ascii")
            scanned = self._scan(data)
            if not scanned:
                return text
            raw = self._extend(data, scanned)
            # free the encoded copy before building the result: the allocator can
            # reuse its memory instead of mapping (and faulting in) fresh pages
            del data, scanned
        else:
            raw = self._raw(text)
        return str(_replace(text, merge_spans(raw, self.labels), replacement, ""))

    def sub_bytes(self, data: bytes, replacement: bytes | Callable[[str | None], bytes]) -> bytes:
        """:meth:`sub` for bytes (UTF-8 patterns, byte offsets)."""
        return bytes(_replace(data, self.spans(data), replacement, b""))

    @staticmethod
    def replace_spans(text: str, spans: Sequence[Span], replacement: Replacement) -> str:
        """Replace already computed ``spans`` of ``text``."""
        return str(_replace(text, spans, replacement, ""))


def _to_char_offsets(
    encoded: bytes, found: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """Turn UTF-8 byte offsets into character offsets.

    Matches of valid UTF-8 patterns start and end on character boundaries, so
    decoding the bytes between consecutive offsets counts characters exactly.
    """
    offsets = sorted({o for _, start, end in found for o in (start, end)})
    chars: dict[int, int] = {}
    prev_byte = prev_char = 0
    for offset in offsets:
        prev_char += len(encoded[prev_byte:offset].decode("utf-8", "surrogatepass"))
        prev_byte = offset
        chars[offset] = prev_char
    return [(index, chars[start], chars[end]) for index, start, end in found]


#: Hyperscan databases are padded to at least this many literals (see above).
_HS_MIN_PATTERNS = 64

#: Above this many bytes of root patterns, the Aho-Corasick fallback uses an NFA.
_DFA_MAX_BYTES = 400_000


def _prefix_roots(patterns: list[bytes]) -> tuple[list[int], dict[int, list[int]]]:
    """Split patterns into roots (no other pattern is a proper prefix of them) and,
    for each root, the patterns that start with it (attached to their shortest
    prefix in the set, which is a root)."""
    index_of = {p: i for i, p in enumerate(patterns)}
    shortest = min((len(p) for p in patterns), default=0)
    roots: list[int] = []
    extensions: dict[int, list[int]] = {}
    for i, pattern in enumerate(patterns):
        for k in range(shortest, len(pattern)):
            root = index_of.get(pattern[:k])
            if root is not None:
                extensions.setdefault(root, []).append(i)
                break
        else:
            roots.append(i)
    return roots, extensions

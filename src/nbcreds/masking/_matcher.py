"""A multi-pattern literal matcher: Hyperscan where it imports, Aho-Corasick otherwise.

Compiled once from the registry's patterns, it finds every occurrence of every
pattern in one pass over the text (never a loop of ``str.replace``, never one
giant regex) and merges overlapping or touching occurrences into their union, so
that two overlapping secrets are hidden as one block and the mask says nothing
about where one ends. Both backends report the complete set of occurrences, so
their spans -- and therefore :meth:`Matcher.sub` -- are identical.
"""

from __future__ import annotations

import bisect
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

    ``patterns`` is a sequence of ``(pattern, label)`` or ``(pattern, label,
    caseless)``; empty patterns are ignored and duplicates keep their first
    label (and are caseless if any copy is). A caseless pattern matches in any
    ASCII letter case. ``backend`` forces ``"hyperscan"`` or ``"ahocorasick"``
    (default: the first available).

    ``fragment_length`` > 0: a pattern longer than that is matched by its
    windows -- every slice of ``fragment_length`` characters of it counts as an
    occurrence (so the pattern itself, and any longer slice, is covered by the
    union). Windows are not compiled one by one: the automaton holds *anchors*,
    short slices sampled so that every window contains one, and each anchor hit
    is checked against the few characters around it. A pattern of more than
    :data:`HUGE_PATTERN` characters keeps every window within
    :data:`HUGE_EDGE` characters of either end and, in between, any slice of
    ``len / MAX_HUGE_ANCHORS`` characters or more.

    Works on ``str`` (offsets are character offsets) and on ``bytes``
    (patterns are matched as UTF-8; offsets are byte offsets).
    """

    backend: Backend

    def __init__(
        self,
        patterns: Iterable[tuple[str, str | None] | tuple[str, str | None, bool]],
        backend: Backend | None = None,
        *,
        fragment_length: int = 0,
    ) -> None:
        unique: dict[str, tuple[str | None, bool]] = {}
        for item in patterns:
            pattern, label = item[0], item[1]
            caseless = bool(item[2]) if len(item) > 2 else False
            if not pattern:
                continue
            if pattern in unique:
                if caseless and not unique[pattern][1]:
                    unique[pattern] = (unique[pattern][0], True)
                continue
            unique[pattern] = (label, caseless)
        self.patterns: list[str] = list(unique)
        self.labels: list[str | None] = [label for label, _ in unique.values()]
        self.caseless: list[bool] = [caseless for _, caseless in unique.values()]
        self.fragment_length = fragment_length
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
        #: fold the scan to lower case (some pattern is caseless)
        self._fold = any(self.caseless)
        self._encoded = [p.encode("utf-8", "surrogatepass") for p in self.patterns]
        self._folded = [
            e.lower() if c else e for e, c in zip(self._encoded, self.caseless, strict=True)
        ]
        self._roots, self._groups = _plan(self)
        self._root_lengths = [len(root) for root in self._roots]
        self._left_reach, self._right_reach = _reaches(self._groups, [len(p) for p in self._folded])
        #: the farthest an occurrence can start before / end after its root hit
        self._max_left = max(self._left_reach, default=0)
        self._max_right = max(self._right_reach, default=0)
        self._lock = threading.Lock()
        self._hs_db: Any = None
        self._ac: Any = None
        if self._roots:
            if backend == "hyperscan":
                self._hs_db = self._compile_hyperscan()
            else:
                self._ac = self._compile_ahocorasick()

    def __len__(self) -> int:
        return len(self.patterns)

    def __repr__(self) -> str:
        return f"<Matcher {self.backend} patterns={len(self.patterns)} literals={len(self._roots)}>"

    # -- backends -----------------------------------------------------------------
    #
    # Both backends match UTF-8 bytes (a str is encoded; for ASCII text byte and
    # character offsets are the same) against *root* literals: a literal that has
    # another literal as a proper prefix is checked where its root matched (every
    # occurrence of it is an occurrence of its root), a pattern longer than
    # _LITERAL_MAX bytes is found by its first _LITERAL_MAX bytes and checked whole,
    # and window patterns by their anchors (see the class docstring).

    def _compile_hyperscan(self) -> Any:
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        # Pure literals: the start of a match is its end minus the literal's byte
        # length, so no start-of-match tracking (HS_FLAG_SOM_LEFTMOST) is needed --
        # it would only slow the scan down and cap the pattern length.
        # Hyperscan picks its literal engine by the number of patterns; on this
        # kind of text a few dozen patterns scan several times slower than 64 or
        # more. Small sets are padded with literals that cannot occur in UTF-8
        # (they start with 0xFF); their matches, if any in raw bytes, are ignored.
        roots = self._roots + [
            b"\xffnbcreds-pad-%04d\xfe" % i for i in range(_HS_MIN_PATTERNS - len(self._roots))
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
            flags=hyperscan.HS_FLAG_CASELESS if self._fold else 0,
            literal=literal,
        )
        return db

    def _compile_ahocorasick(self) -> Any:
        import ahocorasick_rs

        # A DFA scans about twice as fast as the NFA but takes roughly 10 KB of
        # memory per pattern: use it up to a few thousand patterns.
        size = sum(len(p) for p in self._roots)
        implementation = ahocorasick_rs.Implementation.DFA if size <= _DFA_MAX_BYTES else None
        return ahocorasick_rs.BytesAhoCorasick(
            self._roots,
            matchkind=ahocorasick_rs.MATCHKIND_STANDARD,
            implementation=implementation,
        )

    def _scan(self, data: bytes, folded: bytes | None) -> list[tuple[int, int]]:
        """Occurrences of the root literals as (root number, start) byte offsets."""
        if self.backend == "ahocorasick":
            target = folded if folded is not None else data
            return [
                (root, start)
                for root, start, _ in self._ac.find_matches_as_indexes(target, overlapping=True)
            ]
        found: list[tuple[int, int]] = []
        # a module-level handler and a plain list as context: a bound method here
        # would tie the database to this matcher in a cycle the collector cannot see
        # through (Hyperscan's objects are not GC-tracked) and leak both
        context = (found, self._root_lengths)
        with self._lock:  # one scratch space per database: scans must not overlap
            self._hs_db.scan(data, match_event_handler=_on_hs_match, context=context)
        return found

    def any_root(self, data: bytes) -> bool:
        """True when some root literal occurs in ``data`` (at most :data:`_CHUNK`
        bytes): a cheap necessary condition for any occurrence, checked by nothing
        more (a root hit may still turn out to be no occurrence)."""
        if self._ac is not None:
            # some root occurs iff a leftmost non-overlapping search finds one: the
            # cheaper search, and no list of hits built in Python
            return bool(self._ac.find_matches_as_indexes(data.lower() if self._fold else data))
        if self._hs_db is None:
            return False
        return bool(self._scan(data, None))

    def _raw_bytes(self, data: bytes, first: bool = False) -> list[tuple[int, int, int]]:
        """Every occurrence of every pattern (or window) as (pattern index, start, end)
        byte offsets; ``first``: stop at the first chunk holding one."""
        # Hyperscan folds case itself; the lower-case copy is made for a hit's checks
        folded = data.lower() if self._fold and self.backend == "ahocorasick" else None
        if len(data) <= _CHUNK:
            scanned = self._scan(data, folded)
            return self._check(data, folded, scanned) if scanned else []
        return self._raw_chunked(data, folded, first)

    def _raw_chunked(
        self, data: bytes, folded: bytes | None, first: bool
    ) -> list[tuple[int, int, int]]:
        """:meth:`_raw_bytes` of a long text, scanned in chunks of :data:`_CHUNK` bytes.

        Each chunk's root hits are checked before the next chunk is scanned, so
        the hits held at once are bounded, and a run of text already known to be
        covered (a huge value printed whole: every position is a hit) is jumped
        over instead of being reported hit by hit: no hit starting between
        ``start + max_left`` and ``end - max_right`` of a covered block can add
        anything to the union (see :meth:`_check`).
        """
        found: list[tuple[int, int, int]] = []
        overlap = max(self._root_lengths) - 1
        target = folded if folded is not None else data
        size = len(data)
        block = [-1, -1]
        # checks fold only the text around a chunk, unless a hit can reach far
        # (a long whole pattern): then the whole text, once
        local = self._max_left + self._max_right <= _LOCAL_REACH
        pos = 0
        while pos < size:
            stop = min(size, pos + _CHUNK)
            piece = target[pos : stop + overlap]
            scanned = [(root, pos + at) for root, at in self._scan_piece(piece) if at < stop - pos]
            del piece
            if scanned:
                if self._fold and folded is None and local:
                    found.extend(self._check_local(data, scanned, block, pos, stop + overlap))
                else:
                    if self._fold and folded is None:
                        folded = data.lower()  # once, for every chunk's checks
                    found.extend(self._check(data, folded, scanned, block))
                if first and found:
                    return found
            pos = stop
            cs, ce = block
            if cs >= 0 and cs + self._max_left <= pos and ce - self._max_right > pos:
                pos = ce - self._max_right  # every hit before this is inside the block
        return found

    def _check_local(
        self,
        data: bytes,
        scanned: list[tuple[int, int]],
        block: list[int],
        lo: int,
        hi: int,
    ) -> list[tuple[int, int, int]]:
        """:meth:`_check` of one chunk's hits (starting in ``[lo, hi)``) when the
        checks need a lower-case copy (Hyperscan folds case itself while scanning):
        only the stretch of text those checks can read is copied and folded -- the
        chunk and the farthest a hit's occurrence can reach on either side -- not
        the whole text. An extension along a value is cut at that stretch's ends;
        what lies beyond is found by the hits of the neighbouring chunks."""
        start = max(0, lo - self._max_left)
        end = min(len(data), hi + self._max_right)
        # on character boundaries: an extension cut at the stretch's end must not
        # split a UTF-8 character
        while start > 0 and (data[start] & 0xC0) == 0x80:
            start -= 1
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end += 1
        local = data[start:end]
        shifted = [(root, at - start) for root, at in scanned]
        local_block = [block[0] - start, block[1] - start] if block[0] >= 0 else [-1, -1]
        found = self._check(local, local.lower(), shifted, local_block)
        if local_block != [-1, -1]:
            block[0], block[1] = local_block[0] + start, local_block[1] + start
        return [(index, a + start, b + start) for index, a, b in found]

    def _scan_piece(self, piece: bytes) -> list[tuple[int, int]]:
        if self.backend == "ahocorasick":
            return [
                (root, start)
                for root, start, _ in self._ac.find_matches_as_indexes(piece, overlapping=True)
            ]
        return self._scan(piece, None)

    def _check(
        self,
        data: bytes,
        folded: bytes | None,
        scanned: list[tuple[int, int]],
        block: list[int] | None = None,
    ) -> list[tuple[int, int, int]]:
        """Root hits -> occurrences of patterns and windows, each checked in place.

        A window check that holds is extended along its alignment as far as the
        text goes on matching the pattern (a longer slice of it, so masking it is
        what every window inside it asks for). ``block`` is the contiguous stretch
        of text the occurrences found so far cover; a hit whose every possible
        occurrence (its group's reach around it) lies inside is skipped -- it
        cannot change the union -- so a huge value printed whole costs one
        extension, not one check per position.
        """
        found: list[tuple[int, int, int]] = []
        groups = self._groups
        roots = self._roots
        caseless = self.caseless
        fold_keys = self._fold
        left_reach = self._left_reach
        right_reach = self._right_reach
        if fold_keys and folded is None:
            folded = data.lower()
        if block is None:
            block = [-1, -1]
        cs, ce = block
        for root, start in scanned:
            if start - left_reach[root] >= cs and start + right_reach[root] <= ce:
                continue
            key_source = folded if fold_keys else data
            assert key_source is not None
            root_bytes = roots[root]
            for key, checks in groups[root]:
                if key is not root_bytes and not key_source.startswith(key, start):
                    continue
                for check in checks:
                    index = check[0]
                    source = folded if caseless[index] else data
                    assert source is not None
                    pattern = self._folded[index]
                    if len(check) == 1:  # a whole pattern
                        if start >= cs and start + len(pattern) <= ce:
                            continue
                        if not source.startswith(pattern, start):
                            continue
                        lo, hi = start, start + len(pattern)
                    else:
                        _, lb, ab, ae, rb, window, q = check
                        if start - (ab - lb) >= cs and start + (rb - ab) <= ce:
                            continue
                        if not source.startswith(pattern[ab:ae], start):
                            continue
                        end = start + (ae - ab)
                        left = _common_suffix(source, start, pattern, lb, ab)
                        right = _common_prefix(source, end, pattern, ae, rb)
                        chars = q + _chars(pattern, ab - left, ab) + _chars(pattern, ae, ae + right)
                        if chars < window:
                            continue
                        # extending only pays where the block does not reach yet
                        if left == ab - lb and lb > 0 and start - left < cs:
                            left = _extend_left(source, start, pattern, ab)
                        if right == rb - ae and rb < len(pattern) and end + right > ce:
                            right = _extend_right(source, end, pattern, ae)
                        lo, hi = start - left, end + right
                    found.append((index, lo, hi))
                    if lo <= ce and hi >= cs:
                        cs, ce = min(cs, lo), max(ce, hi)
                    elif lo > ce:
                        cs, ce = lo, hi
        block[0], block[1] = cs, ce
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

    def occurrences(self, text: str | bytes) -> list[tuple[int, int, int]]:
        """Every occurrence as ``(pattern index, start, end)``, unmerged, unsorted."""
        return self._raw(text)

    def spans(self, text: str | bytes) -> list[Span]:
        """Sorted, disjoint ``(start, end, label)`` spans covering every occurrence."""
        return merge_spans(self._raw(text), self.labels)

    def search(self, text: str | bytes) -> bool:
        """True when any pattern occurs in ``text`` (a long text is scanned only up
        to the first chunk holding an occurrence)."""
        if not self.patterns or not text:
            return False
        if isinstance(text, (bytes, bytearray, memoryview)):
            data = bytes(text)
        elif text.isascii():
            data = text.encode("ascii")
        else:
            data = text.encode("utf-8", "surrogatepass")
        return bool(self._raw_bytes(data, first=True))

    def sub(self, text: str, replacement: Replacement) -> str:
        """``text`` with every span replaced by ``replacement`` (a string, or a
        function of the span's label returning one)."""
        if not self.patterns or not text:
            return text
        if text.isascii() and len(text) <= _CHUNK:  # the common case: one scan
            data = text.encode("ascii")
            folded = data.lower() if self._fold and self.backend == "ahocorasick" else None
            scanned = self._scan(data, folded)
            if not scanned:
                return text
            raw = self._check(data, folded, scanned)
            # free the encoded copy before building the result: the allocator can
            # reuse its memory instead of mapping (and faulting in) fresh pages
            del data, scanned
        else:
            raw = self._raw(text)
        if not raw:
            return text
        return str(_replace(text, merge_spans(raw, self.labels), replacement, ""))

    def sub_bytes(self, data: bytes, replacement: bytes | Callable[[str | None], bytes]) -> bytes:
        """:meth:`sub` for bytes (UTF-8 patterns, byte offsets)."""
        return bytes(_replace(data, self.spans(data), replacement, b""))

    @staticmethod
    def replace_spans(text: str, spans: Sequence[Span], replacement: Replacement) -> str:
        """Replace already computed ``spans`` of ``text``."""
        return str(_replace(text, spans, replacement, ""))


def _on_hs_match(
    index: int, _start: int, end: int, _flags: int, context: tuple[list[tuple[int, int]], list[int]]
) -> None:
    found, lengths = context
    if index < len(lengths):  # not a padding literal
        found.append((index, end - lengths[index]))


def _common_suffix(source: bytes, end: int, pattern: bytes, lo: int, hi: int) -> int:
    """How many bytes before ``source[end]`` equal the end of ``pattern[lo:hi]``,
    cut back to a character boundary of the pattern."""
    limit = min(hi - lo, end)
    if limit <= 0:
        return 0
    if source[end - limit : end] == pattern[hi - limit : hi]:
        n = limit
    else:
        good, bad = 0, limit  # binary search: C-speed slice compares, O(log n) of them
        while bad - good > 1:
            mid = (good + bad) // 2
            if source[end - mid : end] == pattern[hi - mid : hi]:
                good = mid
            else:
                bad = mid
        n = good
    while n and (pattern[hi - n] & 0xC0) == 0x80:  # inside a multi-byte character
        n -= 1
    return n


def _common_prefix(source: bytes, start: int, pattern: bytes, lo: int, hi: int) -> int:
    """How many bytes from ``source[start]`` equal the start of ``pattern[lo:hi]``,
    cut back to a character boundary of the pattern."""
    limit = min(hi - lo, len(source) - start)
    if limit <= 0:
        return 0
    if source[start : start + limit] == pattern[lo : lo + limit]:
        n = limit
    else:
        good, bad = 0, limit
        while bad - good > 1:
            mid = (good + bad) // 2
            if source[start : start + mid] == pattern[lo : lo + mid]:
                good = mid
            else:
                bad = mid
        n = good
    while n and lo + n < hi and (pattern[lo + n] & 0xC0) == 0x80:
        n -= 1
    return n


def _extend_left(source: bytes, end: int, pattern: bytes, hi: int) -> int:
    """:func:`_common_suffix` over all of ``pattern[:hi]``, galloping: the cost
    follows the length of the match, not of the pattern."""
    limit = min(hi, end)
    size = 64
    while size < limit and source[end - size : end] == pattern[hi - size : hi]:
        size *= 2
    return _common_suffix(source, end, pattern, hi - min(size, limit), hi)


def _extend_right(source: bytes, start: int, pattern: bytes, lo: int) -> int:
    """:func:`_common_prefix` over all of ``pattern[lo:]``, galloping."""
    limit = min(len(pattern) - lo, len(source) - start)
    size = 64
    while size < limit and source[start : start + size] == pattern[lo : lo + size]:
        size *= 2
    return _common_prefix(source, start, pattern, lo, lo + min(size, limit))


def _reaches(
    groups: list[list[tuple[bytes, list[tuple[int, ...]]]]], lengths: list[int]
) -> tuple[list[int], list[int]]:
    """For each root, how far before its hit a *bounded* occurrence can start and
    how far after the hit's start it can end (the whole pattern, or the anchor's
    context): a hit whose reach lies inside covered text can be skipped."""
    lefts: list[int] = []
    rights: list[int] = []
    for group in groups:
        left = right = 0
        for _key, checks in group:
            for check in checks:
                if len(check) == 1:
                    right = max(right, lengths[check[0]])
                else:
                    _, lb, ab, _ae, rb, _window, _q = check
                    left = max(left, ab - lb)
                    right = max(right, rb - ab)
        lefts.append(left)
        rights.append(right)
    return lefts, rights


def _chars(pattern: bytes, lo: int, hi: int) -> int:
    """The number of characters in ``pattern[lo:hi]`` (on character boundaries)."""
    if hi <= lo:
        return 0
    piece = pattern[lo:hi]
    if piece.isascii():
        return hi - lo
    return len(piece.decode("utf-8", "surrogatepass"))


#: The longest literal given to an automaton; a longer pattern is found by this many
#: bytes of its start and checked whole (Hyperscan refuses literals near 16 KB).
_LITERAL_MAX = 1024

#: Above this many characters a windowed pattern is "huge" (see :class:`Matcher`).
HUGE_PATTERN = 1 << 16
#: Every window within this many characters of a huge pattern's ends is matched.
HUGE_EDGE = 4096
#: The most anchors sampled from the middle of one huge pattern.
MAX_HUGE_ANCHORS = 2048


#: A wide anchor is compared with at most this many kept ones of the same shape.
_MAX_WIDE_REPRESENTATIVES = 8


def _anchor_plan(length: int, fragment: int) -> tuple[int, list[tuple[int, int]]]:
    """Anchor length q and (position, window) for a pattern of ``length`` characters.

    Every window [a, a + fragment) holds the anchor at the multiple of
    ``fragment - q + 1`` in [a, a + fragment - q], so sampling at that step finds
    each window once. A huge pattern's middle is sampled at a wider step, with the
    window widened to match.
    """
    q = min(8, max(4, fragment // 2))
    step = fragment - q + 1
    last = length - q  # the last position an anchor can start at
    if length <= HUGE_PATTERN:
        return q, [(pos, fragment) for pos in range(0, last + 1, step)]
    plan: list[tuple[int, int]] = []
    head_end = HUGE_EDGE
    tail_start = length - HUGE_EDGE
    pos = 0
    while pos <= head_end:
        plan.append((pos, fragment))
        pos += step
    wide_step = max(step, (tail_start - pos) // MAX_HUGE_ANCHORS + 1)
    wide = wide_step + q - 1
    while pos < tail_start:
        plan.append((pos, max(fragment, wide)))
        pos += wide_step
    pos = tail_start - tail_start % step
    while pos <= last:
        plan.append((pos, fragment))
        pos += step
    return q, plan


def _plan(
    matcher: Matcher,
) -> tuple[list[bytes], list[list[tuple[bytes, list[tuple[int, ...]]]]]]:
    """The root literals and, for each, the literals under it with their checks.

    A check is ``(index,)`` for a whole pattern or ``(index, lb, ab, ae, rb,
    window, q)`` for an anchor of a windowed pattern: the anchor is bytes
    [ab, ae) of the pattern, [lb, ab) and [ae, rb) the context a window around
    it may use.
    """
    by_key: dict[bytes, list[tuple[int, ...]]] = {}
    seen_context: set[tuple[bytes, bytes, bytes, bool]] = set()
    seen_wide: dict[tuple[bytes, int, int, int, bool], list[tuple[bytes, int, int]]] = {}
    fragment = matcher.fragment_length
    fold = matcher._fold
    for index, text in enumerate(matcher.patterns):
        folded = matcher._folded[index]
        caseless = matcher.caseless[index]
        if not fragment or len(text) <= fragment:
            key = folded[:_LITERAL_MAX]
            by_key.setdefault(key.lower() if fold else key, []).append((index,))
            continue
        q, plan = _anchor_plan(len(text), fragment)
        offsets = _byte_offsets(text, folded)
        for pos, window in plan:
            reach = window - q
            lb = offsets(max(0, pos - reach))
            ab = offsets(pos)
            ae = offsets(pos + q)
            rb = offsets(min(len(text), pos + q + reach))
            key = folded[ab:ae]
            # equal anchors with equal surroundings find the same windows: keep one
            # (a periodic value has few distinct ones)
            if window == fragment:
                context = (folded[lb:ab], key, folded[ae:rb], caseless)
                if context in seen_context:
                    continue
                seen_context.add(context)
            else:
                # wide contexts are kilobytes: compared (not stored) against the
                # first few kept with the same anchor and shape
                shape = (key, ab - lb, rb - ab, window, caseless)
                kept = seen_wide.setdefault(shape, [])
                if any(folded[lb:rb] == other[lo:hi] for other, lo, hi in kept):
                    continue
                if len(kept) < _MAX_WIDE_REPRESENTATIVES:
                    kept.append((folded, lb, rb))
            by_key.setdefault(key.lower() if fold else key, []).append(
                (index, lb, ab, ae, rb, window, q)
            )
    roots: list[bytes] = []
    groups: list[list[tuple[bytes, list[tuple[int, ...]]]]] = []
    for key in sorted(by_key):
        # sorted order puts every literal right after the shortest literal that is
        # its prefix, so the last root is the only candidate: linear, not quadratic
        if roots and key.startswith(roots[-1]):
            groups[-1].append((key, by_key[key]))
        else:
            roots.append(key)
            groups.append([(key, by_key[key])])
    # each group's first key is its root literal, the same object: _check tells it
    # by identity and skips re-checking it
    return roots, groups


def _byte_offsets(text: str, encoded: bytes) -> Callable[[int], int]:
    """Character offset -> byte offset in ``encoded`` (the UTF-8 of ``text``)."""
    if len(encoded) == len(text):
        return lambda pos: pos
    known = [0]  # sorted character offsets already converted
    table = {0: 0}

    def offset(pos: int) -> int:
        found = table.get(pos)
        if found is None:
            # from the nearest known offset below: anchors come in order, so each
            # conversion encodes a few characters, never the whole prefix again
            base = known[bisect.bisect_right(known, pos) - 1]
            found = table[base] + len(text[base:pos].encode("utf-8", "surrogatepass"))
            table[pos] = found
            bisect.insort(known, pos)
        return found

    return offset


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


#: Texts longer than this many bytes are scanned chunk by chunk (see _raw_chunked).
_CHUNK = 1 << 16

#: The farthest (left plus right) a hit's checks may read for a chunk's checks to
#: fold only the text around the chunk (see _check_local).
_LOCAL_REACH = 1 << 18

#: Hyperscan databases are padded to at least this many literals (see above).
_HS_MIN_PATTERNS = 64

#: Above this many bytes of root patterns, the Aho-Corasick fallback uses an NFA.
_DFA_MAX_BYTES = 400_000

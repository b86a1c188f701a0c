"""The masking engine: the registry's values compiled into tiers of matchers.

The compiled state is rebuilt lazily when :attr:`Registry.version` or the
``[masking]`` settings change, and shared by every caller (the kernel egress,
the stream hold-back, the logging filter, the CLI, the KV store). The settings
are pushed to it (:func:`nbcreds.masking.configure`, see ``_settings``).

Registering one more value must not recompile all the others, so values live in
*tiers* like the runs of an LSM tree: a new value gets a small tier of its own,
and a tier is merged with the older one before it when it holds at least half as
many values (or when there are more than :data:`MAX_TIERS`), so there are
O(log n) tiers and each value is recompiled O(log n) times over its life.
Removing a value rebuilds only its tier. Every text is scanned by every tier and
the occurrences merged as one.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import _settings
from ._matcher import _CHUNK, Backend, Matcher, Replacement, Span, _replace
from ._registry import registry
from ._settings import MaskingSettings
from ._variants import json_leaves, variants

__all__ = [
    "Compiled",
    "MaskingSettings",
    "Tier",
    "TieredMatcher",
    "compiled",
    "contains_secret",
    "force_backend",
    "masked",
    "masked_bytes",
    "safe_masked",
    "settings",
]

#: what :meth:`Compiled.clean` deletes before its scan (the blanks a fold adds)
_BLANKS = b" \t\r\n"
_NOTHING = 1 << 62  # the min_length of an empty compiled state: no text is long enough
WITHHELD = "[nbcreds: output withheld because masking failed]"

#: A tier is merged into the one before it when it has at least 1/MERGE_RATIO of its values.
MERGE_RATIO = 2
#: At most this many tiers; beyond, the newest two are merged.
MAX_TIERS = 6
#: The stream hold-back looks this deep into a value whose slices are not masked
#: (``fragment_length = 0``): a longer value written in pieces is held this far.
HOLD_DEPTH = 1024


def settings() -> MaskingSettings:
    """The active ``[masking]`` settings (pushed by :func:`configure`)."""
    return _settings.current_settings()


@dataclass
class Tier:
    """Some of the registered values, compiled: a matcher plus what the hold-back needs."""

    values: dict[str, str | None]
    matcher: Matcher
    #: every pattern cut to the hold depth, sorted: finds a trailing piece that could start one
    sorted_patterns: list[str] = field(default_factory=list)
    #: the first 1-3 characters of every pattern: a cheap filter before bisecting
    short_prefixes: frozenset[str] = frozenset()
    #: for each character c, the lengths L (longest first) such that some pattern
    #: longer than L has c at position L-1: the only suffix lengths worth checking
    #: for a text ending in c
    suffix_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: the full length of each entry of sorted_patterns
    full_lengths: list[int] = field(default_factory=list)
    #: strings shorter than this cannot contain a match
    min_length: int = _NOTHING
    #: every character of every pattern: a text ending in another cannot end in a match
    chars: frozenset[str] = frozenset()
    #: no pattern holds a line break (a match in a text is then one in its joined lines)
    newline_free: bool = True
    #: no pattern holds a blank (space, tab, CR, LF): see :attr:`Compiled.blank_free`
    blank_free: bool = True

    def hold_from(self, text: str) -> int:
        size = len(text)
        lengths = self.suffix_lengths.get(text[-1])
        if not lengths:
            return size  # the common case: output ending in a newline
        patterns = self.sorted_patterns
        full = self.full_lengths
        count = len(patterns)
        short = self.short_prefixes
        for length in lengths:
            if length > size:
                continue
            index = size - length
            if text[index : index + 3] not in short:
                continue
            piece = text[index:]
            at = bisect.bisect_left(patterns, piece)
            while at < count and patterns[at].startswith(piece):
                if full[at] > length:
                    return index
                at += 1
        return size


def _value_forms(value: str, conf: MaskingSettings) -> list[tuple[str, bool]]:
    """The (form, caseless) pairs ``value`` is matched by: its variants, and those
    of its JSON leaves and (non-ASCII, long enough) case forms."""
    key = (value, conf)
    cached = _forms_cache.get(key)
    if cached is not None:
        return cached
    fragment = conf.fragment_length
    caseless_from = conf.case_insensitive_min_length
    members = [value]
    if conf.json_leaves:
        members += json_leaves(value, conf.min_length)
    out: list[tuple[str, bool]] = []
    for member in members:
        caseless = bool(caseless_from) and len(member) >= caseless_from
        forms = variants(member, fragment)
        if caseless and not member.isascii():
            # ASCII case folding does not reach é/É: add the value's own case forms
            for cased in sorted({member.upper(), member.lower()} - {member}):
                forms += variants(cased, fragment)
        out.extend((form, caseless) for form in forms)
    if len(value) <= _CACHE_MAX_VALUE:
        # a tier merge compiles the same values again: their forms are kept
        _forms_cache[key] = out
    return out


#: forms of the registered values, for tier merges (pruned to the registry's values)
_forms_cache: dict[tuple[str, MaskingSettings], list[tuple[str, bool]]] = {}
#: values longer than this are not cached (their forms are megabytes)
_CACHE_MAX_VALUE = 4096


def _prune_cache(values: dict[str, str | None], conf: MaskingSettings) -> None:
    if len(_forms_cache) > 2 * len(values) + 64:
        for key in [k for k in _forms_cache if k[0] not in values or k[1] != conf]:
            del _forms_cache[key]


def _build_tier(values: dict[str, str | None], conf: MaskingSettings) -> Tier:
    patterns: list[tuple[str, str | None, bool]] = []
    fragment = conf.fragment_length
    for value, label in values.items():
        if len(value) < conf.min_length:
            continue
        patterns.extend((form, label, caseless) for form, caseless in _value_forms(value, conf))
    matcher = Matcher(patterns, backend=_forced_backend, fragment_length=fragment)
    depth = fragment if fragment else HOLD_DEPTH
    cut = sorted({p[:depth]: None for p in matcher.patterns})
    longest: dict[str, int] = {}
    for pattern in matcher.patterns:
        key = pattern[:depth]
        longest[key] = max(longest.get(key, 0), len(pattern))
    shortest = min((len(p) for p in matcher.patterns), default=_NOTHING)
    if fragment:
        shortest = min(shortest, fragment)
    return Tier(
        values=values,
        matcher=matcher,
        sorted_patterns=cut,
        short_prefixes=frozenset(p[:k] for p in cut for k in (1, 2, 3)),
        suffix_lengths=_suffix_lengths(cut),
        full_lengths=[longest[p] for p in cut],
        min_length=shortest,
        chars=frozenset().union(*(_chars_of(p) for p in matcher.patterns if len(p) > fragment))
        if fragment
        else frozenset(),
        newline_free=not any("\n" in p for p in matcher.patterns),
        blank_free=not any(_has_blank(p) for p in matcher.patterns),
    )


def _note_hit(index: int, _start: int, _end: int, _flags: int, found: list[int]) -> None:
    # any hit in ASCII text is a root's: the padding literals start with 0xFF
    found.append(index)


def _has_blank(pattern: str) -> bool:
    return " " in pattern or "\n" in pattern or "\t" in pattern or "\r" in pattern


_ASCII = frozenset(map(chr, range(128)))


def _chars_of(pattern: str) -> frozenset[str]:
    """The characters of ``pattern``, or a superset: every ASCII character for a
    long ASCII pattern (building its exact set takes seconds at 10 MB; the set
    only spares :meth:`Compiled.hold_from` a 16-character scan)."""
    if len(pattern) > 4096 and pattern.isascii():
        return _ASCII
    return frozenset(pattern)


def _suffix_lengths(patterns: list[str]) -> dict[str, tuple[int, ...]]:
    found: dict[str, set[int]] = {}
    for pattern in patterns:
        for position, char in enumerate(pattern[:-1] if len(pattern) > 1 else ""):
            found.setdefault(char, set()).add(position + 1)
        if len(pattern) > 1:
            # a pattern cut to the hold depth may go on: its full length says so
            found.setdefault(pattern[-1], set()).add(len(pattern))
    return {char: tuple(sorted(lengths, reverse=True)) for char, lengths in found.items()}


def _merge_occurrences(found: Iterable[tuple[int, int, int, str | None]]) -> list[Span]:
    """``(start, end, rank, label)`` from several tiers -> sorted disjoint spans (the
    label of the longest occurrence at each span's start, ties: the lowest rank)."""
    merged: list[Span] = []
    cur_start = cur_end = -1
    cur_label: str | None = None
    for start, neg_end, _rank, label in sorted((s, -e, r, lab) for s, e, r, lab in found):
        end = -neg_end
        if start <= cur_end:
            if end > cur_end:
                cur_end = end
            continue
        if cur_end >= 0:
            merged.append((cur_start, cur_end, cur_label))
        cur_start, cur_end, cur_label = start, end, label
    if cur_end >= 0:
        merged.append((cur_start, cur_end, cur_label))
    return merged


class TieredMatcher:
    """The tiers' matchers behind one :class:`Matcher`-like interface."""

    def __init__(self, tiers: list[Tier]) -> None:
        self.tiers = [t for t in tiers if t.matcher.patterns]
        self.backend = tiers[0].matcher.backend if tiers else None

    @property
    def patterns(self) -> list[str]:
        return [p for t in self.tiers for p in t.matcher.patterns]

    def __len__(self) -> int:
        return sum(len(t.matcher) for t in self.tiers)

    def spans(self, text: str | bytes) -> list[Span]:
        if len(self.tiers) == 1:
            return self.tiers[0].matcher.spans(text)
        found: list[tuple[int, int, int, str | None]] = []
        for rank, tier in enumerate(self.tiers):
            labels = tier.matcher.labels
            offset = rank << 40
            found.extend(
                (start, end, offset + index, labels[index])
                for index, start, end in tier.matcher.occurrences(text)
            )
        return _merge_occurrences(found)

    def search(self, text: str | bytes) -> bool:
        return any(t.matcher.search(text) for t in self.tiers)

    def sub(self, text: str, replacement: Replacement) -> str:
        if len(self.tiers) == 1:
            return self.tiers[0].matcher.sub(text, replacement)
        spans = self.spans(text)
        return str(_replace(text, spans, replacement, "")) if spans else text

    def sub_bytes(self, data: bytes, replacement: bytes | Callable[[str | None], bytes]) -> bytes:
        return bytes(_replace(data, self.spans(data), replacement, b""))


@dataclass
class Compiled:
    """One registry version compiled, in tiers."""

    version: int
    settings: MaskingSettings
    tiers: list[Tier] = field(default_factory=list)
    skipped: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.matcher = TieredMatcher(self.tiers)
        self.empty = not self.matcher.tiers
        #: strings shorter than this cannot contain a pattern (huge when there is none)
        self.min_length = min((t.min_length for t in self.matcher.tiers), default=_NOTHING)
        self.max_length = max((len(p) for t in self.tiers for p in t.sorted_patterns), default=0)
        self._replacement = self.replacement()
        #: no pattern holds a line break (see :func:`._markup.masked_text`)
        self.newline_free = all(t.newline_free for t in self.matcher.tiers)
        #: no pattern holds a space, tab, CR or LF: a match in a text, or in its
        #: visible text, is then also one in the text with those deleted (see
        #: :func:`._markup.masked_text`)
        self.blank_free = all(t.blank_free for t in self.matcher.tiers)
        #: for :meth:`clean`: each Hyperscan tier's scan and lock, the other matchers
        self._hs_scans = [
            (t.matcher._hs_db.scan, t.matcher._lock)
            for t in self.matcher.tiers
            if t.matcher._hs_db is not None
        ]
        self._other_matchers = [t.matcher for t in self.matcher.tiers if t.matcher._hs_db is None]
        #: the characters a text can end in and still have something to hold back
        #: (:meth:`hold_from`): any other last character -- a newline, mostly -- is
        #: answered without looking further
        self._hold_chars: frozenset[str] = frozenset().union(
            *(
                t.suffix_lengths.keys() | (t.chars if self.settings.fragment_length else set())
                for t in self.matcher.tiers
            )
        )

    @property
    def sorted_patterns(self) -> list[str]:
        """Every tier's patterns cut to the hold depth, sorted."""
        return sorted({p for tier in self.tiers for p in tier.sorted_patterns})

    @property
    def values(self) -> dict[str, str | None]:
        """Every value compiled here (value -> label)."""
        out: dict[str, str | None] = {}
        for tier in self.tiers:
            out.update(tier.values)
        return out

    def replacement(self) -> str | Callable[[str | None], str]:
        """The fixed replacement, or (``label = true``) a function of the label."""
        if not self.settings.label:
            return self.settings.replacement
        default = self.settings.replacement

        def by_label(label: str | None) -> str:
            return f"[{label}]" if label else default

        return by_label

    def clean(self, text: str) -> bool:
        """True when ``text`` certainly holds nothing to mask, as is or through the
        line folds of plain text: the quick answer for most stream output (False
        means "look closer", not "holds a value").

        Applies to ASCII text without escape sequences while no pattern holds a
        blank (:attr:`blank_free`). Such a text's visible text only drops line
        breaks and the blanks around them, so every match -- as is or across a
        fold -- is one in the text with its blanks deleted (a single line is its
        own visible text: nothing is deleted): one C-level deletion and one scan
        per tier answer, with no view built. A root hit there (words run
        together, or a real value) answers False.
        """
        # inline and positional throughout: this runs for every message the kernel sends
        if not self.blank_free or not text.isascii() or "\x1b" in text:
            return False
        data = text.encode("ascii")
        if "\n" in text:
            # one C pass; asking first whether a line break is padded costs more
            # (a two-character ``in`` is slow on text full of blanks)
            data = data.translate(None, _BLANKS)
        if len(data) > _CHUNK:
            return False
        found: list[int] = []
        for scan, lock in self._hs_scans:
            with lock:
                scan(data, _note_hit, 0, found)
            if found:
                return False
        if self._other_matchers:
            return not any(matcher.any_root(data) for matcher in self._other_matchers)
        return True

    def sub(self, text: str) -> str:
        if len(text) < self.min_length:
            return text  # also every text when nothing is registered
        return self.matcher.sub(text, self._replacement)

    def sub_spans(self, text: str, spans: list[Span]) -> str:
        return Matcher.replace_spans(text, spans, self._replacement)

    def sub_bytes(self, data: bytes) -> bytes:
        if self.empty or not data:
            return data
        replacement = self._replacement
        if callable(replacement):
            fn = replacement
            return self.matcher.sub_bytes(data, lambda label: fn(label).encode("utf-8"))
        return self.matcher.sub_bytes(data, replacement.encode("utf-8"))

    def hold_from(self, text: str) -> int:
        """Index where the longest suffix of ``text`` that is a proper prefix of a
        pattern starts (``len(text)`` if none): that piece must wait for the next
        write before it can be shown. With ``fragment_length`` set, prefixes up to
        that length count (a longer piece is a window, masked already); without,
        up to :data:`HOLD_DEPTH` characters."""
        size = len(text)
        if self.empty or not text or text[-1] not in self._hold_chars:
            return size
        tiers = self.matcher.tiers
        cut = min(tier.hold_from(text) for tier in tiers)
        window = self.settings.fragment_length
        last = text[-1]
        if window and any(last in tier.chars for tier in tiers):
            # a text ending inside a window could go on with more of the value:
            # hold the whole match so that its continuation is masked with it
            tail = text[-window:]
            if any(
                end == len(tail) and len(tier.matcher.patterns[index]) > window
                for tier in tiers
                for index, _, end in tier.matcher.occurrences(tail)
            ):
                spans = self.matcher.spans(text)
                if spans and spans[-1][1] == size:
                    cut = min(cut, spans[-1][0])
        return cut


_log = logging.getLogger("nbcreds.masking")
_lock = threading.RLock()
_compiled: Compiled | None = None
_compiled_generation = -1  # the settings generation _compiled was checked against
_forced_backend: Backend | None = None
_warned: set[str] = set()


def force_backend(backend: Backend | None) -> None:
    """Use ``backend`` for every later compilation (tests and the benchmark)."""
    global _forced_backend, _compiled
    with _lock:
        _forced_backend = backend
        _compiled = None


def _skipped(values: dict[str, str | None], conf: MaskingSettings) -> list[str | None]:
    return [label for value, label in values.items() if len(value) < conf.min_length]


def _build(version: int, values: dict[str, str | None], conf: MaskingSettings) -> Compiled:
    """Everything compiled from scratch, as one tier (none while nothing is registered:
    the matcher backend, Hyperscan or Aho-Corasick, is imported with the first value,
    not by ``%load_ext nbcreds``)."""
    tiers = [_build_tier(dict(values), conf)] if values else []
    return Compiled(version, conf, tiers, _skipped(values, conf))


def _update(
    previous: Compiled, version: int, values: dict[str, str | None], conf: MaskingSettings
) -> Compiled:
    """``previous`` brought to ``values``: tiers holding a removed (or relabelled)
    value are rebuilt, added values get a new tier, then tiers are merged."""
    tiers: list[Tier] = []
    seen: set[str] = set()
    for tier in previous.tiers:
        kept = {v: label for v, label in tier.values.items() if values.get(v, 0) == label}
        seen.update(kept)
        if len(kept) == len(tier.values):
            tiers.append(tier)
        elif kept:
            tiers.append(_build_tier(kept, conf))
    added = {v: label for v, label in values.items() if v not in seen}
    if added:
        tiers.append(_build_tier(added, conf))
    while len(tiers) >= 2 and (
        len(tiers) > MAX_TIERS or len(tiers[-1].values) * MERGE_RATIO >= len(tiers[-2].values)
    ):
        newer = tiers.pop()
        older = tiers.pop()
        tiers.append(_build_tier({**older.values, **newer.values}, conf))
    return Compiled(version, conf, tiers, _skipped(values, conf))


def compiled() -> Compiled:
    """The compiled state for the current registry and settings (updated if stale)."""
    global _compiled, _compiled_generation
    current = _compiled
    # fast path, taken by every message the kernel sends: two integers compared
    if (
        current is not None
        and current.version == registry.version
        and _compiled_generation == _settings.generation()
    ):
        return current
    with _lock:
        generation = _settings.generation()
        conf = _settings.current_settings()
        version, values = registry.snapshot()
        current = _compiled
        if current is None or current.settings != conf:
            current = _build(version, values, conf)
        elif current.version != version:
            current = _update(current, version, values, conf)
        _prune_cache(values, conf)
        _compiled = current
        _compiled_generation = generation
    _warn_short(values, conf.min_length)
    return current


def _warn_short(values: dict[str, str | None], min_length: int) -> None:
    """One warning per value too short to mask; it names the label, never the value.

    A log record rather than :func:`warnings.warn`: a warning turned into an
    error (``-W error``) would break the registration or the output path.
    """
    new = [v for v in values if len(v) < min_length and v not in _warned]
    for value in new:
        _warned.add(value)
        label = values.get(value)
        name = f"'{label}'" if label else "an unlabelled value"
        _log.warning(
            "nbcreds does not mask %s: it is shorter than [masking] min_length (%d), "
            "and masking it would blank unrelated text",
            name,
            min_length,
        )


def _on_registry_change() -> None:
    """Warn about a too-short value when it is registered, not at the next output."""
    values = registry.values()
    if not values:
        return
    conf = _settings.current_settings()
    if any(len(v) < conf.min_length and v not in _warned for v in values):
        _warn_short(values, conf.min_length)


registry.add_listener(_on_registry_change)


def masked(text: str) -> str:
    """``text`` with every registered value and every variant of it replaced."""
    if not isinstance(text, str):
        raise TypeError(f"masked() takes a str, not {type(text).__name__}")
    if not text:
        return str.__str__(text)
    return compiled().sub(str.__str__(text))


def masked_bytes(data: bytes) -> bytes:
    """:func:`masked` for UTF-8 bytes."""
    return compiled().sub_bytes(bytes(data))


def contains_secret(text: str | bytes) -> bool:
    """True when ``text`` contains a registered value or one of its variants."""
    state = compiled()
    return not state.empty and state.matcher.search(text)


def safe_masked(text: str) -> str:
    """:func:`masked` for egress paths: never raises; an unexpected failure
    withholds the whole text (fail closed)."""
    try:
        return compiled().sub(str.__str__(text))
    except Exception:
        return WITHHELD


def _reset_for_tests() -> None:
    global _compiled
    with _lock:
        _compiled = None
        _warned.clear()
        _forms_cache.clear()

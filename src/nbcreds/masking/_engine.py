"""The masking engine: the registry's values compiled into one matcher.

The compiled state is rebuilt lazily when :attr:`Registry.version` or the
``[masking]`` settings change, and shared by every caller (the kernel egress,
the stream hold-back, the logging filter, the CLI, the KV store). The settings
are pushed to it (:func:`nbcreds.masking.configure`, see ``_settings``).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from . import _settings
from ._matcher import Backend, Matcher, Span
from ._registry import registry
from ._settings import MaskingSettings
from ._variants import fragments, variants

__all__ = [
    "Compiled",
    "MaskingSettings",
    "compiled",
    "contains_secret",
    "force_backend",
    "masked",
    "masked_bytes",
    "safe_masked",
    "settings",
]

_NOTHING = 1 << 62  # the min_length of an empty compiled state: no text is long enough
WITHHELD = "[nbcreds: output withheld because masking failed]"


def settings() -> MaskingSettings:
    """The active ``[masking]`` settings (pushed by :func:`configure`)."""
    return _settings.current_settings()


@dataclass
class Compiled:
    """One registry version compiled: the matcher plus what the stream hold-back needs."""

    version: int
    settings: MaskingSettings
    matcher: Matcher
    #: every pattern, sorted, to find a trailing piece that could start one
    sorted_patterns: list[str] = field(default_factory=list)
    #: the first 1-3 characters of every pattern: a cheap filter before bisecting
    short_prefixes: frozenset[str] = frozenset()
    #: for each character c, the lengths L (longest first) such that some pattern
    #: longer than L has c at position L-1: the only suffix lengths worth checking
    #: for a text ending in c
    suffix_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    max_length: int = 0
    #: strings shorter than this cannot contain a pattern (huge when there is none)
    min_length: int = 0
    skipped: list[str | None] = field(default_factory=list)
    empty: bool = True

    def __post_init__(self) -> None:
        self._replacement = self.replacement()

    def replacement(self) -> str | Callable[[str | None], str]:
        """The fixed replacement, or (``label = true``) a function of the label."""
        if not self.settings.label:
            return self.settings.replacement
        default = self.settings.replacement

        def by_label(label: str | None) -> str:
            return f"[{label}]" if label else default

        return by_label

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
        write before it can be shown."""
        size = len(text)
        if self.empty or not text:
            return size
        lengths = self.suffix_lengths.get(text[-1])
        if not lengths:
            return size  # the common case: output ending in a newline
        patterns = self.sorted_patterns
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
                if len(patterns[at]) > length:
                    return index
                at += 1
        return size


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


def _build(version: int, values: dict[str, str | None], conf: MaskingSettings) -> Compiled:
    patterns: list[tuple[str, str | None]] = []
    skipped: list[str | None] = []
    for value, label in values.items():
        if len(value) < conf.min_length:
            skipped.append(label)
            continue
        patterns.extend((form, label) for form in variants(value))
        if conf.fragment_length:
            patterns.extend((form, label) for form in fragments(value, conf.fragment_length))
    matcher = Matcher(patterns, backend=_forced_backend)
    ordered = sorted(matcher.patterns)
    return Compiled(
        version=version,
        settings=conf,
        matcher=matcher,
        sorted_patterns=ordered,
        short_prefixes=frozenset(p[:k] for p in ordered for k in (1, 2, 3)),
        suffix_lengths=_suffix_lengths(ordered),
        max_length=max((len(p) for p in ordered), default=0),
        min_length=min((len(p) for p in ordered), default=_NOTHING),
        empty=not ordered,
        skipped=skipped,
    )


def _suffix_lengths(patterns: list[str]) -> dict[str, tuple[int, ...]]:
    found: dict[str, set[int]] = {}
    for pattern in patterns:
        for position, char in enumerate(pattern[:-1]):
            found.setdefault(char, set()).add(position + 1)
    return {char: tuple(sorted(lengths, reverse=True)) for char, lengths in found.items()}


def compiled() -> Compiled:
    """The compiled state for the current registry and settings (rebuilt if stale)."""
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
        if current is None or current.version != version or current.settings != conf:
            current = _build(version, values, conf)
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

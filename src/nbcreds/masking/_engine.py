"""The masking engine: the registry's values compiled into one matcher.

The compiled state is rebuilt lazily when :attr:`Registry.version` or the
``[masking]`` settings change, and shared by every caller (the kernel egress,
the stream hold-back, the logging filter, the CLI, the KV store). Settings::

    [masking]
    min_length = 6        # shorter values are not masked (one warning each)
    replacement = "****"  # never reveals the value's length
    label = false         # true: "[NAME]" instead of the replacement
    fragment_length = 0   # > 0 (at least 8): also mask every slice this long
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import NbcredsError
from ._matcher import Backend, Matcher, Span
from ._registry import registry
from ._variants import FRAGMENT_MIN_LENGTH, fragments, variants

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

DEFAULT_MIN_LENGTH = 6
_NOTHING = 1 << 62  # the min_length of an empty compiled state: no text is long enough
DEFAULT_REPLACEMENT = "****"
WITHHELD = "[nbcreds: output withheld because masking failed]"


@dataclass(frozen=True)
class MaskingSettings:
    """The ``[masking]`` table, validated."""

    min_length: int = DEFAULT_MIN_LENGTH
    replacement: str = DEFAULT_REPLACEMENT
    label: bool = False
    fragment_length: int = 0


def settings() -> MaskingSettings:
    """Read and validate ``[masking]`` from the active config (ConfigError if invalid)."""
    from .. import _context

    config = _context.get_config()
    cached = _settings_cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    table = config.table("masking")
    known = {"min_length", "replacement", "label", "fragment_length"}
    unknown = set(table) - known
    if unknown:
        raise config.error(
            f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}",
            "masking",
        )
    min_length = table.get("min_length", DEFAULT_MIN_LENGTH)
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise config.error("must be a positive integer (default 6)", "masking", "min_length")
    replacement = table.get("replacement", DEFAULT_REPLACEMENT)
    if not isinstance(replacement, str) or not replacement:
        raise config.error('must be a non-empty string (default "****")', "masking", "replacement")
    label = table.get("label", False)
    if not isinstance(label, bool):
        raise config.error("must be true or false", "masking", "label")
    fragment_length = table.get("fragment_length", 0)
    if (
        isinstance(fragment_length, bool)
        or not isinstance(fragment_length, int)
        or (fragment_length != 0 and fragment_length < FRAGMENT_MIN_LENGTH)
    ):
        raise config.error(
            f"must be 0 (off) or an integer of at least {FRAGMENT_MIN_LENGTH}",
            "masking",
            "fragment_length",
        )
    result = MaskingSettings(min_length, replacement, label, fragment_length)
    _settings_cache.clear()
    _settings_cache[id(config)] = (config, result)
    return result


_settings_cache: dict[int, tuple[Any, MaskingSettings]] = {}


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
_compiled_config: Any = None  # the Config object _compiled was built for
_compiled_valid = False  # whether its [masking] table was valid
_forced_backend: Backend | None = None
_warned: set[str] = set()


def force_backend(backend: Backend | None) -> None:
    """Use ``backend`` for every later compilation (tests and the benchmark)."""
    global _forced_backend, _compiled, _compiled_config
    with _lock:
        _forced_backend = backend
        _compiled = None
        _compiled_config = None


def _settings_or_default() -> MaskingSettings:
    try:
        return settings()
    except NbcredsError:
        # an invalid nbcreds.toml must not switch masking off: mask with defaults
        return MaskingSettings()


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


def compiled(strict: bool = False) -> Compiled:
    """The compiled state for the current registry and settings (rebuilt if stale).

    ``strict=True`` raises :class:`ConfigError` for an invalid ``[masking]``
    table instead of falling back to the defaults.
    """
    global _compiled, _compiled_config, _compiled_valid
    current = _compiled
    # fast path, taken by every message the kernel sends: same config object
    # (read without its lock), same registry version
    if (
        current is not None
        and _compiled_config is not None
        and getattr(_context_module(), "_config", None) is _compiled_config
        and current.version == registry.version
        and (_compiled_valid or not strict)
    ):
        return current
    from .. import _context

    config = _context.get_config()
    try:
        conf, valid = settings(), True
    except NbcredsError:
        if strict:
            raise
        conf, valid = MaskingSettings(), False  # an invalid file must not switch masking off
    with _lock:
        version, values = registry.snapshot()
        current = _compiled
        if current is None or current.version != version or current.settings != conf:
            current = _build(version, values, conf)
            _compiled = current
        _compiled_config, _compiled_valid = config, valid
    _warn_short(values, conf.min_length)
    return current


def _context_module() -> Any:
    global _context_cache
    if _context_cache is None:
        from .. import _context

        _context_cache = _context
    return _context_cache


_context_cache: Any = None


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
    conf = _settings_or_default()
    if any(len(v) < conf.min_length and v not in _warned for v in values):
        _warn_short(values, conf.min_length)


registry.add_listener(_on_registry_change)


def masked(text: str) -> str:
    """``text`` with every registered value and every variant of it replaced.

    Raises :class:`ConfigError` if the ``[masking]`` table is invalid.
    """
    if not isinstance(text, str):
        raise TypeError(f"masked() takes a str, not {type(text).__name__}")
    if not text:
        return str.__str__(text)
    return compiled(strict=True).sub(str.__str__(text))


def masked_bytes(data: bytes) -> bytes:
    """:func:`masked` for UTF-8 bytes."""
    return compiled(strict=True).sub_bytes(bytes(data))


def contains_secret(text: str | bytes) -> bool:
    """True when ``text`` contains a registered value or one of its variants."""
    state = compiled(strict=True)
    return not state.empty and state.matcher.search(text)


def safe_masked(text: str) -> str:
    """:func:`masked` for egress paths: never raises. An invalid config masks with
    the defaults; an unexpected failure withholds the whole text (fail closed)."""
    try:
        return compiled().sub(str.__str__(text))
    except Exception:
        return WITHHELD


def _reset_for_tests() -> None:
    global _compiled, _compiled_config
    with _lock:
        _compiled = None
        _compiled_config = None
        _warned.clear()
        _settings_cache.clear()

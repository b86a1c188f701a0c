"""The masking settings: pushed to the engine, never read from a config file here.

Masking is the bottom layer: it imports nothing from the config, the sources or
the session. Whoever loads ``nbcreds.toml`` validates its ``[masking]`` table
with :meth:`MaskingSettings.from_table` and pushes the result with
:func:`configure`; until then the defaults apply. Settings::

    [masking]
    min_length = 6                      # shorter values are not masked (one warning each)
    replacement = "****"                # never reveals the value's length
    label = false                       # true: "[NAME]" instead of the replacement
    fragment_length = 16                # every slice this long is masked too; 0 = off
    case_insensitive_min_length = 16    # values this long match in any ASCII case; 0 = off
    json_leaves = true                  # a JSON-valued secret also masks its string leaves
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields

from .._exceptions import MaskingSettingError

__all__ = [
    "FRAGMENT_MIN_LENGTH",
    "MaskingSettingError",
    "MaskingSettings",
    "configure",
    "current_settings",
    "generation",
]

#: The shortest fragment length ``[masking] fragment_length`` accepts.
FRAGMENT_MIN_LENGTH = 8


@dataclass(frozen=True)
class MaskingSettings:
    """The ``[masking]`` table, validated (every field has its default)."""

    #: values shorter than this are not masked (one warning each, naming the label)
    min_length: int = 6
    #: what a masked span becomes (never reveals the value's length)
    replacement: str = "****"
    #: ``True``: a labelled value is replaced by ``[LABEL]``
    label: bool = False
    #: every slice of this many characters of a value (and of its encoded forms) is
    #: masked; values not longer than this are matched whole; 0 = whole values only
    fragment_length: int = 16
    #: values at least this long are matched in any ASCII letter case (``.upper()``,
    #: ``.lower()``, upper-case hex); 0 = exact case only
    case_insensitive_min_length: int = 16
    #: a value that parses as a JSON object or array also masks each of its string
    #: leaves of ``min_length`` or more (a service-account key, ``{"password": ...}``)
    json_leaves: bool = True

    def __post_init__(self) -> None:
        _check_int(self.min_length, "min_length", 1, "a positive integer (default 6)")
        if not isinstance(self.replacement, str) or not self.replacement:
            raise MaskingSettingError("replacement", 'must be a non-empty string (default "****")')
        _check_bool(self.label, "label")
        _check_int(
            self.fragment_length,
            "fragment_length",
            0,
            f"0 (off) or an integer of at least {FRAGMENT_MIN_LENGTH} (default 16)",
        )
        if 0 < self.fragment_length < FRAGMENT_MIN_LENGTH:
            raise MaskingSettingError(
                "fragment_length",
                f"must be 0 (off) or an integer of at least {FRAGMENT_MIN_LENGTH} (default 16)",
            )
        _check_int(
            self.case_insensitive_min_length,
            "case_insensitive_min_length",
            0,
            "0 (off) or a positive integer (default 16)",
        )
        _check_bool(self.json_leaves, "json_leaves")

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> MaskingSettings:
        """Validate a ``[masking]`` TOML table strictly.

        Unknown keys (with a "did you mean"), wrong types and bad values raise
        :class:`MaskingSettingError`; nothing is coerced (``label = "yes"`` is
        refused, not read as true).
        """
        known = [f.name for f in fields(cls)]
        for key in table:
            if key not in known:
                import difflib  # only for the error: slow to import

                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise MaskingSettingError(
                    str(key), f"unknown setting{hint} (known: {', '.join(sorted(known))})"
                )
        return cls(**{str(k): v for k, v in table.items()})  # type: ignore[arg-type]


def _check_int(value: object, key: str, minimum: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MaskingSettingError(key, f"must be {what}")


def _check_bool(value: object, key: str) -> None:
    if not isinstance(value, bool):
        raise MaskingSettingError(key, "must be true or false")


_lock = threading.Lock()
_current = MaskingSettings()
_generation = 0


def configure(settings: MaskingSettings) -> None:
    """Make ``settings`` the active ones; the next mask recompiles if they changed."""
    global _current, _generation
    if not isinstance(settings, MaskingSettings):
        raise TypeError("configure() takes a MaskingSettings")
    with _lock:
        if settings != _current:
            _current = settings
            _generation += 1


def current_settings() -> MaskingSettings:
    """The active settings (the defaults until someone calls :func:`configure`)."""
    return _current


def generation() -> int:
    """A counter :func:`configure` bumps whenever the settings change."""
    return _generation

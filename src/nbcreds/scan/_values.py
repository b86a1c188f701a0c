"""Configured values: the secrets (and, on request, credential tokens) the config
can resolve, and a matcher for every encoded form of them.

The values come from the facade (``list_secrets`` / ``secret`` at every level
the config knows), so whatever a notebook could have printed is what the scan
looks for. Every value resolved this way is registered with the masking
registry by the facade itself; the registry is therefore the complete list,
including every field of a multi-field secret.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from .._exceptions import NbcredsError, ScanError

__all__ = ["ConfiguredValue", "ValueMatcher", "collect_configured_values"]

#: Values shorter than this are not looked for unless the config says otherwise
#: (``[masking] min_length``): a 3-character value matches everywhere.
DEFAULT_MIN_LENGTH = 6
_B64_FORM = re.compile(r"[A-Za-z0-9+/_=-]+")


@dataclass(frozen=True)
class ConfiguredValue:
    """A value to look for and the name it is reported under (never the value)."""

    value: str
    label: str

    def __repr__(self) -> str:  # the dataclass repr would show the value
        return f"ConfiguredValue(label={self.label!r})"


def _masking() -> tuple[Any, Any]:
    """The masking engine's ``variants`` and ``Matcher`` (imported on first use)."""
    try:
        from ..masking import Matcher, variants
    except ImportError as exc:
        raise ScanError(
            "the masking engine (nbcreds.masking variants / Matcher) is not available, so "
            "configured values cannot be looked for; reinstall nbcreds or scan with --no-config"
        ) from exc
    return variants, Matcher


def _encoding_of(form: str, value: str) -> str:
    """A human name for how ``form`` encodes ``value`` (for reports)."""
    if form == value:
        return "raw"
    if form in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        return "JSON-escaped"
    if form in (quote(value), quote(value, safe=""), quote_plus(value)):
        return "URL-encoded"
    if form in (html.escape(value), html.escape(value, quote=False)):
        return "HTML-escaped"
    if form in value:
        return "line"
    if _B64_FORM.fullmatch(form):
        return "base64"
    return "escaped"


class ValueMatcher:
    """Every variant of every configured value, in one multi-pattern matcher."""

    def __init__(self, values: Sequence[ConfiguredValue], backend: str | None = None) -> None:
        variants, matcher_cls = _masking()
        patterns: list[tuple[str, str]] = []
        for item in values:
            for form in variants(item.value):
                patterns.append((form, f"{item.label}\x1f{_encoding_of(form, item.value)}"))
        self._matcher = matcher_cls(patterns, backend=backend) if patterns else None
        self.count = len(values)

    def find(self, text: str) -> list[tuple[int, int, str, str]]:
        """``(start, end, secret name, encoding)`` for each occurrence."""
        if self._matcher is None or not text:
            return []
        out = []
        for start, end, label in self._matcher.spans(text):
            name, _, encoding = (label or "\x1f").partition("\x1f")
            out.append((start, end, name, encoding))
        return out


@contextmanager
def _at_level(level: str | None) -> Iterator[None]:
    """Make ``level`` current while resolving, so the tenant level can be asked for
    even when the config names a default namespace."""
    from .._session import session

    state = session()
    saved = state.selection()
    state.use_namespace(level)
    try:
        yield
    finally:
        state.restore_selection(saved)


def collect_configured_values(
    *,
    names: Iterable[str] = (),
    namespaces_: Iterable[str] = (),
    env_vars: Iterable[str] = (),
    mint: bool = False,
    resolve_config: bool = True,
    stderr: TextIO | None = None,
) -> list[ConfiguredValue]:
    """Resolve the secrets visible at the tenant level and in every namespace of the
    config (plus ``namespaces_``); with ``names`` only those secrets.

    A secret that fails to resolve is skipped with a note on ``stderr`` naming
    it (never its value). ``env_vars`` adds the value of each variable;
    ``mint`` also fetches the token of every credential (needs the network).
    With ``resolve_config`` false only ``env_vars`` are looked for.
    """
    import nbcreds

    from .._session import session
    from ..masking import registry

    err = stderr if stderr is not None else sys.stderr
    config = session().config
    levels: list[str | None] = [None, *config.namespaces()]
    for ns in namespaces_:
        if ns not in levels:
            levels.append(ns)
    wanted = {n.upper() for n in names}

    def note(message: str) -> None:
        print(f"nbcreds: {message}", file=err)

    attempted: set[str] = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for level in levels if resolve_config else []:
            where = "tenant" if level is None else level
            with _at_level(level):
                try:
                    listed = nbcreds.list_secrets(level)
                except NbcredsError as exc:
                    note(f"cannot list the secrets of {where}: {exc}")
                    continue
                for listing in listed:
                    if wanted and listing.name.upper() not in wanted:
                        continue
                    attempted.add(listing.name.upper())
                    try:
                        nbcreds.secret(listing.name, namespace=level)
                    except NbcredsError as exc:
                        if not any(lbl == listing.name for lbl in registry.values().values()):
                            note(f"skipping secret {listing.name} ({where}): {exc}")
            if mint:
                attempted.update(_mint(level, where, note))
    for warning in caught:
        note(str(warning.message))
    for var in env_vars:
        value = os.environ.get(var)
        if value:
            registry.register(value, var)
            attempted.add(var.upper())
        else:
            note(f"--value-from-env {var}: the variable is unset or empty; skipped")
    # the registry holds every field of a multi-field secret under the secret's name
    found = [
        ConfiguredValue(v, lbl)
        for v, lbl in registry.values().items()
        if lbl is not None and lbl.upper() in attempted
    ]
    if wanted:
        missing = wanted - {v.label.upper() for v in found}
        for name in sorted(missing):
            note(f"--secret {name}: no such secret could be resolved")
    min_length = config.table("masking").get("min_length", DEFAULT_MIN_LENGTH)
    if not isinstance(min_length, int):
        min_length = DEFAULT_MIN_LENGTH
    kept = []
    for item in found:
        if len(item.value) < min_length:
            note(
                f"not looking for {item.label}: its value is shorter than {min_length} "
                "characters ([masking] min_length)"
            )
        else:
            kept.append(item)
    return kept


def _mint(level: str | None, where: str, note: Any) -> list[str]:
    """Fetch every credential's token at ``level`` so that it is looked for too."""
    try:
        from .. import credentials
    except ImportError:
        note("--mint: credentials are not available in this installation; skipped")
        return []
    list_credentials = getattr(credentials, "list_credentials", None)
    credential = getattr(credentials, "credential", None)
    if list_credentials is None or credential is None:
        note("--mint: credentials are not available in this installation; skipped")
        return []
    try:
        listed = list_credentials(level)
    except NbcredsError as exc:
        note(f"--mint: cannot list the credentials of {where}: {exc}")
        return []
    names = []
    for item in listed:
        name = str(getattr(item, "name", item))
        try:
            credential(name, namespace=level)
        except NbcredsError as exc:
            note(f"--mint: skipping credential {name} ({where}): {exc}")
        else:
            names.append(name.upper())
    return names

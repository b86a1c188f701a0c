"""Find a secret, or any of its usual encodings, in text or bytes.

Deliberately independent of the masking engine: tests use it to check the
engine's work, so it must not share its code.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = [
    "assert_no_leak",
    "assert_no_leak_in_exception",
    "encodings",
    "exception_graph_texts",
    "find_leaks",
]


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


def exception_graph_texts(exc: BaseException, *, limit: int = 50_000) -> list[str]:
    """``repr`` and ``str`` of everything reachable from ``exc``: its args, its
    attributes (``__dict__`` and slots) and theirs, recursively, the items of mappings
    and sequences, ``__cause__`` and ``__context__`` -- what ``%debug``, ``%tb`` or an
    error reporter could show. Cycle-safe; at most ``limit`` objects."""
    texts: list[str] = []
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, bool | int | float):
            continue
        seen.add(id(obj))
        for show in (repr, str):
            try:
                texts.append(show(obj))
            except Exception as error:  # a broken __repr__ is not a leak
                texts.append(f"<{show.__name__} failed: {type(error).__name__}>")
        if isinstance(obj, str | bytes | bytearray):
            if isinstance(obj, bytes | bytearray):
                texts.append(bytes(obj).decode("utf-8", "replace"))
            else:
                texts.append(str.__str__(obj))
            continue
        if isinstance(obj, BaseException):
            stack.extend((obj.args, obj.__cause__, obj.__context__))
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            with contextlib.suppress(TypeError):
                stack.extend(vars(obj).values())
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()) or ():
                if isinstance(slot, str):
                    with contextlib.suppress(AttributeError):
                        stack.append(getattr(obj, slot))
    return texts


def assert_no_leak_in_exception(exc: BaseException, values: Iterable[str]) -> None:
    """Fail (without printing any value) when a value or an encoding of it is reachable
    from ``exc`` (see :func:`exception_graph_texts`)."""
    wanted = list(values)
    for text in exception_graph_texts(exc):
        leaks = find_leaks(text, wanted)
        if leaks:
            raise AssertionError(f"secret material reachable from the exception: {leaks}")

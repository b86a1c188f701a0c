"""Tab completion for the magics: subcommands, options, namespaces, secret /
credential names and KV keys.

One IPython matcher (Matcher API v2) handles every ``%namespace`` /
``%secret`` / ``%credential`` / ``%kv`` line and the first line of a
``%%http`` cell. Names come from the facade; a failure there (no KV database
yet, Vault down) yields no completions rather than an error under the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MAGIC_SUBCOMMANDS", "candidates", "make_matcher"]

MAGIC_SUBCOMMANDS: dict[str, list[str]] = {
    "namespace": [],
    "secret": ["list", "get", "bind", "lease"],
    "credential": ["list", "get", "test", "info", "invalidate"],
    "kv": ["get", "set", "delete", "list"],
    "http": [],
}
_OPTIONS: dict[str, list[str]] = {
    "namespace": ["--list", "--tenant"],
    "secret": [
        *["--as", "--field", "--from", "--env", "--vault", "--prompt", "--store"],
        *["--namespace", "-n"],
    ],
    "credential": ["--as", "--namespace", "-n"],
    "kv": [
        "--type",
        "--ttl",
        "--no-overwrite",
        "--description",
        "--inherit",
        "--default",
        "--namespace",
        "-n",
    ],
    "http": ["--auth", "--as", "--timeout", "--no-follow", "--namespace", "-n"],
}
# Options whose value is free text: nothing to complete after them.
_FREE_VALUE = {
    "--as",
    "--field",
    "--env",
    "--vault",
    "--type",
    "--ttl",
    "--description",
    "--timeout",
    "--default",
}


def _reference_schemes() -> list[str]:
    """``env:``, ``vault:``, ``secret:``... : the schemes of the installed sources."""
    import nbcreds as nc

    return _safe(lambda: [f"{scheme}:" for scheme in nc.plugins.reference_schemes()])


def _safe(fetch: Callable[[], Sequence[str]]) -> list[str]:
    try:
        return list(fetch())
    except Exception:  # completion must never raise under the cursor
        return []


def _namespaces() -> list[str]:
    import nbcreds as nc

    return _safe(nc.list_namespaces)


def _secret_names(ns: str | None) -> list[str]:
    import nbcreds as nc

    return _safe(lambda: [row.name for row in nc.list_secrets(ns)])


def _credential_names(ns: str | None) -> list[str]:
    import nbcreds as nc

    return _safe(lambda: [row.name for row in nc.list_credentials(ns)])


def _kv_keys(ns: str | None, prefix: str) -> list[str]:
    import nbcreds as nc

    return _safe(lambda: list(nc.kv_keys(prefix or None, namespace=ns)))


def candidates(magic: str, before: str) -> list[str]:
    """Completions for the word being typed at the end of ``before`` (the magic's
    line up to the cursor, without the ``%name``)."""
    words = before.split()
    current = "" if not before or before[-1].isspace() else words.pop()
    prev = words[-1] if words else ""
    ns: str | None = None
    for i, word in enumerate(words[:-1]):
        if word in ("-n", "--namespace"):
            ns = words[i + 1]
    if prev in ("-n", "--namespace"):
        found = _namespaces()
    elif prev == "--auth":
        found = _credential_names(ns)
    elif prev == "--type" and magic == "kv":
        from ..kvstore import KVType  # the one list of KV types (imported on completion)

        found = [t.value for t in KVType]
    elif prev == "--from":
        scheme, colon, _ = current.partition(":")
        if colon and scheme == "secret":
            found = [f"secret:{name}" for name in _secret_names(ns)]
        else:
            found = _reference_schemes()
    elif prev in _FREE_VALUE:
        found = []
    elif current.startswith("-"):
        found = _OPTIONS.get(magic, [])
    else:
        positional = _positional(words)
        found = _positional_candidates(magic, positional, ns, current)
    return sorted({c for c in found if c.startswith(current)}) or sorted(
        {c for c in found if c.lower().startswith(current.lower())}
    )


def _positional(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _FREE_VALUE or word in ("-n", "--namespace", "--auth", "--from")
            continue
        out.append(word)
    return out


def _positional_candidates(
    magic: str, positional: list[str], ns: str | None, current: str
) -> list[str]:
    subs = MAGIC_SUBCOMMANDS.get(magic, [])
    if magic == "namespace":
        return _namespaces() if not positional else []
    if magic == "secret":
        if not positional:
            return subs + _secret_names(ns)
        if positional[0] in ("get", "bind") and len(positional) == 1:
            return _secret_names(ns)
        return []
    if magic == "credential":
        if not positional:
            return subs + _credential_names(ns)
        if positional[0] in ("get", "test", "info", "invalidate") and len(positional) == 1:
            return _credential_names(ns)
        return []
    if magic == "kv":
        if not positional:
            return subs
        if positional[0] in ("get", "set", "delete", "list") and len(positional) == 1:
            return _kv_keys(ns, current)
        return []
    return []


def make_matcher() -> Callable[[Any], Any]:
    """The IPython matcher (API v2) for our magics' lines."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher()  # type: ignore[untyped-decorator]
    def nbcreds_matcher(context: Any) -> dict[str, Any]:
        before: str = context.text_until_cursor
        stripped = before.lstrip()
        magic = None
        for name in MAGIC_SUBCOMMANDS:
            for prefix in (f"%%{name}", f"%{name}"):
                if stripped.startswith(prefix + " ") or stripped == prefix + " ":
                    magic = name
                    rest = stripped[len(prefix) :]
                    break
            if magic:
                break
        if magic is None or (magic == "http" and not stripped.startswith("%%http")):
            return {"completions": [], "suppress": False}
        if magic == "http" and context.cursor_line != 0:
            return {"completions": [], "suppress": False}
        found = candidates(magic, rest)
        # our line: other matchers (Python names, file paths) would only be noise
        return {
            "completions": [SimpleCompletion(text=c, type="nbcreds") for c in found],
            "suppress": True,
        }

    return nbcreds_matcher  # type: ignore[no-any-return]

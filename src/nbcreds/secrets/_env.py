"""Environment variables: Kestra's ``SECRET_<NAME>`` (base64) convention."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import warnings

from ..plugins import Reference
from ._base import SecretData, SecretSource, SourceHealth

__all__ = ["EnvSource", "read_env_reference"]

log = logging.getLogger("nbcreds.secrets")


class EnvSource(SecretSource):
    """Secrets from ``SECRET_<NAME>`` variables holding the value's base64.

    Names are upper-cased and lookup is case-insensitive; a trailing newline of
    the decoded value is stripped (``echo pass | base64`` adds one). Line breaks
    and spaces inside the base64 are ignored (the ``base64`` tool wraps at 76
    columns, PEM-style tools at 64). A variable that is not valid base64 is
    skipped with a warning that names the variable, never its content. An empty
    variable is an empty secret, with a warning naming the variable (it is
    usually a mistake: ``export SECRET_X=$(cat missing-file | base64)``). These
    are tenant-level secrets, as in Kestra.
    With ``raw = true`` the values are taken as they are (Kestra #17844).
    """

    name = "env"

    def __init__(self, prefix: str = "SECRET_", raw: bool = False) -> None:
        self.prefix = prefix.upper()
        self.raw = raw
        self._warned: set[str] = set()

    def _variables(self) -> dict[str, str]:
        return {k: k for k in os.environ if k.upper().startswith(self.prefix)}

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        if namespace is not None:
            return None
        wanted = (self.prefix + name).upper()
        var = next((k for k in os.environ if k.upper() == wanted), None)
        if var is None:
            return None
        raw = os.environ[var]
        if not raw.strip():
            self._warn_once(
                var,
                f"nbcreds: environment variable {var!r} is empty, so secret {name!r} is the "
                "empty string; unset the variable to look the secret up elsewhere",
            )
            return raw if self.raw else ""
        if self.raw:
            return raw
        try:
            # the base64 tool wraps its output at 76 columns: drop all whitespace
            compact = "".join(raw.split())
            decoded = base64.b64decode(compact, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            self._warn_once(
                var,
                f"nbcreds: environment variable {var!r} is not valid base64 and is skipped; "
                f"store base64 of the value (e.g. `echo -n ... | base64`) or set "
                f"[sources.env] raw = true",
            )
            return None
        return decoded.removesuffix("\n").removesuffix("\r")

    def read_reference(self, ref: Reference) -> SecretData | None:
        """``env:VAR``: the raw value of ``VAR`` (None when unset)."""
        return read_env_reference(ref.target)

    def _warn_once(self, var: str, message: str) -> None:
        if var in self._warned:
            return
        self._warned.add(var)
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=5)

    def names(self, namespace: str | None) -> list[str]:
        if namespace is not None:
            return []
        n = len(self.prefix)
        return sorted(
            {k[n:].upper() for k in os.environ if k.upper().startswith(self.prefix) and len(k) > n}
        )

    def health(self) -> SourceHealth:
        """Always usable: reports how many ``PREFIX*`` variables are set (names only)."""
        count = len(self.names(None))
        mode = "raw values" if self.raw else "base64 values"
        return SourceHealth(
            ok=True, detail=f"{count} {self.prefix}* variable(s) set ({mode}, tenant level)"
        )


def read_env_reference(var: str) -> str | None:
    """An explicit ``env:VAR`` reference: the raw value of ``VAR`` (None when unset)."""
    return os.environ.get(var)

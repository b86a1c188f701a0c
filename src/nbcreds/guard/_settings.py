"""The ``[guard]`` table of ``nbcreds.toml``: what the save guard does.

::

    [guard]
    mode = "scrub"      # "scrub" (default) | "warn" | "block" | "off"
    resolve = false     # true: the server also resolves the configured secrets

Checked strictly here: an unknown key or a bad value is a :class:`ConfigError`
naming the file, the table and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._exceptions import ConfigError

__all__ = ["MODES", "GuardSettings", "parse_guard"]

MODES = ("scrub", "warn", "block", "off")


@dataclass(frozen=True)
class GuardSettings:
    """``mode`` and ``resolve`` of the ``[guard]`` table (defaults when absent)."""

    mode: str = "scrub"
    resolve: bool = False


def parse_guard(table: Any, where: str) -> GuardSettings:
    """Validate a ``[guard]`` table read from the file ``where`` (the schema is
    ``nbcreds.config.GUARD_SETTINGS``, which ``load_config`` checks too)."""
    from .. import plugins
    from ..config import GUARD_SETTINGS

    if table is None:
        return GuardSettings()
    if not isinstance(table, dict):
        raise ConfigError("must be a table", path=where, table="", key="guard")
    problem = plugins.check_settings(table, GUARD_SETTINGS)
    if problem is not None:
        key, message = problem
        raise ConfigError(message, path=where, table="guard", key=key)
    return GuardSettings(mode=table.get("mode", "scrub"), resolve=table.get("resolve", False))

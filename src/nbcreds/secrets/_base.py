"""The interface every secret source implements (keyring-style).

Defined in :mod:`nbcreds._plugin_api` and offered to plugins as ``nbcreds.plugins``.
"""

from __future__ import annotations

from .._plugin_api import SecretData, SecretSource, SourceHealth

__all__ = ["SecretData", "SecretSource", "SourceHealth"]

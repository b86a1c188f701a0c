"""HashiCorp Vault / OpenBao, through hvac.

- :mod:`._settings`: the ``[sources.vault]`` table, parsed and checked (:class:`VaultSettings`)
- :mod:`._client`: the hvac client, login methods (token, AppRole, userpass, JWT), TLS
- :mod:`._errors`: one table from a failed request to our typed error, never the token
- :mod:`._source`: :class:`VaultSource`, the KV engine as a secret source

This package is imported only when a Vault is configured, and imports hvac only
when a client is built, so that ``import nbcreds`` never pays for it.
"""

from __future__ import annotations

from ._client import VaultClient
from ._settings import AUTH_METHODS, VaultSettings, parse_settings
from ._source import VaultSource

__all__ = ["AUTH_METHODS", "VaultClient", "VaultSettings", "VaultSource", "parse_settings"]

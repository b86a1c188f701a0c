"""HashiCorp Vault / OpenBao, through hvac.

- :mod:`._settings`: the ``[sources.vault]`` table, parsed and checked (:class:`VaultSettings`)
- :mod:`._client`: the hvac client, login methods (token, AppRole, userpass, JWT), TLS
- :mod:`._errors`: one table from a failed request to our typed error, never the token
- :mod:`._source`: :class:`VaultSource`, the KV engine as a secret source

This package is imported only when a Vault is configured, and imports hvac only
when a client is built, so that ``import nbcreds`` never pays for it.
"""

from __future__ import annotations

from ...plugins import SourceContext, SourceType
from ._client import VaultClient
from ._settings import AUTH_METHODS, SETTINGS, VaultSettings, check_vault, parse_settings
from ._source import VaultSource

__all__ = [
    "AUTH_METHODS",
    "SOURCE",
    "VaultClient",
    "VaultSettings",
    "VaultSource",
    "parse_settings",
]


def _build(ctx: SourceContext) -> VaultSource:
    # from_config reads the table as written (it tells a default from a setting)
    return VaultSource.from_config(ctx.config.table("sources", "vault"), ctx.config)


#: The source type, registered through the entry point ``vault`` (its one schema is
#: :data:`._settings.SETTINGS`, which parse_settings checks too)
SOURCE = SourceType(
    name="vault",
    build=_build,
    position=50,
    schemes=("vault",),
    reference_forms={"vault": "vault:path#field"},
    reference_labels={"vault": "Vault path"},
    needs_config=True,
    check=check_vault,
    settings=SETTINGS,
    description="HashiCorp Vault / OpenBao (KV v2 or v1; token, AppRole, userpass, JWT)",
)

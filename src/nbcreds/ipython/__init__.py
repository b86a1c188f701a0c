"""The IPython / Jupyter surface: ``%load_ext nbcreds``.

Loading installs output masking first (so nothing printed afterwards can leak),
then registers the magics and their hooks. Unloading undoes both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from ..masking import _egress

    _egress.install(ipython)
    from . import _magics

    _magics.register(ipython)
    from .. import comm

    comm.register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    import nbcreds

    nbcreds.revoke_leases()  # every lease this kernel took ends with the extension
    from .. import comm

    comm.unregister(ipython)
    from . import _magics

    _magics.unregister(ipython)
    from ..masking import _egress

    _egress.uninstall(ipython)

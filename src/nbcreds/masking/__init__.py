"""Masking: the registry of sensitive values and the engine that hides them.

``nbcreds.masking.registry`` is the one per-process registry, and
:func:`configure` takes the ``[masking]`` settings (validated by
:meth:`MaskingSettings.from_table`) from whoever loads the config: masking reads
no config itself. Everything else
-- :func:`variants`, the :class:`Matcher` (Hyperscan / Aho-Corasick),
:func:`masked` / :func:`contains_secret`, the stream hold-back and the kernel
egress hooks -- lives in private modules imported on first use, so that
``import nbcreds`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._registry import Registry, mask, register, registry, unmask, values
from ._settings import MaskingSettingError, MaskingSettings, configure, current_settings

if TYPE_CHECKING:
    from ._engine import contains_secret, masked, masked_bytes
    from ._matcher import Matcher, available_backends
    from ._variants import variants

__all__ = [
    "MaskingSettingError",
    "MaskingSettings",
    "Matcher",
    "Registry",
    "available_backends",
    "configure",
    "contains_secret",
    "current_settings",
    "mask",
    "masked",
    "masked_bytes",
    "register",
    "registry",
    "unmask",
    "values",
    "variants",
]

_LAZY = {
    "contains_secret": "._engine",
    "masked": "._engine",
    "masked_bytes": "._engine",
    "Matcher": "._matcher",
    "available_backends": "._matcher",
    "variants": "._variants",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbcreds.masking' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

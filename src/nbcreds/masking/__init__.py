"""Masking: the registry of sensitive values and the engine that hides them.

``nbcreds.masking.registry`` is the one per-process registry. The matcher
(variants, Hyperscan / Aho-Corasick), the stream masker and the kernel egress
hooks live in private modules of this package and are imported lazily.
"""

from __future__ import annotations

from ._registry import Registry, register, registry, values

__all__ = ["Registry", "register", "registry", "values"]

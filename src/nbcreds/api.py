"""The public facade's own functions: namespaces, secrets, config, masking.

Credentials and the KV store are exposed lazily by ``nbcreds/__init__.py``
from :mod:`nbcreds.credentials` and :mod:`nbcreds.kvstore`.
"""

from __future__ import annotations

from pathlib import Path

from . import _context
from ._exceptions import SecretError
from .config import Config, parse_reference
from .masking import registry
from .namespaces import display, lookup_chain
from .namespaces import resolve as resolve_namespace
from .secrets._base import SecretData
from .secrets._resolver import resolve_reference, select_field

__all__ = ["bind_secret", "list_namespaces", "load_config", "mask", "unmask"]


def load_config(path: str | Path | None = None) -> Config:
    """(Re)load ``nbcreds.toml`` from ``path``, or find it again. Session secrets are kept."""
    return _context.load(path)


def list_namespaces() -> list[str]:
    """Namespaces known from the config and the current selection (sorted)."""
    from .namespaces import current_namespace

    names = set(_context.get_config().namespaces())
    current = current_namespace()
    if current is not None:
        names.update(n for n in lookup_chain(current) if n is not None)
    for name in list(names):
        names.update(n for n in lookup_chain(name) if n is not None)
    return sorted(names)


def bind_secret(
    name: str,
    value: str | None = None,
    *,
    env: str | None = None,
    vault: str | None = None,
    prompt: bool = False,
    namespace: str | None = None,
    tenant: bool = False,
) -> str:
    """Bind secret ``name`` in the session, at ``namespace`` (default: current).

    Exactly one of: ``value`` (kept in memory only), ``env="VAR"`` (read the
    variable at each lookup), ``vault="path#field"``, ``prompt=True``
    (``getpass``). ``tenant=True`` binds at the tenant level whatever the
    current namespace. Returns a description of the binding (never the value).
    """
    chosen = [value is not None, env is not None, vault is not None, prompt]
    if sum(chosen) != 1:
        raise SecretError("bind_secret needs exactly one of value, env=, vault= or prompt=True.")
    if tenant and namespace is not None:
        raise SecretError("bind_secret: give either namespace= or tenant=True, not both.")
    ns = None if tenant else resolve_namespace(namespace)
    session = _context.session_source()
    if prompt:
        import getpass

        value = getpass.getpass(f"Value of secret {name} ({display(ns)}): ")
        if not value:
            raise SecretError(f"No value entered for secret '{name}': nothing was bound.")
    if value is not None:
        registry.register(value, name)
        session.set(ns, name, value)
        return f"{name} bound in the session at {display(ns)} (memory only)"
    ref_text = f"env:{env}" if env is not None else f"vault:{vault}"
    ref = parse_reference(ref_text)

    def resolve() -> SecretData | None:
        data = resolve_reference(ref, ns)
        if data is None or ref.field is None:
            return data
        return select_field(data, ref.field, name)

    session.bind(ns, name, resolve, origin=ref.scheme)
    return f"{name} bound to {ref} at {display(ns)}"


def mask(value: str, label: str | None = None) -> str:
    """Register ``value`` so that it never leaves the kernel in clear. Returns it."""
    registry.register(value, label)
    return value


def unmask(value: str) -> bool:
    """Stop masking ``value``; True if it was registered."""
    return registry.unregister(value)

"""Resolve a secret name through the namespace hierarchy and the sources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from .._exceptions import ConfigError, SecretError, SecretNotFound
from .._session import resolve_namespace, session
from ..config import Reference, parse_reference
from ..masking import registry
from ..namespaces import display, lookup_chain
from ..values import Secret
from ._base import SecretData

T = TypeVar("T", bound=SecretData)

__all__ = [
    "SecretListing",
    "bind_secret",
    "list_secrets",
    "registered",
    "resolve_reference",
    "secret",
]


def registered(data: T, label: str) -> T:
    """``data`` after every string in it is registered with the masker; returns it.

    The one place a value a secret source produced meets the masker: the resolver calls
    it on everything a source returns (plain names and references) before anyone else
    sees it, so a source -- a plugin's too -- never has to register anything itself.
    Callers that pick a part of a value (a field of a JSON string) register the part here.
    """
    if isinstance(data, str):
        registry.register(data, label)
    elif isinstance(data, Mapping):
        for value in data.values():
            if isinstance(value, str):
                registry.register(value, label)
    return data


def secret(name: str, namespace: str | None = None, field: str | None = None) -> Secret:
    """Resolve secret ``name`` in ``namespace`` (default: the current one).

    Levels are tried nearest first (``a.b.c``, ``a.b``, ``a``, tenant); at each
    level the config's references, then the sources in order. The value is
    registered with the masker before it is returned.
    """
    if not isinstance(name, str) or not name:
        raise SecretError("A secret name must be a non-empty string.")
    ns = resolve_namespace(namespace)
    return _resolve(name, ns, field, seen=())


def _resolve(name: str, ns: str | None, field: str | None, seen: tuple[str, ...]) -> Secret:
    config = session().config
    key = f"{ns}/{name.upper()}"
    if key in seen:
        chain = " -> ".join([*seen, key])
        raise ConfigError(f"secret references form a cycle: {chain}", path=config.where)
    sources = session().sources()
    levels = lookup_chain(ns)
    for level in levels:
        refs = {k.upper(): v for k, v in config.secrets_at(level).items()}
        data: SecretData | None = None
        origin = ""
        if name.upper() in refs:
            ref = parse_reference(refs[name.upper()])
            data = resolve_reference(ref, level, (*seen, key), label=name)
            origin = f"{ref.scheme} ({display(level)})"
            if data is None:
                raise SecretNotFound(
                    f"Cannot find secret {name!r}: the config declares it as {ref} at level "
                    f"{display(level)}, and that is unset. Set it or fix the reference in "
                    f"{config.where}.",
                    name=name,
                    namespace=ns,
                )
            if ref.field and field is None:
                field = ref.field
        else:
            for source in sources:
                data = source.get(level, name)
                if data is not None:
                    registered(data, name)
                    origin = source.name
                    break
        if data is not None:
            value = registered(select_field(data, field, name), name)
            return Secret(value, name, origin)
    looked = ", ".join(display(level) for level in levels)
    names = ", ".join(s.name for s in sources) or "none"
    where = f"in namespace '{ns}'" if ns is not None else "at the tenant level"
    raise SecretNotFound(
        f"Cannot find secret {name!r} {where} (looked in {looked}; sources: {names}).",
        name=name,
        namespace=ns,
    )


def select_field(data: SecretData, field: str | None, name: str) -> str:
    """One string out of a secret: the field asked for, else ``value``, else the only key.

    A string secret holding JSON (a service-account key) can be indexed by field too.
    """
    if isinstance(data, str):
        if field is None:
            return data
        try:
            parsed = json.loads(data)
        except ValueError:
            raise SecretError(
                f"Secret '{name}' is a plain string, so it has no field '{field}'."
            ) from None
        if not isinstance(parsed, dict):
            raise SecretError(f"Secret '{name}' is not a JSON object: it has no field '{field}'.")
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    return _pick(data, field, name)


def _pick(data: Mapping[str, str], field: str | None, name: str) -> str:
    if field is not None:
        if field not in data:
            raise SecretError(
                f"Secret '{name}' has no field '{field}'; its fields are: "
                f"{', '.join(sorted(data)) or 'none'}."
            )
        return str(data[field])
    if "value" in data:
        return str(data["value"])
    if len(data) == 1:
        return str(next(iter(data.values())))
    raise SecretError(
        f"Secret '{name}' has several fields ({', '.join(sorted(data))}); "
        "choose one with field='...' (or name#field in a reference)."
    )


def resolve_reference(
    ref: Reference,
    level: str | None,
    seen: tuple[str, ...] = (),
    *,
    secret: bool = True,
    label: str | None = None,
) -> SecretData | None:
    """The data a reference points to (registered with the masker), or None when unset.

    ``label``: what the masker calls the value (default: the reference's target; the
    first label given to a value is kept, and ``nbcreds scan`` finds values by it).
    ``secret=False`` is for a setting nbcreds' own schema declares not secret (a
    username, an endpoint given as ``env:VAR``): its value is not masked.
    """
    if ref.scheme == "secret":
        return _resolve(ref.target, level, ref.field, seen).reveal()
    data = session().reference_source(ref.scheme).read_reference(ref)
    if data is None or not secret:
        return data
    return registered(data, label or ref.target)


class SecretListing:
    """One row of :func:`list_secrets`: a name, where it comes from; never a value."""

    __slots__ = ("inherited", "level", "name", "source")

    def __init__(self, name: str, source: str, level: str | None, inherited: bool) -> None:
        self.name = name
        self.source = source
        self.level = level
        self.inherited = inherited

    def __repr__(self) -> str:
        where = display(self.level)
        return f"SecretListing({self.name!r}, source={self.source!r}, level={where!r})"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "level": display(self.level),
            "inherited": self.inherited,
        }


def list_secrets(namespace: str | None = None) -> list[SecretListing]:
    """Secret names visible from ``namespace`` with their source and level (nearest wins)."""
    ns = resolve_namespace(namespace)
    config = session().config
    seen: dict[str, SecretListing] = {}
    for level in lookup_chain(ns):
        inherited = level != ns
        for name, ref in config.secrets_at(level).items():
            seen.setdefault(
                name.upper(), SecretListing(name, parse_reference(ref).scheme, level, inherited)
            )
        for source in session().sources():
            for name in source.names(level):
                label = source.name
                origin = getattr(source, "origin", None)
                if callable(origin):  # a session binding to env/vault shows where it reads
                    bound = origin(level, name)
                    if bound and bound != source.name:
                        label = f"{source.name} -> {bound}"
                seen.setdefault(name.upper(), SecretListing(name, label, level, inherited))
    return sorted(seen.values(), key=lambda s: s.name.upper())


def bind_secret(
    name: str,
    value: str | None = None,
    *,
    ref: str | None = None,
    env: str | None = None,
    vault: str | None = None,
    prompt: bool = False,
    namespace: str | None = None,
    tenant: bool = False,
    store: str = "session",
) -> str:
    """Bind secret ``name`` in the session, at ``namespace`` (default: current).

    Exactly one of: ``value`` (kept in memory only), ``ref="vault:db/prod#password"``
    (any reference an installed source reads: ``env:VAR``, ``vault:path#field``,
    ``secret:OTHER``..., read at each lookup), ``prompt=True`` (``getpass``).
    ``env="VAR"`` and ``vault="path#field"`` are short for ``ref="env:VAR"`` and
    ``ref="vault:path#field"``. ``tenant=True`` binds at the tenant level whatever
    the current namespace. ``store="keyring"`` (or another writable source; with
    ``value`` or ``prompt``) writes the value there instead of the session's memory --
    the OS keyring keeps it across kernel restarts (service ``nbcreds``, username
    ``<level>/<NAME>``) -- and this session reads it back from there. Returns a
    description of the binding (never the value).
    """
    chosen = [value is not None, ref is not None, env is not None, vault is not None, prompt]
    if sum(chosen) != 1:
        raise SecretError(
            'bind_secret needs exactly one of value, ref= (e.g. ref="vault:db/prod#password"), '
            "env=, vault= or prompt=True."
        )
    if tenant and namespace is not None:
        raise SecretError("bind_secret: give either namespace= or tenant=True, not both.")
    if store != "session" and value is None and not prompt:
        raise SecretError(
            f"bind_secret: store={store!r} keeps a typed value: use value= or prompt=True."
        )
    ns = None if tenant else resolve_namespace(namespace)
    target = session().source(store)  # ConfigError naming the source when unknown
    if target.read_only:
        raise SecretError(
            f"bind_secret: the {store} source is read-only; store='keyring' or 'session' "
            "keep typed values."
        )
    memory = session().source("session")
    if prompt:
        import getpass

        value = getpass.getpass(f"Value of secret {name} ({display(ns)}): ")
        if not value:
            raise SecretError(f"No value entered for secret '{name}': nothing was bound.")
    if value is not None:
        registered(value, name)  # a typed value is masked before it is kept anywhere
    if value is not None and store != "session":
        target.set(ns, name, value)
        bind_to = getattr(memory, "bind", None)
        if callable(bind_to):  # this session reads it back from where it is kept
            bind_to(ns, name, lambda: target.get(ns, name), origin=store)
        where = getattr(target, "location", None)
        detail = f" ({where(ns, name)})" if callable(where) else ""
        return f"{name} stored in the {target.describe()} at {display(ns)}{detail}"
    if value is not None:
        memory.set(ns, name, value)
        return f"{name} bound in the session at {display(ns)} (memory only)"
    ref_text = ref if ref is not None else f"env:{env}" if env is not None else f"vault:{vault}"
    try:
        parsed = parse_reference(ref_text)
    except ValueError as exc:
        raise SecretError(f"bind_secret: {exc}.") from None

    def resolve() -> SecretData | None:
        data = resolve_reference(parsed, ns, label=name)
        if data is None or parsed.field is None:
            return data
        return select_field(data, parsed.field, name)

    bind = getattr(memory, "bind", None)
    if not callable(bind):  # pragma: no cover - the session source always binds
        raise SecretError("the session source cannot bind references")
    bind(ns, name, resolve, origin=parsed.scheme)
    return f"{name} bound to {parsed} at {display(ns)}"

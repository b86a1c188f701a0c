"""Credential definitions: find them in the namespace hierarchy and validate them.

A definition is a table of ``nbcreds.toml`` (``[credentials.NAME]`` at tenant
level, ``[namespaces."a.b".credentials.NAME]`` in a namespace). It holds no
secret: secret-valued keys are references resolved through ``secret()`` only
when a token is minted. Every validation error names the credential, its level,
the config file and the key, and says what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import plugins
from ._duration import duration_seconds
from ._exceptions import CredentialConfigError
from .namespaces import display
from .plugins import is_reference, parse_reference

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "COMMON_KEYS",
    "Definition",
    "build_definition",
    "check_definitions",
    "definition_at",
    "parse_duration",
]

#: keys every credential type accepts (the engine reads them)
COMMON_KEYS = frozenset(
    {"type", "description", "token_endpoint", "scopes", "audience", "token_caching", "timeout"}
)
_CACHING_KEYS = frozenset({"enabled", "refresh_before_expiry"})


#: how :meth:`Definition.secret` resolves: installed by nbcreds.credentials when it loads
#: (this layer sits below the secret sources and cannot import them)
secret_resolver: list[Callable[[Definition, str], str]] = []


def parse_duration(text: str) -> float:
    """Seconds of an ISO-8601 duration (``PT1M``, ``PT30S``, ``PT1H30M``, ``P1D``,
    ``P1W``, ``PT0.5S``); ValueError otherwise (a negative one too: a credential's
    durations are lengths). The same parser as the KV store's."""
    seconds = duration_seconds(text)
    if seconds < 0:
        raise ValueError("not an ISO-8601 length of time: a credential duration is never negative")
    return float(seconds)


@dataclass(frozen=True)
class Definition:
    """A validated credential definition (no secret values, only references)."""

    name: str
    type: str
    level: str | None
    tenant: str
    where: str
    table: dict[str, Any] = field(repr=False, compare=False)
    description: str = ""
    token_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    caching_enabled: bool = True
    refresh_before: float = 60.0
    timeout: float = 30.0
    fingerprint: str = ""

    @property
    def cache_key(self) -> tuple[str, str | None, str, str]:
        """(tenant, defining namespace, name, definition hash): a changed definition
        never shares a cache entry with the old one."""
        return (self.tenant, self.level, self.name, self.fingerprint)

    def error(self, key: str | None, problem: str) -> CredentialConfigError:
        """A :class:`CredentialConfigError` naming this credential, its level, file and key."""
        what = f"key '{key}' " if key else ""
        prefix = "" if self.level is None else f'namespaces."{self.level}".'
        where = f"level {display(self.level)}, {self.where}"
        return CredentialConfigError(
            f"Credential '{self.name}' ({where}): {what}{problem}",
            key=key,
            path=self.where,
            table=f"{prefix}credentials.{self.name}",
        )

    def secret(self, key: str) -> str:
        """The secret the reference in ``key`` names, resolved at this credential's level
        (``secret:NAME`` through the namespace hierarchy) and registered with the masker
        before it is returned. A credential type's ``mint`` calls it for its secret fields;
        an unset reference is a :class:`CredentialConfigError` naming ``key``."""
        if not secret_resolver:  # pragma: no cover - nbcreds.credentials installs it
            raise self.error(key, "cannot be resolved: nbcreds.credentials is not loaded")
        return secret_resolver[0](self, key)

    def get(self, key: str) -> Any:
        return self.table.get(key)

    def text(self, key: str, *, required: bool = False, hint: str = "") -> str | None:
        """A non-secret string setting (a literal, or a reference resolved on mint)."""
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.error(key, f"is missing{'; ' + hint if hint else ''}.")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, "must be a string.")
        text = str(value)
        if not text:
            raise self.error(key, "must not be empty.")
        return text

    def reference(self, key: str, *, required: bool = True) -> str | None:
        """A secret-valued setting: must be a reference (``secret:NAME``, ``env:VAR``...)."""
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.error(
                    key,
                    'is missing; set it to a reference such as "secret:NAME" '
                    "(bind the value with nbcreds.bind_secret or a SECRET_NAME variable).",
                )
            return None
        if not isinstance(value, str) or not is_reference(value):
            raise self.error(
                key,
                f"must be a reference ({plugins.reference_help()}), never a literal value.",
            )
        try:
            parse_reference(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        return value

    def duration(
        self,
        key: str,
        default: float,
        table: dict[str, Any] | None = None,
        shown: str | None = None,
    ) -> float:
        source = self.table if table is None else table
        value = source.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self.error(shown or key, 'must be an ISO-8601 duration such as "PT1M".')
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError:
                raise self.error(
                    shown or key, 'must be an ISO-8601 duration such as "PT1M", "PT30S" or "PT1H".'
                ) from None
        if seconds < 0:
            raise self.error(shown or key, "must not be negative.")
        return seconds

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(value.split())
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.error(key, "must be a list of strings.")
        return tuple(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.table.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, "must be a table.")
        return dict(value)


def _fingerprint(tenant: str, level: str | None, name: str, table: dict[str, Any]) -> str:
    canonical = json.dumps([tenant, level, name, table], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def build_definition(
    config: Config, level: str | None, name: str, table: dict[str, Any]
) -> Definition:
    """Validate one table into a :class:`Definition` (raises CredentialConfigError)."""
    probe = Definition(
        name=name,
        type=str(table.get("type", "")),
        level=level,
        tenant=config.tenant,
        where=config.where,
        table=table,
    )
    ctype = table.get("type")
    spec = plugins.credential_type(ctype) if isinstance(ctype, str) else None
    if spec is None or not isinstance(ctype, str):
        installed = sorted(plugins.credential_types())
        hint = plugins.did_you_mean(ctype, installed) if isinstance(ctype, str) else ""
        why = plugins.broken(plugins.CREDENTIAL_GROUP, ctype) if isinstance(ctype, str) else None
        raise probe.error(
            "type",
            f"must be one of {', '.join(installed)}{hint}"
            f"{'; ' + why if why else ' (no installed plugin provides it)'}.",
        )
    problem = plugins.check_settings(
        {k: v for k, v in table.items() if k not in COMMON_KEYS or spec.field(k)},
        spec.fields,
        extra_keys=COMMON_KEYS,
    )
    if problem is not None:
        key, message = problem
        if message.startswith("unknown key"):
            allowed = sorted(COMMON_KEYS | {f.key for f in spec.fields})
            message = (
                f"is not a setting of type {ctype}{plugins.did_you_mean(key, allowed)}; "
                f"known settings: {', '.join(allowed)}"
            )
        raise probe.error(key, message + ("" if message.endswith(".") else "."))
    caching = table.get("token_caching", {})
    if not isinstance(caching, dict):
        raise probe.error(
            "token_caching", "must be a table with enabled and refresh_before_expiry."
        )
    for key in caching:
        if key not in _CACHING_KEYS:
            raise probe.error(
                f"token_caching.{key}",
                "is unknown; token_caching holds enabled and refresh_before_expiry.",
            )
    enabled = caching.get("enabled", True)
    if not isinstance(enabled, bool):
        raise probe.error("token_caching.enabled", "must be true or false.")
    refresh = probe.duration(
        "refresh_before_expiry", 60.0, caching, "token_caching.refresh_before_expiry"
    )
    timeout = probe.duration("timeout", 30.0)
    if timeout <= 0:
        raise probe.error("timeout", 'must be a positive duration such as "PT30S".')
    endpoint = probe.text("token_endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise probe.error("token_endpoint", "must be an http:// or https:// URL.")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise probe.error("description", "must be a string.")
    audience = probe.text("audience")
    definition = Definition(
        name=name,
        type=ctype,
        level=level,
        tenant=config.tenant,
        where=config.where,
        table=table,
        description=description,
        token_endpoint=endpoint,
        scopes=probe.string_list("scopes"),
        audience=audience,
        caching_enabled=enabled,
        refresh_before=refresh,
        timeout=timeout,
        fingerprint=_fingerprint(config.tenant, level, name, table),
    )
    spec.strategy().validate(definition)
    return definition


def definition_at(config: Config, level: str | None, name: str) -> Definition | None:
    """The validated definition of ``name`` declared at exactly ``level``, or None.

    Built once per loaded config (``load_config`` builds them all, so a bad
    definition fails at load) and kept on the config object.
    """
    key = (level, name)
    found: Definition | None = config.definitions.get(key)
    if found is None:
        table = config.credentials_at(level).get(name)
        if table is None:
            return None
        found = build_definition(config, level, name, table)
        config.definitions[key] = found
    return found


def check_definitions(config: Config) -> None:
    """Validate every credential definition of ``config`` (raises CredentialConfigError)."""
    for level in [None, *config.table("namespaces")]:
        for name in config.credentials_at(level):
            definition_at(config, level, name)

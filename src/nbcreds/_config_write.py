"""Write a credential definition into ``nbcreds.toml`` (the widgets' *Save*).

Only references ever reach the file: a secret-valued field must be
``secret:NAME``, ``env:VAR`` or ``vault:path#field``, and any string that is a
value the masker knows (a secret typed into the wrong field) is refused.
The file is rewritten atomically (a temporary file in the same directory, then
``os.replace``) so a crash never leaves half a config, and the whole document
is validated with :func:`nbcreds.config.validate_config` before anything is
written. Other tables are kept; TOML comments are not (``tomllib`` does not
keep them).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import plugins
from ._exceptions import ConfigError, CredentialConfigError
from ._session import session
from .config import CONFIG_FILENAME, Config, is_reference, reference_help, validate_config
from .masking import registry
from .namespaces import validate as validate_namespace

__all__ = [
    "CREDENTIAL_NAME_RULE",
    "config_target",
    "save_credential",
]
CREDENTIAL_NAME_RULE = (
    "a credential name starts with a letter or digit and holds only letters, digits, "
    "'_' and '-' (at most 100 characters), e.g. 'my_oauth'"
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")

_write_lock = threading.Lock()


def config_target() -> Path:
    """The file *Save* writes: the loaded config's file, else ``./nbcreds.toml``."""
    path = session().config.path
    return Path(path) if path is not None else Path.cwd() / CONFIG_FILENAME


def save_credential(name: str, definition: Mapping[str, Any], namespace: str | None) -> Path:
    """Write credential ``name`` at ``namespace`` (``None``: the tenant level).

    An existing definition of that name at that level is replaced; everything
    else in the file is kept. Empty values (``None``, ``""``, ``[]``) are left
    out. The config is reloaded afterwards. Returns the file written.

    Raises :class:`CredentialConfigError` for a bad name, type or setting (the
    credentials engine's own validation, naming the key) and :class:`ConfigError`
    (naming the table and key) for a literal secret or a file the config would
    refuse. No value is ever put in a message.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CredentialConfigError(f"Invalid credential name: {CREDENTIAL_NAME_RULE}.")
    if namespace is not None:
        validate_namespace(namespace)
    clean = _clean(definition)
    table = _table_name(name, namespace)
    ctype = clean.get("type")
    spec = plugins.credential_type(ctype) if isinstance(ctype, str) else None
    if spec is None:
        raise CredentialConfigError(
            f"Credential '{name}' needs a type, one of: {', '.join(plugins.credential_types())}.",
            key="type",
        )
    # fields holding secret material: the file only ever gets a reference for them
    secret_fields = {f.key for f in spec.fields if f.secret}
    known = registry.values()
    for key, value in _flatten(clean):
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            if key in secret_fields and not is_reference(item):
                raise ConfigError(
                    f"this field holds secret material: give a reference ({reference_help()}), "
                    "never the value; bind a typed value with nbcreds.bind_secret first",
                    path=str(config_target()),
                    table=table,
                    key=key,
                )
            if str.__str__(item) in known:
                raise ConfigError(
                    "this field holds a secret value; nbcreds.toml only takes references "
                    f"({reference_help()})",
                    path=str(config_target()),
                    table=table,
                    key=key,
                )

    with _write_lock:
        path = config_target()
        data = _read(path)
        level: dict[str, Any] = data
        if namespace is not None:
            level = _subtable(
                _subtable(data, "namespaces", path, ""), namespace, path, "namespaces"
            )
        creds = _subtable(level, "credentials", path, _level_name(namespace))
        creds[name] = clean
        # the whole file as it would load, credential definitions included
        validate_config(Config(path=path, data=data))
        _write_atomic(path, data)
    session().load(path)
    return path


def _clean(definition: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in definition.items():
        if not isinstance(key, str) or not key:
            raise CredentialConfigError("Credential fields need non-empty string names.")
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, Mapping) and depth == 0:
            # a sub-table such as token_caching = {enabled = false}
            sub = _clean(value, depth + 1)
            if sub:
                clean[key] = sub
            continue
        if isinstance(value, (tuple, list)):
            value = [v for v in value if v not in (None, "")]
            if not value:
                continue
        if isinstance(value, list):
            bad = [v for v in value if not isinstance(v, (str, int, float, bool))]
        else:
            bad = [] if isinstance(value, (str, int, float, bool)) else [value]
        if bad:
            raise CredentialConfigError(
                f"Credential field '{key}' must be a string, number, boolean or a list of them."
            )
        # a Secret is a str subclass: keep the plain string (tomli_w needs exact types)
        if isinstance(value, list):
            clean[key] = [str.__str__(v) if isinstance(v, str) else v for v in value]
        else:
            clean[key] = str.__str__(value) if isinstance(value, str) else value
    return clean


def _flatten(table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) pairs, sub-tables' keys as ``table.key``."""
    pairs: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            pairs += [(f"{key}.{sub}", item) for sub, item in value.items()]
        else:
            pairs.append((key, value))
    return pairs


def _table_name(name: str, namespace: str | None) -> str:
    prefix = f'namespaces."{namespace}".' if namespace is not None else ""
    return f"{prefix}credentials.{name}"


def _level_name(namespace: str | None) -> str:
    return "" if namespace is None else f'namespaces."{namespace}"'


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", path=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid TOML, fix it before saving: {exc}", path=str(path)) from None


def _subtable(node: dict[str, Any], key: str, path: Path, where: str) -> dict[str, Any]:
    child = node.setdefault(key, {})
    if not isinstance(child, dict):
        raise ConfigError("must be a table", path=str(path), table=where, key=key)
    return child


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    text = tomli_w.dumps(data)
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

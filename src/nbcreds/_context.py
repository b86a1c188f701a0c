"""Process-wide state: the loaded config and the secret sources built from it.

Everything is created lazily on first use, so ``import nbcreds`` does no I/O.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import SOURCE_NAMES, Config, load_config
from .masking import MaskingSettingError, MaskingSettings
from .masking import configure as configure_masking

if TYPE_CHECKING:
    from .secrets._base import SecretSource
    from .secrets._session import SessionSource

__all__ = ["get_config", "load", "reset", "session_source", "sources", "vault_source"]

_lock = threading.RLock()
_config: Config | None = None
_sources: list[SecretSource] | None = None
_vault: SecretSource | None = None
_session: SessionSource | None = None
_extra: dict[str, Any] = {}


def get_config() -> Config:
    """The active config, loaded (found) on first use."""
    global _config
    with _lock:
        if _config is None:
            config = load_config()
            _push_masking(config)
            _config = config
        return _config


def _masking_settings(config: Config) -> MaskingSettings:
    """``[masking]`` validated (a ConfigError naming file, table and key if not)."""
    try:
        return MaskingSettings.from_table(config.table("masking"))
    except MaskingSettingError as exc:
        raise config.error(exc.message, "masking", exc.key) from None


def _push_masking(config: Config) -> None:
    # masking reads no config: its settings are pushed when a config becomes active
    configure_masking(_masking_settings(config))


def load(path: str | Path | None = None) -> Config:
    """(Re)load the config from ``path`` (or find it again) and rebuild the sources.

    Session secrets are kept; cached credentials of changed definitions are
    never served (their cache key includes the definition's hash).
    """
    global _config
    config = load_config(path) if path is not None else load_config()
    settings = _masking_settings(config)
    with _lock:
        _close_sources()
        _config = config
        configure_masking(settings)
    return config


def use_config(config: Config) -> None:
    """Make an already-built config the active one (tests, widgets)."""
    global _config
    settings = _masking_settings(config)
    with _lock:
        _close_sources()
        _config = config
        configure_masking(settings)


def _close_sources() -> None:
    global _sources, _vault
    for source in _sources or []:
        if source.name != "session":
            source.close()
    if _vault is not None and (_sources is None or _vault not in _sources):
        _vault.close()
    _sources = None
    _vault = None
    for closer in list(_extra.values()):
        close = getattr(closer, "close", None)
        if callable(close):
            close()
    _extra.clear()


def session_source() -> SessionSource:
    """The one session source of this process (survives config reloads)."""
    global _session
    with _lock:
        if _session is None:
            from .secrets._session import SessionSource

            _session = SessionSource()
        return _session


def vault_source() -> SecretSource:
    """The Vault / OpenBao source of ``[sources.vault]`` (ConfigError when not configured)."""
    global _vault
    with _lock:
        if _vault is None:
            config = get_config()
            settings = config.table("sources", "vault")
            if not settings:
                raise config.error(
                    "no Vault configured: add a [sources.vault] table with url and auth to use "
                    "vault: references or the vault source",
                    "sources",
                    "vault",
                )
            from .secrets.vault import VaultSource

            _vault = VaultSource.from_config(settings, config)
        return _vault


def sources() -> list[SecretSource]:
    """The secret sources in the order the config gives."""
    global _sources
    with _lock:
        if _sources is None:
            config = get_config()
            built: list[SecretSource] = []
            for name in config.source_order():
                if name == "session":
                    built.append(session_source())
                elif name == "env":
                    from .secrets._env import EnvSource

                    env = config.table("sources", "env")
                    built.append(
                        EnvSource(
                            prefix=str(env.get("prefix", "SECRET_")),
                            raw=bool(env.get("raw", False)),
                        )
                    )
                elif name == "vault":
                    built.append(vault_source())
                else:
                    raise config.error(
                        f"unknown secret source '{name}'; known: {', '.join(SOURCE_NAMES)}",
                        "sources",
                        "order",
                    )
            _sources = built
        return list(_sources)


def extra(key: str, factory: Any) -> Any:
    """A lazily created per-config object (the credential engine, the KV store...)."""
    with _lock:
        if key not in _extra:
            _extra[key] = factory()
        return _extra[key]


def reset() -> None:
    """Forget config, sources and session secrets (tests)."""
    global _config, _session
    with _lock:
        _close_sources()
        _config = None
        configure_masking(MaskingSettings())
        if _session is not None:
            _session.clear()

"""The one session of this process: the loaded config, the built secret sources and
the namespace selection.

Everything is created lazily on first use, so ``import nbcreds`` does no I/O.
Every change (a config loaded, a namespace selected, a reset) bumps
:attr:`Session.generation`: fast paths (the credential cache hit, the KV
namespace) remember the generation they were filled at and compare one integer.

The session is also the one change-notification hook of the core: the namespace,
the config, a secret binding, a credential's token (minted, refreshed, invalidated,
failed) and a KV entry each call :func:`notify_change` where they change, and the
listeners (:func:`add_change_listener`; the sidebar's comm is one) hear a short
word for what changed -- never a value.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import config as _config
from . import plugins
from .config import Config
from .masking import registry
from .namespaces import lookup_chain, validate

if TYPE_CHECKING:
    from .secrets._base import SecretSource

__all__ = [
    "Session",
    "add_change_listener",
    "current_namespace",
    "list_namespaces",
    "load_config",
    "notify_change",
    "remove_change_listener",
    "resolve_namespace",
    "session",
    "use_namespace",
]

T = TypeVar("T")


class Session:
    """Config, sources and namespace selection of one process (see :func:`session`)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        #: bumped by every change of config, sources or namespace selection
        self.generation = 0
        self._config: Config | None = None
        self._built: dict[str, SecretSource] = {}
        self._order: list[SecretSource] | None = None
        self._extras: dict[str, Any] = {}
        self._kept: dict[str, Any] = {}
        self._namespace: str | None = None
        self._explicit = False
        self._listeners: list[Callable[[str], object]] = []

    # --- change notification ------------------------------------------------------------

    def add_listener(self, listener: Callable[[str], object]) -> None:
        """Call ``listener(what)`` after each change (from whichever thread made it)."""
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str], object]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def changed(self, what: str) -> None:
        """Tell the listeners that ``what`` changed (``namespace``, ``config``, ``secret``,
        ``credential``, ``kv``); a failing listener never breaks the change itself."""
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):
                listener(what)

    # --- config -------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The active config, loaded (found) on first use."""
        config = self._config
        if config is None:
            with self._lock:
                if self._config is None:
                    self._install(_config.load_config())
                config = self._config
                assert config is not None
        return config

    def load(self, path: str | Path | None = None) -> Config:
        """(Re)load the config from ``path`` (or find it again) and rebuild the sources.

        Session secrets are kept; cached credentials of changed definitions are
        never served (their cache key includes the definition's hash).
        """
        config = _config.load_config(path) if path is not None else _config.load_config()
        with self._lock:
            self._install(config)
        return config

    def use_config(self, config: Config) -> None:
        """Make an already-built config the active one (tests, widgets)."""
        with self._lock:
            self._install(config)

    def _install(self, config: Config | None) -> None:
        from .masking import MaskingSettingError, MaskingSettings, configure

        settings = MaskingSettings()
        if config is not None:
            try:
                settings = MaskingSettings.from_table(config.table("masking"))
            except MaskingSettingError as exc:
                raise config.error(exc.message, "masking", exc.key) from None
        self._close()
        self._config = config
        configure(settings)  # masking reads no config: its settings are pushed
        self.generation += 1
        self.changed("config")

    def _close(self) -> None:
        kept = {id(v) for v in self._kept.values()}
        for source in self._built.values():
            if id(source) not in kept:
                source.close()
        for extra in self._extras.values():
            close = getattr(extra, "close", None)
            if callable(close):
                close()
        self._built.clear()
        self._extras.clear()
        self._order = None

    # --- sources ------------------------------------------------------------------------

    def source(self, name: str) -> SecretSource:
        """The source ``name`` built from ``[sources.NAME]`` (ConfigError when no installed
        plugin provides it, or when it needs settings the config does not give)."""
        found = self._built.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._built.get(name)
            if found is None:
                found = self._build(name)
                self._built[name] = found
            return found

    def _build(self, name: str) -> SecretSource:
        config = self.config
        stype = plugins.source_type(name)
        if stype is None:
            why = plugins.broken(plugins.SOURCE_GROUP, name)
            raise config.error(
                f"no installed plugin provides the secret source '{name}'"
                f"{'; ' + why if why else ''}; installed: {', '.join(plugins.source_types())}",
                "sources",
                name,
            )
        if stype.needs_config and not config.configured(name):
            schemes = ", ".join(f"{s}:" for s in stype.schemes)
            uses = f"use {schemes} references or the {name} source" if schemes else "use it"
            raise config.error(
                f"no {name} source configured: add a [sources.{name}] table to {uses}",
                "sources",
                name,
            )
        ctx = plugins.SourceContext(
            name=name,
            settings=config.source_settings(name),
            path=config.path,
            config=config,
            keep=self.keep,
        )
        return stype.build(ctx)

    def sources(self) -> list[SecretSource]:
        """The sources tried for a plain name, in the configured order."""
        order = self._order
        if order is None:
            with self._lock:
                order = [self.source(name) for name in self.config.source_order()]
                self._order = order
        return list(order)

    def reference_source(self, scheme: str) -> SecretSource:
        """The source reading ``scheme:`` references (``env``, ``vault``...)."""
        stype = plugins.scheme_owner(scheme)
        if stype is None:
            from ._exceptions import SecretError

            raise SecretError(f"unknown reference scheme '{scheme}'")
        return self.source(stype.name)

    def keep(self, key: str, factory: Callable[[], T]) -> T:
        """An object kept for the whole process (across config reloads), made once."""
        with self._lock:
            if key not in self._kept:
                self._kept[key] = factory()
            found: T = self._kept[key]
            return found

    def per_config(self, key: str, factory: Callable[[], T]) -> T:
        """A lazily created per-config object (the KV store...), closed on change."""
        found = self._extras.get(key)
        if found is None:
            with self._lock:
                found = self._extras.get(key)
                if found is None:
                    found = factory()
                    self._extras[key] = found
        return found

    # --- namespaces ---------------------------------------------------------------------

    def use_namespace(self, name: str | None) -> str | None:
        """Make ``name`` the current namespace (``None``: the tenant level). Returns it."""
        if name is not None:
            validate(name)
        with self._lock:
            self._namespace = name
            self._explicit = True
            self.generation += 1
        self.changed("namespace")
        return name

    def current_namespace(self) -> str | None:
        """The current namespace: set by :meth:`use_namespace`, else the config's
        ``namespace`` key, else ``$NBCREDS_NAMESPACE``, else ``None`` (tenant level)."""
        if self._explicit:
            return self._namespace
        default = self.config.default_namespace
        if default is None:
            env = os.environ.get("NBCREDS_NAMESPACE")
            if env:
                default = validate(env)
        return default

    @property
    def namespace_selected(self) -> bool:
        """True when :meth:`use_namespace` chose the namespace (not the config or env)."""
        return self._explicit

    def resolve_namespace(self, namespace: str | None) -> str | None:
        """An explicit namespace argument, validated, or the current namespace."""
        if namespace is not None:
            return validate(namespace)
        return self.current_namespace()

    def selection(self) -> tuple[str | None, bool]:
        """The namespace selection as it is now, for :meth:`restore_selection`."""
        with self._lock:
            return self._namespace, self._explicit

    def restore_selection(self, selection: tuple[str | None, bool]) -> None:
        """Put back a selection saved with :meth:`selection`."""
        with self._lock:
            self._namespace, self._explicit = selection
            self.generation += 1
        self.changed("namespace")

    def forget_namespace(self) -> None:
        """Drop the :meth:`use_namespace` selection (back to config / env)."""
        with self._lock:
            self._namespace = None
            self._explicit = False
            self.generation += 1
        self.changed("namespace")

    # --- tests --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget config, sources, namespace selection and session secrets (tests)."""
        with self._lock:
            self._install(None)
            self._namespace = None
            self._explicit = False
            for kept in self._kept.values():
                clear = getattr(kept, "clear", None)
                if callable(clear):
                    clear()


_SESSION = Session()


def load_settings_before_first_value() -> None:
    """The first value registered loads the config (if nothing did yet), so the
    ``[masking]`` settings are pushed before anything is masked (called by the
    registry listener ``nbcreds`` installs at import)."""
    if _SESSION._config is None and len(registry):
        from ._exceptions import NbcredsError

        # an invalid file masks with the defaults; its error shows at first use
        with contextlib.suppress(NbcredsError):
            _SESSION.config  # noqa: B018 -- loads and pushes the settings


def session() -> Session:
    """The session of this process."""
    return _SESSION


def use_namespace(name: str | None) -> str | None:
    """Make ``name`` the current namespace (``None``: the tenant level). Returns it."""
    return _SESSION.use_namespace(name)


def current_namespace() -> str | None:
    """The current namespace: set by :func:`use_namespace`, else the config's
    ``namespace`` key, else ``$NBCREDS_NAMESPACE``, else ``None`` (tenant level)."""
    return _SESSION.current_namespace()


def resolve_namespace(namespace: str | None) -> str | None:
    """An explicit namespace argument, validated, or the current namespace."""
    return _SESSION.resolve_namespace(namespace)


def load_config(path: str | Path | None = None) -> Config:
    """(Re)load ``nbcreds.toml`` from ``path``, or find it again. Session secrets are kept."""
    return _SESSION.load(path)


def list_namespaces() -> list[str]:
    """Namespaces known from the config and the current selection (sorted)."""
    names = set(_SESSION.config.namespaces())
    current = _SESSION.current_namespace()
    if current is not None:
        names.update(n for n in lookup_chain(current) if n is not None)
    for name in list(names):
        names.update(n for n in lookup_chain(name) if n is not None)
    return sorted(names)


def source_order() -> list[str]:
    """The active config's secret source order (``[sources] order``, or the default)."""
    return list(session().config.source_order())


def add_change_listener(listener: Callable[[str], object]) -> None:
    """Call ``listener(what)`` whenever the namespace, the config, a secret binding, a
    credential's token or a KV entry changes in this process; ``what`` names the kind
    (``namespace``, ``config``, ``secret``, ``credential``, ``kv``), never a value. It
    may run on any thread and must be quick (set a flag, wake a thread)."""
    _SESSION.add_listener(listener)


def remove_change_listener(listener: Callable[[str], object]) -> None:
    """Undo :func:`add_change_listener` (no error when it was not added)."""
    _SESSION.remove_listener(listener)


def notify_change(what: str) -> None:
    """Tell the change listeners that ``what`` changed (the core calls it; a plugin
    that changes state outside nbcreds' own calls may too)."""
    _SESSION.changed(what)

"""Secrets in the OS keyring (the ``keyring`` library: Secret Service, macOS
Keychain, Windows Credential Locker).

Two ways in:

- a reference ``keyring:SERVICE/USERNAME`` reads any keyring entry (the first
  ``/`` separates the service from the username);
- as a source in the order, ``secret("API_KEY")`` at level ``acme.team`` reads
  service ``nbcreds``, username ``acme.team/API_KEY``; the tenant level is
  username ``@tenant/API_KEY`` (``@`` cannot start a namespace name, so the two
  never meet). ``nbcreds.bind_secret(name, prompt=True, store="keyring")``
  writes there, so the value survives a kernel restart with no file.

The source joins the default order (after session and env) when a keyring
backend is likely there: :func:`backend_hint` is cheap (no import of keyring);
the real check happens on first use, and a process with no usable backend
finds nothing there (and says so once) rather than failing every lookup.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

from .._exceptions import SecretBackendError, SecretError
from ..plugins import Setting, SourceContext, SourceType
from ._base import SecretData, SecretSource

if TYPE_CHECKING:
    from ..config import Reference

__all__ = [
    "SERVICE",
    "SOURCE",
    "TENANT_LEVEL",
    "KeyringSource",
    "backend_hint",
    "keyring_username",
    "split_reference",
]

log = logging.getLogger("nbcreds.secrets.keyring")

#: The keyring service nbcreds stores its own secrets under.
SERVICE = "nbcreds"
#: The level part of the username for tenant-level secrets.
TENANT_LEVEL = "@tenant"


def keyring_username(namespace: str | None, name: str) -> str:
    """``acme.team/API_KEY``; ``@tenant/API_KEY`` at the tenant level."""
    return f"{namespace or TENANT_LEVEL}/{name.upper()}"


def split_reference(target: str) -> tuple[str, str]:
    """``SERVICE/USERNAME`` of a ``keyring:`` reference (the first ``/`` splits)."""
    service, sep, username = target.partition("/")
    if not sep or not service or not username:
        raise ValueError("a keyring: reference is keyring:SERVICE/USERNAME")
    return service, username


def backend_hint() -> bool:
    """True when a keyring backend is likely usable, without importing keyring:
    the library is installed and (on Linux) a D-Bus session bus is announced, or a
    backend is chosen explicitly with ``$PYTHON_KEYRING_BACKEND``."""
    if importlib.util.find_spec("keyring") is None:
        return False
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))


class KeyringSource(SecretSource):
    """Entries of the OS keyring under one service (``nbcreds`` by default)."""

    name = "keyring"
    read_only = False

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._backend: Any = None
        self._unusable: str | None = None

    # --- SecretSource -----------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        backend = self._usable_backend(quiet=True)
        if backend is None:
            return None
        return self.read(self.service, keyring_username(namespace, name), backend)

    def read_reference(self, ref: Reference) -> SecretData | None:
        """``keyring:SERVICE/USERNAME``: any keyring entry (whatever the order says)."""
        try:
            service, username = split_reference(ref.target)
        except ValueError as exc:
            raise SecretError(str(exc)) from None
        return self.read(service, username)

    def names(self, namespace: str | None) -> list[str]:
        """Names at this level. Listing needs the Secret Service (Linux); other backends
        have no listing API and show none (lookups by name still work)."""
        backend = self._usable_backend(quiet=True)
        if backend is None:
            return []
        prefix = f"{namespace or TENANT_LEVEL}/"
        found: list[str] = []
        for username in _secret_service_usernames(backend, self.service):
            rest = username[len(prefix) :] if username.startswith(prefix) else ""
            if rest and "/" not in rest:
                found.append(rest)
        return sorted(set(found))

    def set(self, namespace: str | None, name: str, value: str) -> None:
        backend = self._usable_backend(quiet=False)
        if backend is None:  # pragma: no cover - _usable_backend raised
            return
        username = keyring_username(namespace, name)
        failure = None
        try:
            backend.set_password(self.service, username, str.__str__(value))
        except Exception as exc:  # keyring.errors.KeyringError and backend failures
            failure = _describe(exc)
        if failure is not None:
            raise SecretBackendError(
                f"the OS keyring refused to store {self.service}/{username} ({failure}); "
                "unlock the keyring or choose another store"
            )

    def describe(self) -> str:
        return "OS keyring"

    def location(self, namespace: str | None, name: str) -> str:
        """Where ``name`` of this level is stored (for messages; no value)."""
        return f"service {self.service}, username {keyring_username(namespace, name)}"

    def __repr__(self) -> str:
        return f"<KeyringSource service={self.service!r}>"

    # --- reading any entry ------------------------------------------------------------

    def read(self, service: str, username: str, backend: Any = None) -> str | None:
        """The password of ``service``/``username``, None when there is none."""
        backend = backend or self._usable_backend(quiet=False)
        failure = None
        try:
            value = backend.get_password(service, username)
        except Exception as exc:  # keyring.errors.KeyringError and backend failures
            failure = _describe(exc)
        if failure is not None:
            raise SecretBackendError(
                f"the OS keyring could not read {service}/{username} ({failure}); "
                "is the keyring unlocked?"
            )
        return value if isinstance(value, str) else None

    def backend_name(self) -> str | None:
        """The backend class in use (e.g. ``keyring.backends.SecretService.Keyring``)."""
        backend = self._usable_backend(quiet=True)
        if backend is None:
            return None
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def _usable_backend(self, *, quiet: bool) -> Any:
        """keyring's chosen backend, or None (quiet) / SecretBackendError when it is a
        fail / null backend (no OS keyring reachable)."""
        with self._lock:
            if self._backend is None and self._unusable is None:
                self._backend, self._unusable = _load_backend()
                if self._unusable is not None:
                    message = (
                        f"nbcreds: no usable OS keyring ({self._unusable}); the keyring source "
                        "finds nothing"
                    )
                    log.warning(message)
            backend, unusable = self._backend, self._unusable
        if unusable is None:
            return backend
        if quiet:
            return None
        raise SecretBackendError(
            f"no usable OS keyring: {unusable}. On Linux a Secret Service (gnome-keyring, "
            "KeePassXC) must run on the D-Bus session bus"
        )


def _load_backend() -> tuple[Any, str | None]:
    try:
        import keyring.backends.fail
        import keyring.core
    except ImportError:
        return None, "the keyring library is not installed (pip install keyring)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # backends probe D-Bus and may warn on the way
        # detected again for each config (keyring caches its first choice for the
        # process; the session bus or $PYTHON_KEYRING_BACKEND may have changed since)
        keyring.core.init_backend()
        backend = keyring.core.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return None, "keyring found no backend"
    if type(backend).__module__ == "keyring.backends.null":
        return None, "keyring is set to the null backend"
    return backend, None


def _secret_service_usernames(backend: Any, service: str) -> list[str]:
    """Usernames stored for ``service`` in a Secret Service collection (else [])."""
    module = type(backend).__module__
    if module != "keyring.backends.SecretService":
        return []
    try:
        collection = backend.get_preferred_collection()
        with contextlib.closing(collection.connection):  # as keyring's own calls do
            items = list(collection.search_items({"service": service}))
            return [str(item.get_attributes().get("username", "")) for item in items]
    except Exception as exc:  # secretstorage / jeepney errors
        log.warning("nbcreds: cannot list the keyring's %s entries (%s)", service, _describe(exc))
        return []


def _describe(exc: BaseException) -> str:
    """The exception's class only: backend messages may quote what they were given."""
    return type(exc).__name__


# --- the plugin declaration (entry point nbcreds.secret_sources: keyring) ---------------------


def _build(ctx: SourceContext) -> SecretSource:
    return KeyringSource(str(ctx.settings.get("service", SERVICE)))


def _service(value: Any) -> str | None:
    return None if value and "/" not in value else "must be a service name without '/'"


SOURCE = SourceType(
    name="keyring",
    build=_build,
    position=20,  # after session (0) and env (10), before vault (50)
    schemes=("keyring",),
    reference_forms={"keyring": "keyring:SERVICE/USERNAME"},
    reference_labels={"keyring": "OS keyring entry"},
    # joins the default order when a backend is likely there (a cheap check, no import)
    default_order=backend_hint,
    settings=(
        Setting(
            "service",
            default=SERVICE,
            check=_service,
            help="the keyring service nbcreds reads and store='keyring' writes",
        ),
    ),
    description="the OS keyring (Secret Service, macOS Keychain, Windows); "
    "store='keyring' keeps typed values across restarts",
)

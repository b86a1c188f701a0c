"""nbcreds: Kestra's credentials, secrets and KV store in Jupyter -- and no leak.

>>> import nbcreds as nc
>>> nc.use_namespace("company.team")          # doctest: +SKIP
>>> pw = nc.secret("DB_PASSWORD")              # doctest: +SKIP
>>> pw                                          # doctest: +SKIP
<Secret DB_PASSWORD ****>

In a notebook, ``%load_ext nbcreds`` adds the magics and output masking.

Importing this package is light: the session (config, plugins), secrets,
credentials, the KV store, Vault, widgets and their heavy dependencies load on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AuthorizationDenied,
    AuthorizationExpired,
    BrowserUnavailable,
    ConfigError,
    CredentialConfigError,
    CredentialError,
    CredentialNotFound,
    KVBackendError,
    KVConflict,
    KVError,
    KVNotFound,
    KVSecretRefused,
    KVValueError,
    LoginError,
    LoginRequired,
    MaskingError,
    NamespaceError,
    NbcredsError,
    RefreshTokenRejected,
    ScanError,
    SecretBackendError,
    SecretError,
    SecretNotFound,
    SecretReadOnly,
    TokenRequestError,
)
from .masking import mask, unmask
from .masking import registry as _masking_registry
from .values import Secret

if TYPE_CHECKING:
    __version__: str
    from . import plugins
    from ._config_write import save_credential
    from ._session import (
        add_change_listener,
        current_namespace,
        list_namespaces,
        load_config,
        notify_change,
        remove_change_listener,
        source_order,
        use_namespace,
    )
    from .credentials import (
        CredentialInfo,
        CredentialListing,
        TestResult,
        auth,
        credential,
        credential_info,
        invalidate,
        list_credentials,
        login,
        login_state,
        logout,
        test_credential,
    )
    from .credentials._login import LoginState
    from .kvstore import (
        MISSING,
        KVEntry,
        delete_kv,
        kv,
        kv_entries,
        kv_keys,
        purge_kv,
        put_kv,
        set_kv,
    )
    from .masking import masked
    from .secrets import SecretListing, bind_secret, list_secrets, secret
    from .secrets._lease import Lease, lease, revoke_leases

# name -> module providing it, imported on first access (keeps `import nbcreds` light)
_LAZY = {
    "credential": "nbcreds.credentials",
    "credential_info": "nbcreds.credentials",
    "test_credential": "nbcreds.credentials",
    "invalidate": "nbcreds.credentials",
    "list_credentials": "nbcreds.credentials",
    "auth": "nbcreds.credentials",
    "TestResult": "nbcreds.credentials",
    "CredentialInfo": "nbcreds.credentials",
    "CredentialListing": "nbcreds.credentials",
    "login": "nbcreds.credentials",
    "logout": "nbcreds.credentials",
    "login_state": "nbcreds.credentials",
    "LoginState": "nbcreds.credentials",
    "kv": "nbcreds.kvstore",
    "set_kv": "nbcreds.kvstore",
    "put_kv": "nbcreds.kvstore",
    "delete_kv": "nbcreds.kvstore",
    "kv_keys": "nbcreds.kvstore",
    "kv_entries": "nbcreds.kvstore",
    "purge_kv": "nbcreds.kvstore",
    "KVEntry": "nbcreds.kvstore",
    "MISSING": "nbcreds.kvstore",
    "masked": "nbcreds.masking",
    "lease": "nbcreds.secrets._lease",
    "Lease": "nbcreds.secrets._lease",
    "revoke_leases": "nbcreds.secrets._lease",
    "source_order": "nbcreds._session",
    "add_change_listener": "nbcreds._session",
    "remove_change_listener": "nbcreds._session",
    "notify_change": "nbcreds._session",
    "current_namespace": "nbcreds._session",
    "list_namespaces": "nbcreds._session",
    "load_config": "nbcreds._session",
    "use_namespace": "nbcreds._session",
    "SecretListing": "nbcreds.secrets",
    "bind_secret": "nbcreds.secrets",
    "list_secrets": "nbcreds.secrets",
    "secret": "nbcreds.secrets",
    "save_credential": "nbcreds._config_write",
}

__all__ = [
    "MISSING",
    "AuthorizationDenied",
    "AuthorizationExpired",
    "BrowserUnavailable",
    "ConfigError",
    "CredentialConfigError",
    "CredentialError",
    "CredentialInfo",
    "CredentialListing",
    "CredentialNotFound",
    "KVBackendError",
    "KVConflict",
    "KVEntry",
    "KVError",
    "KVNotFound",
    "KVSecretRefused",
    "KVValueError",
    "Lease",
    "LoginError",
    "LoginRequired",
    "LoginState",
    "MaskingError",
    "NamespaceError",
    "NbcredsError",
    "RefreshTokenRejected",
    "ScanError",
    "Secret",
    "SecretBackendError",
    "SecretError",
    "SecretListing",
    "SecretNotFound",
    "SecretReadOnly",
    "TestResult",
    "TokenRequestError",
    "__version__",
    "add_change_listener",
    "auth",
    "bind_secret",
    "credential",
    "credential_info",
    "current_namespace",
    "delete_kv",
    "invalidate",
    "kv",
    "kv_entries",
    "kv_keys",
    "lease",
    "list_credentials",
    "list_namespaces",
    "list_secrets",
    "load_config",
    "load_ipython_extension",
    "login",
    "login_state",
    "logout",
    "mask",
    "masked",
    "notify_change",
    "plugins",
    "purge_kv",
    "put_kv",
    "remove_change_listener",
    "revoke_leases",
    "save_credential",
    "secret",
    "set_kv",
    "source_order",
    "test_credential",
    "unload_ipython_extension",
    "unmask",
    "use_namespace",
]


def _version() -> str:
    # the one version is labextension/package.json's, written into the package metadata
    # at build time; importlib.metadata is read on first access only
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nbcreds")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
        globals()[name] = value
        return value
    if name == "plugins":  # the public plugin API, a submodule
        return importlib.import_module("nbcreds.plugins")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbcreds' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _settings_before_first_value() -> None:
    # Registry listener: the first value registered loads the config (if nothing did
    # yet), so that the [masking] settings are pushed before anything is masked. Here,
    # not in _session, so that the session (config, plugins) is imported on first use
    # rather than by `import nbcreds` / `%load_ext nbcreds`.
    if len(_masking_registry):
        from ._session import load_settings_before_first_value

        load_settings_before_first_value()


_masking_registry.add_listener(_settings_before_first_value)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbcreds``: register the magics and install output masking."""
    from .ipython import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext nbcreds``: remove the magics' hooks and output masking."""
    from .ipython import unload_ipython_extension as _unload

    _unload(ipython)

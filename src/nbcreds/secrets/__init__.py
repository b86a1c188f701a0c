"""Secret sources (env, Vault / OpenBao, session) and the resolver over them."""

from __future__ import annotations

from ._base import SecretData, SecretSource, SourceHealth
from ._env import EnvSource
from ._resolver import SecretListing, bind_secret, list_secrets, secret
from ._session import SessionSource

__all__ = [
    "EnvSource",
    "SecretData",
    "SecretListing",
    "SecretSource",
    "SessionSource",
    "SourceHealth",
    "bind_secret",
    "list_secrets",
    "secret",
]

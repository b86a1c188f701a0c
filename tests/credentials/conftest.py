"""Real token servers on 127.0.0.1 for the credential tests (one per session)."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from nbcreds.testing.oauth import GitHubAppServer


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str
    algorithm: str


def _pair(private: Any, algorithm: str) -> KeyPair:
    from cryptography.hazmat.primitives import serialization

    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pub = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(pem, pub, algorithm)


@pytest.fixture(scope="session")
def keys() -> dict[str, KeyPair]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return {
        "rsa": _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        "rsa2": _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        "ec": _pair(ec.generate_private_key(ec.SECP256R1()), "ES256"),
        "ed25519": _pair(ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    }


@pytest.fixture(scope="session")
def _github_server() -> Iterator[GitHubAppServer]:
    with GitHubAppServer() as server:
        yield server


@pytest.fixture
def github(_github_server: GitHubAppServer) -> Iterator[GitHubAppServer]:
    _github_server.reset()
    _github_server.token_lifetime = 3600
    yield _github_server
    _github_server.reset()


@pytest.fixture(autouse=True)
def _fresh_engine(fresh_engine: None) -> None:
    """Every credential test starts with no cached token (tests/conftest.py)."""


_ids = itertools.count()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A fresh name per call, so clients registered on the session server never clash."""

    def make(prefix: str) -> str:
        return f"{prefix}-{next(_ids)}"

    return make


@pytest.fixture
def env_secret(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Provide secret NAME through SECRET_NAME (base64, Kestra's convention)."""

    def put(name: str, value: str) -> None:
        monkeypatch.setenv(f"SECRET_{name.upper()}", base64.b64encode(value.encode()).decode())

    return put


def toml_str(value: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for these characters)."""
    return json.dumps(value)

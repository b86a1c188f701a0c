"""Helpers for the scan / scrub tests: token-shaped strings made at runtime
(no realistic token is ever committed) and notebooks built with nbformat."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pem_key() -> str:
    """A PEM-shaped private key with a random body (not a real key)."""
    kind = "RSA " + "PRIVATE KEY"
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(4))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


class Tokens(dict[str, str]):
    """A dict whose repr shows the rule ids only: a failing test never prints a token."""

    def __repr__(self) -> str:
        return f"Tokens({sorted(self)})"


def make_tokens() -> Tokens:
    """rule id -> a fresh string of that shape."""
    import base64
    import json

    def b64url(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return Tokens(
        {
            "github-token": "ghp_" + rand(36),
            "jwt": ".".join(
                [
                    b64url({"alg": "HS256", "typ": "JWT"}),
                    b64url({"sub": rand(12), "iat": 1700000000}),
                    rand(43, ALNUM + "_-"),
                ]
            ),
            "aws-access-key": "AKIA" + rand(16, string.ascii_uppercase + string.digits),
            "private-key": pem_key(),
            "slack-token": "xoxb-" + rand(12, string.digits) + "-" + rand(24),
            "slack-webhook": "https://hooks.slack.com/services/T"
            + rand(8, string.ascii_uppercase)
            + "/B"
            + rand(8, string.ascii_uppercase)
            + "/"
            + rand(24),
            "google-api-key": "AIza" + rand(35, ALNUM + "_-"),
            "generic-assignment": "api_key = '" + rand(24) + "'",
        }
    )


@pytest.fixture
def tokens() -> Tokens:
    return make_tokens()


@pytest.fixture
def write_notebook(isolated_nbcreds: Path) -> Callable[..., Path]:
    """Write a v4.5 notebook from cells (and notebook metadata); returns its path."""

    def write(
        cells: list[Any],
        name: str = "nb.ipynb",
        metadata: dict[str, Any] | None = None,
        folder: Path | None = None,
    ) -> Path:
        nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata or {})
        nbformat.validate(nb)
        path = (folder or isolated_nbcreds) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    return write


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``nbcreds ...`` in-process; returns (exit code, stdout, stderr)."""
    from nbcreds.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def rand_str() -> Callable[..., str]:
    return rand

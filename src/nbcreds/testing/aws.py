"""A real moto server (``moto_server``, PyPI ``moto[server]``) standing in for AWS.

moto implements Secrets Manager and SSM Parameter Store (SecureString included)
over real HTTP, so the AWS source is tested through boto3 exactly as against
AWS. The server binds 127.0.0.1 on a free port and is stopped by PID.

In a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def moto() -> Iterator[MotoServer]:
        with MotoServer() as server:
            yield server

    def test_x(moto, monkeypatch):
        for k, v in moto.env().items():
            monkeypatch.setenv(k, v)
        # [sources.aws] endpoint_url = moto.url, region = moto.region

The access keys it hands out are random (moto accepts any) and registered with
the masker, so a test can assert they never leak.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any, Self

import httpx

from ._net import free_port
from ._process import ManagedServer, ServerProcess

__all__ = ["MotoServer", "MotoUnavailable", "find_moto_server"]


class MotoUnavailable(RuntimeError):
    """``moto_server`` is not installed or did not come up."""


def find_moto_server() -> str:
    """``moto_server`` next to the running Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / "moto_server"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("moto_server")
    if found:
        return found
    raise MotoUnavailable("moto_server not found: pip install 'moto[server]' (the test extra)")


class MotoServer(ManagedServer):
    """A ``moto_server`` process on 127.0.0.1:<free port>."""

    def __init__(self, *, region: str = "eu-west-1", startup_timeout: float = 60.0) -> None:
        self.region = region
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self.access_key_id = "AKIDTEST" + secrets.token_hex(6).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.directory = self._make_workdir("nbcreds-moto-")
        self._server = ServerProcess()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """AWS chain variables for this server: random keys, its region, no profile files."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": str(self.directory / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.directory / "aws-credentials"),
        }

    def register(self) -> None:
        """Register the secret access key with the masker (registries get reset)."""
        from ..masking import registry

        registry.register(self.secret_access_key, "moto secret access key")

    def client(self, service: str) -> Any:
        """A boto3 client of this server (for setting up test data)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        binary = find_moto_server()
        self.port = free_port()
        self._server.start(
            [binary, "-H", self.host, "-p", str(self.port)],
            log=self.directory / "moto.log",
            env={**os.environ, **self.env()},
        )
        self.register()
        self._server.wait_ready(
            self._answers,
            timeout=self.startup_timeout,
            interval=0.1,
            on_exit=lambda code: MotoUnavailable(f"moto_server exited ({code}): {self.log()}"),
            on_timeout=lambda: MotoUnavailable(f"moto_server did not answer: {self.log()}"),
        )
        return self

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/moto-api/", timeout=2)
        except httpx.HTTPError:
            return False
        return True

    def stop(self) -> None:
        """Stop the server by PID and remove its directory (as :meth:`close`)."""
        self._server.stop(timeout=10.0)
        self._remove_workdir()

    def log(self) -> str:
        path = self.directory / "moto.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

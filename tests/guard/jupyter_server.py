"""A real ``jupyter server`` for the save guard's tests: 127.0.0.1, a free port, a
random token, temporary root, config, data and runtime dirs.

The guard is NOT enabled on the command line: the server finds it where
``pip install`` put ``etc/jupyter/jupyter_server_config.d/nbcreds.json``, as a
user's server would.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from nbcreds.testing._net import free_port
from nbcreds.testing._process import stop_process

__all__ = ["JupyterServer", "isolated_env"]


def isolated_env(base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a test server runs in: no user-level Jupyter or nbcreds state."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NBCREDS_", "SECRET_", "JUPYTER"))
    }
    for name in ("jupyter-config", "jupyter-data", "jupyter-runtime", "xdg-config", "xdg-data"):
        (base / name).mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "XDG_CONFIG_HOME": str(base / "xdg-config"),
            "XDG_DATA_HOME": str(base / "xdg-data"),
            "PYTHONUNBUFFERED": "1",
            **(extra or {}),
        }
    )
    return env


class JupyterServer:
    """``jupyter server`` in a subprocess, with an authenticated httpx client."""

    def __init__(self, base: Path, *, log: Path, env: dict[str, str] | None = None) -> None:
        self.root = base / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = isolated_env(base, env)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.log_path = log
        self._proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
        )

    def start(self, timeout: float = 120) -> JupyterServer:
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited; see {self.log_path}")
            try:
                if self.client.get("/api/status").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter server did not answer in {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, timeout=20, kill_timeout=20, group=True)
        self.client.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- the contents API -------------------------------------------------------------

    def put_notebook(self, path: str, nb: dict[str, Any]) -> httpx.Response:
        """What JupyterLab sends for a save or an autosave."""
        return self.client.put(
            f"/api/contents/{path}", json={"type": "notebook", "format": "json", "content": nb}
        )

    def put_text(self, path: str, text: str) -> httpx.Response:
        return self.client.put(
            f"/api/contents/{path}", json={"type": "file", "format": "text", "content": text}
        )

    def checkpoint(self, path: str) -> httpx.Response:
        return self.client.post(f"/api/contents/{path}/checkpoints")

    def last_report(self, path: str, operation: str = "save") -> Any:
        params = {"path": path, "operation": operation}
        r = self.client.get("/nbcreds/guard/last", params=params)
        r.raise_for_status()
        return r.json()["report"]

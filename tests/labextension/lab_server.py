"""A real JupyterLab server for UI tests: 127.0.0.1, a free port, a random token,
temporary root, config, data and runtime dirs, and nothing left behind."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from nbcreds.testing._net import free_port
from nbcreds.testing._process import stop_process

__all__ = ["LabServer"]


class LabServer:
    """``jupyter lab`` in a subprocess; ``url(path)`` gives an authenticated address.

    The extension under test is found where ``pip install`` put it
    (``sys.prefix/share/jupyter/labextensions``); user-level dirs are temporary so
    a developer's own settings, workspaces or extensions never change the test.
    """

    def __init__(self, base: Path, *, env: dict[str, str] | None = None, log: Path) -> None:
        self.root = base / "root"
        self.config_dir = base / "jupyter-config"
        self.data_dir = base / "jupyter-data"
        self.runtime_dir = base / "jupyter-runtime"
        for d in (self.root, self.config_dir, self.data_dir, self.runtime_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.extra_env = env or {}
        self.log_path = log
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def start(self, timeout: float = 180) -> LabServer:
        # No first-run news prompt: nothing should cover the page.
        labconfig = self.config_dir / "labconfig"
        labconfig.mkdir(exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_DATA_DIR": str(self.data_dir),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=False",
            f"--LabApp.user_settings_dir={self.config_dir / 'lab-settings'}",
            f"--LabApp.workspaces_dir={self.config_dir / 'lab-workspaces'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")  # type: ignore[assignment]
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(self._proc, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {proc.returncode}; see {self.log_path}"
                )
            try:
                r = httpx.get(self.url("api/status"), timeout=5)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {timeout}s; see {self.log_path}")

    def shutdown_kernels(self) -> None:
        """Stop the kernels the server started (they run in their own sessions)."""
        try:
            kernels = httpx.get(self.url("api/kernels"), timeout=10).json()
            for kernel in kernels:
                httpx.delete(self.url(f"api/kernels/{kernel['id']}"), timeout=30)
        except (httpx.HTTPError, ValueError):
            pass

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.shutdown_kernels()
        proc, self._proc = self._proc, None
        if proc is not None:
            # The server and the kernels it started share the new session.
            stop_process(proc, timeout=20, kill_timeout=20, group=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

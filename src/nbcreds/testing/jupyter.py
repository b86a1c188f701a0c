"""Real Jupyter servers for tests and benchmarks: ``jupyter server`` (the save guard's
contents API) and ``jupyter lab`` (the sidebar, in a browser).

Each binds 127.0.0.1 on a free port with a random token, runs in temporary root,
config, data and runtime dirs under the ``base`` directory it is given (so a
developer's own settings, workspaces or extensions never change a test), logs to
``log``, and is stopped by process group (the server and the kernels it started):
SIGTERM, then SIGKILL. Extensions are found where ``pip install`` put them, as a
user's server finds them (the guard is never enabled on the command line)::

    with JupyterServer(tmp / "srv", log=tmp / "server.log") as server:
        server.put_notebook("a.ipynb", nb)      # what JupyterLab's save sends
        server.last_report("a.ipynb")           # what the guard did

    with LabServer(tmp / "lab", log=tmp / "lab.log") as lab:
        page.goto(lab.url("lab/tree/a.ipynb"))
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Self

import httpx

from ._net import free_port
from ._process import ManagedServer, ServerProcess

__all__ = ["JupyterProcess", "JupyterServer", "LabServer", "isolated_env"]


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


class JupyterProcess(ManagedServer):
    """``jupyter <app>`` in a subprocess of its own process group; ready when its
    ``/api/status`` answers 200 to the token."""

    app = "server"
    startup_timeout: float = 120

    def __init__(self, base: Path, *, log: Path, env: dict[str, str] | None = None) -> None:
        self.base = base
        self.root = base / "root"
        self.config_dir = base / "jupyter-config"
        self.data_dir = base / "jupyter-data"
        self.runtime_dir = base / "jupyter-runtime"
        for d in (self.root, self.config_dir, self.data_dir, self.runtime_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.extra_env = env or {}
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.log_path = log
        self._server = ServerProcess(group=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """An authenticated address of ``path`` (for a browser)."""
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def environment(self) -> dict[str, str]:
        """The server's environment (``env`` given to the constructor added)."""
        return isolated_env(self.base, self.extra_env)

    @property
    def env(self) -> dict[str, str]:
        return self.environment()

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            self.app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        return cmd

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and wait (``timeout`` s at most) until it answers."""
        if self._server.running:
            return self
        limit = self.startup_timeout if timeout is None else timeout
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")  # this run's output only
        try:
            self._server.start(
                self.command(), log=self.log_path, env=self.environment(), cwd=self.root
            )
            self._server.wait_ready(
                self._answers,
                timeout=limit,
                interval=0.3,
                on_exit=lambda code: RuntimeError(
                    f"jupyter {self.app} exited with {code}; see {self.log_path}"
                ),
                on_timeout=lambda: RuntimeError(
                    f"jupyter {self.app} did not answer within {limit:g}s; see {self.log_path}"
                ),
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        try:
            response = httpx.get(f"{self.base_url}/api/status", headers=self.headers, timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def shutdown_kernels(self) -> None:
        """Stop the kernels the server started (they run in its process group)."""
        try:
            kernels = httpx.get(f"{self.base_url}/api/kernels", headers=self.headers, timeout=10)
            for kernel in kernels.json():
                httpx.delete(
                    f"{self.base_url}/api/kernels/{kernel['id']}", headers=self.headers, timeout=30
                )
        except (httpx.HTTPError, ValueError):
            pass

    def stop(self) -> None:
        if self._server.running:
            self.shutdown_kernels()
        # The server and the kernels it started share the new session.
        self._server.stop(timeout=20, kill_timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class JupyterServer(JupyterProcess):
    """``jupyter server``, with an authenticated httpx ``client`` on its REST API."""

    def __init__(
        self,
        base: Path,
        *,
        log: Path,
        env: dict[str, str] | None = None,
        client_timeout: float = 60,
    ) -> None:
        super().__init__(base, log=log, env=env)
        self.client = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=client_timeout
        )

    def close(self) -> None:
        super().close()
        self.client.close()

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
        """What the save guard did on the last ``operation`` of ``path``."""
        params = {"path": path, "operation": operation}
        r = self.client.get("/nbcreds/guard/last", params=params)
        r.raise_for_status()
        return r.json()["report"]


class LabServer(JupyterProcess):
    """``jupyter lab``; ``url(path)`` gives an authenticated address.

    The extension under test is found where ``pip install`` put it
    (``sys.prefix/share/jupyter/labextensions``); user-level Jupyter dirs are
    temporary. The rest of the environment is inherited (``env`` adds to it).
    """

    app = "lab"
    startup_timeout: float = 180

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_DATA_DIR": str(self.data_dir),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def command(self) -> list[str]:
        # No first-run news prompt: nothing should cover the page.
        labconfig = self.config_dir / "labconfig"
        labconfig.mkdir(exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        return [
            *super().command(),
            "--ServerApp.disable_check_xsrf=False",
            f"--LabApp.user_settings_dir={self.config_dir / 'lab-settings'}",
            f"--LabApp.workspaces_dir={self.config_dir / 'lab-workspaces'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

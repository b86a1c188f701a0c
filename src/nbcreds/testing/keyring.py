"""A real Secret Service for tests: a private D-Bus session bus with gnome-keyring on it.

The ``keyring`` library's Linux backend (SecretService, through ``secretstorage``
and ``jeepney``) talks to whatever Secret Service is on the D-Bus *session* bus
named by ``$DBUS_SESSION_BUS_ADDRESS``. This module starts both of its own:

1. ``dbus-daemon --session --nofork --print-address`` (Debian's ``dbus-daemon``),
   listening on a socket in a private temporary directory;
2. ``gnome-keyring-daemon --foreground --unlock --components=secrets`` on that
   bus, with its own ``XDG_DATA_HOME`` / ``XDG_RUNTIME_DIR`` (so it never sees or
   touches the user's keyrings). ``--unlock`` reads a password on stdin and
   creates the ``login`` collection unlocked, which becomes the default
   collection: nothing ever prompts.

In a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def secret_service() -> Iterator[SecretServiceBus]:
        with SecretServiceBus() as bus:
            yield bus

    @pytest.fixture
    def keyring_env(secret_service, monkeypatch):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)

Processes started with that variable set (kernels) use the same keyring.
Both daemons are stopped by PID. ``scripts/test`` installs ``gnome-keyring``
and ``dbus`` (Debian); :func:`find_daemons` says what is missing otherwise.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any, Self

from ._process import ManagedServer, ServerProcess

__all__ = ["SecretServiceBus", "SecretServiceUnavailable", "find_daemons"]

_SECRETS_NAME = "org.freedesktop.secrets"


class SecretServiceUnavailable(RuntimeError):
    """dbus-daemon or gnome-keyring-daemon is missing or did not come up."""


def find_daemons() -> tuple[str, str]:
    """Paths of ``dbus-daemon`` and ``gnome-keyring-daemon``."""
    dbus = shutil.which("dbus-daemon")
    gkd = shutil.which("gnome-keyring-daemon")
    missing = [n for n, p in (("dbus-daemon", dbus), ("gnome-keyring-daemon", gkd)) if not p]
    if missing or dbus is None or gkd is None:
        raise SecretServiceUnavailable(
            f"{' and '.join(missing)} not found: install the Debian packages 'dbus' and "
            "'gnome-keyring' (scripts/test does it)"
        )
    return dbus, gkd


class SecretServiceBus(ManagedServer):
    """A private session bus with an unlocked gnome-keyring Secret Service on it."""

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.directory = self._make_workdir("nbcreds-keyring-", mode=0o700)
        self.address = ""
        self._dbus = ServerProcess()
        self._keyring = ServerProcess()

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        dbus, gkd = find_daemons()
        socket_path = self.directory / "bus"
        bus = self._dbus.start(
            [
                dbus,
                "--session",
                "--nofork",
                "--nopidfile",
                "--nosyslog",
                f"--address=unix:path={socket_path}",
                "--print-address=1",
            ],
            stdout=subprocess.PIPE,
            env=self._env(),
        )
        self.address = self._read_address(bus)
        runtime = self.directory / "runtime"
        runtime.mkdir(mode=0o700)
        keyring = self._keyring.start(
            [gkd, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            log=self.directory / "gnome-keyring.log",
            env=self._env(runtime),
        )
        assert keyring.stdin is not None
        # the login keyring's password; the collection is created unlocked with it
        keyring.stdin.write(secrets.token_hex(16).encode())
        keyring.stdin.close()
        self._keyring.wait_ready(
            self._service_owned,
            timeout=self.startup_timeout,
            on_exit=lambda code: SecretServiceUnavailable(
                f"gnome-keyring-daemon exited ({code}): {self.log()[-500:]}"
            ),
            on_timeout=lambda: SecretServiceUnavailable(
                f"gnome-keyring-daemon did not own {_SECRETS_NAME}: {self.log()[-500:]}"
            ),
        )
        return self

    def stop(self) -> None:
        """Stop both daemons by PID and remove the directory (as :meth:`close`)."""
        self._keyring.stop(timeout=5.0)
        self._dbus.stop(timeout=5.0)
        self._remove_workdir()

    def env(self) -> dict[str, str]:
        """The variables a process needs to use this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def log(self) -> str:
        path = self.directory / "gnome-keyring.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- internals --------------------------------------------------------------------

    def _env(self, runtime: Path | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.directory),
            "XDG_DATA_HOME": str(self.directory / "data"),
            "XDG_CONFIG_HOME": str(self.directory / "config"),
            "XDG_CACHE_HOME": str(self.directory / "cache"),
            "LANG": "C.UTF-8",
        }
        if runtime is not None:
            env["XDG_RUNTIME_DIR"] = str(runtime)
            env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return env

    def _read_address(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], self.startup_timeout)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line:
            raise SecretServiceUnavailable("dbus-daemon did not print its address")
        return line

    def _service_owned(self) -> bool:
        """Whether ``org.freedesktop.secrets`` is owned on the bus (jeepney, keyring's own
        D-Bus library, asks the bus)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        with open_dbus_connection(bus=self.address) as conn:
            reply: Any = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", (_SECRETS_NAME,)), timeout=5
            )
        return bool(reply.body[0])

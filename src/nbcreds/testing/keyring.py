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
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ._process import stop_process

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


class SecretServiceBus:
    """A private session bus with an unlocked gnome-keyring Secret Service on it."""

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="nbcreds-keyring-"))
        self.directory.chmod(0o700)
        self.address = ""
        self._dbus: subprocess.Popen[bytes] | None = None
        self._keyring: subprocess.Popen[bytes] | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        dbus, gkd = find_daemons()
        socket_path = self.directory / "bus"
        self._dbus = subprocess.Popen(
            [
                dbus,
                "--session",
                "--nofork",
                "--nopidfile",
                "--nosyslog",
                f"--address=unix:path={socket_path}",
                "--print-address=1",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env(),
        )
        self.address = self._read_address(self._dbus)
        runtime = self.directory / "runtime"
        runtime.mkdir(mode=0o700)
        log = (self.directory / "gnome-keyring.log").open("wb")
        try:
            self._keyring = subprocess.Popen(
                [gkd, "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(runtime),
            )
        finally:
            log.close()
        assert self._keyring.stdin is not None
        # the login keyring's password; the collection is created unlocked with it
        self._keyring.stdin.write(secrets.token_hex(16).encode())
        self._keyring.stdin.close()
        self._wait_for_service()
        return self

    def stop(self) -> None:
        for process in (self._keyring, self._dbus):
            if process is not None:
                stop_process(process, timeout=5.0)
                if process.stdout is not None:
                    process.stdout.close()
        self._keyring = self._dbus = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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

    def _wait_for_service(self) -> None:
        """Until ``org.freedesktop.secrets`` is owned on the bus (jeepney, keyring's own
        D-Bus library, asks the bus)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._keyring is not None and self._keyring.poll() is not None:
                raise SecretServiceUnavailable(
                    f"gnome-keyring-daemon exited ({self._keyring.returncode}): {self.log()[-500:]}"
                )
            owned = False
            with open_dbus_connection(bus=self.address) as conn:
                reply: Any = conn.send_and_get_reply(
                    new_method_call(bus, "NameHasOwner", "s", (_SECRETS_NAME,)), timeout=5
                )
                owned = bool(reply.body[0])
            if owned:
                return
            if time.monotonic() > deadline:
                raise SecretServiceUnavailable(
                    f"gnome-keyring-daemon did not own {_SECRETS_NAME}: {self.log()[-500:]}"
                )
            time.sleep(0.05)

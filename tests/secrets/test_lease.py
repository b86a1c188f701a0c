"""Vault dynamic secrets: OpenBao's database engine issuing real PostgreSQL logins."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nbcreds as nc
from nbcreds import SecretBackendError, SecretError
from nbcreds.masking import registry
from nbcreds.secrets import _lease
from nbcreds.testing.leaks import find_leaks

from .conftest import DatabaseLab, SideChannel

pytestmark = [pytest.mark.vault, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _no_leases_left() -> Any:
    yield
    _lease.revoke_all()


def test_lease_gives_a_working_masked_login_and_revoke_ends_it(lease_vault: DatabaseLab) -> None:
    taken = nc.lease(lease_vault.creds_path)
    user, password = taken.data["username"], taken.data["password"]
    assert isinstance(user, nc.Secret)
    assert isinstance(password, nc.Secret)
    assert repr(password) == f"<Secret {lease_vault.creds_path}#password ****>"
    # every field, the username too, is registered before anyone sees it
    assert user.reveal() in registry.values()
    assert password.reveal() in registry.values()
    assert taken.lease_id.startswith(lease_vault.creds_path + "/")
    assert taken.renewable
    left = (taken.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 3000 < left <= 3600
    assert find_leaks(repr(taken), [user.reveal(), password.reveal()]) == []
    assert lease_vault.can_login(user, password)

    taken.revoke()
    assert taken.revoked
    assert not lease_vault.can_login(user, password)
    assert not lease_vault.role_exists(user)
    taken.revoke()  # idempotent
    with pytest.raises(SecretError, match="was revoked"):
        taken.renew()


def test_renew_extends_the_lease(lease_vault: DatabaseLab) -> None:
    taken = nc.lease(lease_vault.creds_path)
    first = taken.expires_at
    time.sleep(1.1)  # expires_at has second resolution in what Vault returns
    renewed = taken.renew()
    assert renewed == taken.expires_at
    assert renewed > first
    shorter = taken.renew(increment=120)
    assert (shorter - dt.datetime.now(dt.UTC)).total_seconds() <= 121
    assert lease_vault.can_login(taken["username"], taken["password"])


def test_context_manager_revokes(lease_vault: DatabaseLab) -> None:
    with nc.lease(lease_vault.creds_path) as taken:
        user, password = taken["username"], taken["password"]
        assert lease_vault.can_login(user, password)
    assert not lease_vault.can_login(user, password)


def test_background_renewal_before_expiry(
    lease_vault: DatabaseLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 6 s lease is renewed by the keeper's thread when a third of it is left (the
    default refresh_before_expiry, PT1M, is longer than the lease); observed through
    the renewals themselves, not by timing."""
    renewals: list[tuple[str, dt.datetime, dt.datetime]] = []
    done = threading.Event()
    original = _lease.Lease.renew

    def spy(self: _lease.Lease, increment: float | None = None) -> dt.datetime:
        before = self.expires_at
        result = original(self, increment)
        renewals.append((threading.current_thread().name, before, result))
        if len(renewals) == 2:
            done.set()
        return result

    monkeypatch.setattr(_lease.Lease, "renew", spy)
    taken = nc.lease(lease_vault.short_path)
    assert taken.renewing
    assert done.wait(timeout=60)
    assert [name for name, _, _ in renewals[:2]] == ["nbcreds-lease-keeper"] * 2
    assert all(after > before for _, before, after in renewals)
    time.sleep(max((renewals[0][1] - dt.datetime.now(dt.UTC)).total_seconds() + 1, 0))
    # past the first expiry: the login still works because it was renewed
    assert lease_vault.can_login(taken["username"], taken["password"])
    taken.revoke()
    assert not lease_vault.can_login(taken["username"], taken["password"])


def test_keeper_stops_cleanly() -> None:
    keeper = _lease.LeaseKeeper()
    keeper.stop()  # never started: nothing to join
    assert keeper.leases() == []


def test_revoke_all_at_unload_ext(lease_vault: DatabaseLab) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "nbcreds")
        ip.run_line_magic("secret", f"lease {lease_vault.creds_path} --as db")
        taken = ip.user_ns["db"]
        assert isinstance(taken, nc.Lease)
        user, password = taken["username"], taken["password"]
        assert lease_vault.can_login(user, password)
        ip.run_line_magic("unload_ext", "nbcreds")
        assert taken.revoked
        assert not lease_vault.can_login(user, password)
    finally:
        InteractiveShell.clear_instance()


def test_lease_magic_needs_as(lease_vault: DatabaseLab) -> None:
    from IPython.core.error import UsageError

    from nbcreds.ipython._magics import NbcredsMagics

    magics = NbcredsMagics(shell=None)
    with pytest.raises(UsageError, match="--as VAR"):
        magics.secret(f"lease {lease_vault.creds_path}")


def test_interpreter_exit_revokes(lease_vault: DatabaseLab, isolated_nbcreds: Path) -> None:
    """A plain Python process takes a lease and exits: atexit revokes it."""
    config = isolated_nbcreds / "nbcreds.toml"
    config.write_text(
        f'[sources.vault]\nurl = "{lease_vault.bao.url}"\nauth = "token"\n'
        'token = "env:LEASE_VAULT_TOKEN"\n'
    )
    login = lease_vault.login_url("USER", "PASSWORD")
    code = textwrap.dedent(
        f"""
        import psycopg, nbcreds as nc
        taken = nc.lease({lease_vault.creds_path!r})
        user, password = taken["username"].reveal(), taken["password"].reveal()
        url = {login!r}.replace("USER", user, 1).replace("PASSWORD", password, 1)
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        print("login ok as", user)  # the username only: the password stays in here
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=isolated_nbcreds,
        timeout=120,
    )
    assert "login ok as v-" in out.stdout
    user = out.stdout.split()[-1]
    assert not lease_vault.role_exists(user)  # revoked at exit: the role is dropped


def test_unknown_path_says_what_to_check(lease_vault: DatabaseLab) -> None:
    with pytest.raises(SecretBackendError, match=r"HTTP 400.*unknown role: nope"):
        nc.lease("database/creds/nope")
    with pytest.raises(SecretBackendError, match=r"permission denied .* nothing/here"):
        nc.lease("nothing/here")  # outside the token's policy
    with pytest.raises(SecretError, match="needs the path"):
        nc.lease("")


def test_no_vault_configured(write_config: Any) -> None:
    write_config("")
    with pytest.raises(nc.ConfigError, match=r"\[sources.vault\]"):
        nc.lease("database/creds/readonly")


def test_bad_refresh_before_expiry_is_refused_at_load(
    lease_vault: DatabaseLab, write_config: Any
) -> None:
    with pytest.raises(nc.ConfigError, match="refresh_before_expiry"):
        write_config(
            f'[sources.vault]\nurl = "{lease_vault.bao.url}"\nauth = "token"\n'
            'token = "env:LEASE_VAULT_TOKEN"\nrefresh_before_expiry = "soon"\n'
        )


def test_kernel_shutdown_revokes(
    lease_vault: DatabaseLab, isolated_nbcreds: Path, side_channel: SideChannel
) -> None:
    """A real kernel (jupyter_client) takes a lease; a graceful shutdown revokes it. The
    login is checked from outside the kernel: it works while the kernel runs, then not."""
    import os

    from jupyter_client.manager import KernelManager

    (isolated_nbcreds / "nbcreds.toml").write_text(
        f'[sources.vault]\nurl = "{lease_vault.bao.url}"\nauth = "token"\n'
        'token = "env:LEASE_VAULT_TOKEN"\n'
    )
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(isolated_nbcreds), env=dict(os.environ))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        code = (
            "%load_ext nbcreds\n"
            f"%secret lease {lease_vault.creds_path} --as db\n"
            + side_channel.sender_code('(db["username"].reveal(), db["password"].reveal())')
        )
        msg_id = kc.execute(code)
        user, password = side_channel.receive()
        registry.register(password, "leased password")
        registry.register(user, "leased user")
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"].get("ename")
        assert lease_vault.can_login(user, password)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # a shutdown request, as JupyterLab sends it
    assert not lease_vault.can_login(user, password)
    assert not lease_vault.role_exists(user)

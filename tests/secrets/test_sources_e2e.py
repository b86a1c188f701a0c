"""End to end: one notebook, a secret from each new source and a leased database login.

Real components, all started by the test command: a ``.env`` file, gnome-keyring on a
private D-Bus, a moto server (Secrets Manager and SSM), OpenBao's database engine on a
real PostgreSQL, and a real kernel driven by nbclient. Every value is masked in what
the kernel sent and in the saved notebook; the lease is revoked when the kernel shuts
down, checked from outside the kernel.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from nbcreds.masking import registry
from nbcreds.testing.aws import MotoServer
from nbcreds.testing.leaks import find_leaks

from .conftest import DatabaseLab, SideChannel

pytestmark = [pytest.mark.vault, pytest.mark.postgres, pytest.mark.slow]


def _value(prefix: str) -> str:
    # characters several encodings change, so the scan's encoded forms differ
    return f"{prefix}-{secrets.token_urlsafe(12)}/+="


def test_notebook_binds_every_new_source_and_revokes_its_lease(
    isolated_nbcreds: Path,
    keyring_env: str,
    aws_env: MotoServer,
    lease_vault: DatabaseLab,
    side_channel: SideChannel,
) -> None:
    import keyring

    work = isolated_nbcreds
    values = {
        "DOTENV_KEY": _value("dotenv"),
        "KR_KEY": _value("keyring"),
        "API_TOKEN": _value("sm"),
        "DB_PASSWORD": _value("ssm"),
    }
    for v in values.values():
        registry.register(v, "e2e")
    env_file = work / ".env"
    env_file.write_text(f"DOTENV_KEY='{values['DOTENV_KEY']}'\n")
    env_file.chmod(0o600)
    keyring.set_password("nbcreds", "acme.team/KR_KEY", values["KR_KEY"])
    aws_env.client("secretsmanager").create_secret(
        Name="prod/api", SecretString=json.dumps({"token": values["API_TOKEN"], "user": "etl"})
    )
    aws_env.client("ssm").put_parameter(
        Name="/team/db/password", Value=values["DB_PASSWORD"], Type="SecureString"
    )
    (work / "nbcreds.toml").write_text(
        'namespace = "acme.team"\n'
        "[sources]\n"
        'order = ["session", "env", "dotenv", "keyring"]\n'
        "[sources.aws]\n"
        f'endpoint_url = "{aws_env.url}"\nregion = "{aws_env.region}"\n'
        "[sources.vault]\n"
        f'url = "{lease_vault.bao.url}"\nauth = "token"\ntoken = "env:LEASE_VAULT_TOKEN"\n'
        '[namespaces."acme.team".secrets]\n'
        'API_TOKEN = "aws:prod/api#token"\n'
        'DB_PASSWORD = "aws-ssm:/team/db/password"\n'
    )
    pg = lease_vault.postgres
    cells = [
        "%load_ext nbcreds",
        "%secret DOTENV_KEY\n%secret KR_KEY\n%secret API_TOKEN\n%secret DB_PASSWORD",
        "print(DOTENV_KEY, KR_KEY, API_TOKEN, DB_PASSWORD)\n"
        "print([s.reveal() for s in (DOTENV_KEY, KR_KEY, API_TOKEN, DB_PASSWORD)])\n"
        "{s.label: s.source for s in (DOTENV_KEY, KR_KEY, API_TOKEN, DB_PASSWORD)}",
        f"%secret lease {lease_vault.creds_path} --as db",
        'print(db["username"], db["password"])\ndb.data',
        "import psycopg\n"
        "user, pw = db['username'], db['password']\n"
        f'url = f"postgresql://{{user}}:{{pw}}@{pg.host}:{pg.port}/{pg.dbname}"\n'
        "with psycopg.connect(url, connect_timeout=10) as conn:\n"
        '    print("leased login ok", conn.execute("SELECT current_user").fetchone())\n'
        + side_channel.sender_code('(db["username"].reveal(), db["password"].reveal())'),
        "%secret list",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(work)}},
    )
    received: dict[str, Any] = {}

    def receive() -> None:
        received["login"] = side_channel.receive()

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        receiver.join(timeout=60)
        user, password = received["login"]
        registry.register(user, "leased user")
        registry.register(password, "leased password")
        assert lease_vault.can_login(user, password)  # from outside, while the kernel runs
    # the kernel was shut down gracefully (a shutdown request): the lease is revoked
    assert not lease_vault.can_login(user, password)
    assert not lease_vault.role_exists(user)

    saved = work / "sources.ipynb"
    nbformat.write(nb, saved)
    ipynb = saved.read_text()
    every = [*values.values(), user, password]
    assert find_leaks(ipynb, every) == []
    outputs = [
        "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.get("outputs", []))
        for cell in nb.cells
    ]
    assert "****" in outputs[2]
    assert "'DOTENV_KEY': 'dotenv'" in outputs[2]
    assert "'KR_KEY': 'keyring'" in outputs[2]
    assert "'API_TOKEN': 'aws (acme.team)'" in outputs[2]
    assert "'DB_PASSWORD': 'aws-ssm (acme.team)'" in outputs[2]
    assert "fields password, username" in outputs[3]
    assert "leased login ok" in outputs[5]
    for name in ("DOTENV_KEY", "KR_KEY", "API_TOKEN", "DB_PASSWORD"):
        assert name in outputs[6]

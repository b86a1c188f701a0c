"""Fixtures for the save guard: one real ``jupyter server`` per test session, and
token-shaped strings made at runtime (no realistic token is ever committed)."""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbcreds.testing.jupyter import JupyterServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ALNUM = string.ascii_letters + string.digits

#: a configured secret the server resolves with [guard] resolve = true
DB_PASSWORD = "guard-db-pw: " + secrets.token_urlsafe(18)


def github_token() -> str:
    return "ghp_" + "".join(secrets.choice(ALNUM) for _ in range(36))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("guard-server")
    log = ARTIFACTS / "guard-jupyter-server.log"
    with JupyterServer(base, log=log, env={"GUARD_DB_PASSWORD": DB_PASSWORD}) as srv:
        yield srv


@pytest.fixture
def set_config(server: JupyterServer) -> Iterator[Any]:
    """Write (or, with None, remove) the server root's nbcreds.toml; removed afterwards."""
    path = server.root / "nbcreds.toml"

    def write(text: str | None) -> Path:
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
        return path

    write(None)
    yield write
    write(None)


def notebook(*cells: Any) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook(
        cells=list(cells),
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.validate(nb)
    return dict(nbformat.from_dict(nb))


def printed(source: str, text: str) -> Any:
    """A code cell with ``source`` whose stdout showed ``text``."""
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()

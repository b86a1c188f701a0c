"""Headless runs: papermill ``--engine nbcreds``, ``nbcreds run`` and the nbconvert
preprocessor, on a notebook that prints a registered value, a token nobody
registered, and takes a secret parameter. Real kernels, real subprocesses."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbcreds.testing.jupyter import isolated_env
from nbcreds.testing.leaks import assert_no_leak

from .conftest import github_token

pytestmark = pytest.mark.timeout(300)

API_TOKEN = "api-" + secrets.token_urlsafe(24)  # what SECRET_API_TOKEN holds (base64)
SHAPE_TOKEN = github_token()  # printed by the kernel, never registered with the masker


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _notebook(path: Path, *, fail: bool = False) -> Path:
    params = nbformat.v4.new_code_cell('token = "none"')
    params.metadata["tags"] = ["parameters"]
    cells = [
        params,
        nbformat.v4.new_code_cell(
            "import hashlib, os\nimport nbcreds as nc\n"
            "api = nc.secret('API_TOKEN')\n"
            "print('registered:', api)\n"
            "print('parameter:', token)\n"
            "print('fingerprint:', hashlib.sha256(str.__str__(token).encode()).hexdigest()[:16])\n"
            "print('unregistered:', os.environ['GUARD_SHAPE_TOKEN'])"
        ),
    ]
    if fail:
        cells.append(nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.write(nb, path)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(
        tmp_path / "env",
        {
            "SECRET_API_TOKEN": base64.b64encode(API_TOKEN.encode()).decode(),
            "GUARD_SHAPE_TOKEN": SHAPE_TOKEN,
        },
    )


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _texts(nb: Any) -> str:
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))


def _papermill_with_reference(
    src: Path, out: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """papermill with the nbcreds engine, parameter ``token`` given as a reference."""
    engine = ["--engine", "nbcreds", "-p", "token", "secret:API_TOKEN", "-k", "python3"]
    return _run([sys.executable, "-m", "papermill", str(src), str(out), *engine], cwd, env)


def test_papermill_engine_resolves_references_in_the_kernel_and_writes_a_clean_notebook(
    tmp_path: Path, env: dict[str, str]
) -> None:
    src = _notebook(tmp_path / "in.ipynb")
    out = tmp_path / "out.ipynb"
    done = _papermill_with_reference(src, out, tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    raw = out.read_text()
    assert_no_leak(raw, [API_TOKEN, SHAPE_TOKEN])
    assert_no_leak(done.stdout + done.stderr, [API_TOKEN, SHAPE_TOKEN])
    nb = nbformat.reads(raw, as_version=4)
    # the reference, never the value, in the injected cell and the metadata
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "from nbcreds.guard import parameter as _param" in injected.source
    assert "token = _param('token', 'secret:API_TOKEN')" in injected.source
    assert nb.metadata.papermill.parameters == {"token": "secret:API_TOKEN"}
    text = _texts(nb)
    # resolved in the kernel (the fingerprint of the value), masked on the way out
    assert f"fingerprint: {_fingerprint(API_TOKEN)}" in text
    assert "registered: ****" in text or "registered: <Secret" in text
    assert "parameter: ****" in text
    # the token nobody registered was caught by the guard before the file was written
    assert "unregistered: ****" in text
    assert "github-token" in done.stderr


def test_papermill_engine_in_block_mode_writes_nothing_with_a_secret(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "nbcreds.toml").write_text('[guard]\nmode = "block"\n')
    src = _notebook(tmp_path / "in.ipynb")
    out = tmp_path / "out.ipynb"
    done = _papermill_with_reference(src, out, tmp_path, env)
    assert done.returncode != 0
    assert "refused" in done.stderr
    assert "cell 3" in done.stderr  # after the injected cell
    if out.exists():
        assert_no_leak(out.read_text(), [API_TOKEN, SHAPE_TOKEN])


def test_nbcreds_run_executes_with_masking_and_scrubs(tmp_path: Path, env: dict[str, str]) -> None:
    src = _notebook(tmp_path / "in.ipynb")
    out = tmp_path / "out.ipynb"
    done = _run([sys.executable, "-m", "nbcreds.cli", "run", str(src), str(out)], tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    raw = out.read_text()
    assert_no_leak(raw, [API_TOKEN, SHAPE_TOKEN])
    assert_no_leak(done.stdout + done.stderr, [API_TOKEN, SHAPE_TOKEN])
    text = _texts(nbformat.reads(raw, as_version=4))
    assert "registered: ****" in text
    assert "unregistered: ****" in text
    assert "parameter: none" in text
    assert json.loads(src.read_text())["cells"][1]["outputs"] == []  # the input is untouched


def test_nbcreds_run_fails_on_a_failing_cell_and_still_writes_a_clean_notebook(
    tmp_path: Path, env: dict[str, str]
) -> None:
    src = _notebook(tmp_path / "in.ipynb", fail=True)
    done = _run([sys.executable, "-m", "nbcreds.cli", "run", str(src)], tmp_path, env)
    assert done.returncode == 1
    assert "RuntimeError" in done.stderr
    raw = src.read_text()  # in place by default
    assert "boom" in raw
    assert_no_leak(raw, [API_TOKEN, SHAPE_TOKEN])


def test_nbcreds_run_bad_input_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    done = _run([sys.executable, "-m", "nbcreds.cli", "run", "bad.ipynb"], tmp_path, env)
    assert done.returncode == 2
    assert "cannot read" in done.stderr


def test_nbconvert_preprocessor(tmp_path: Path, env: dict[str, str]) -> None:
    src = _notebook(tmp_path / "in.ipynb")
    done = _run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--output",
            "converted.ipynb",
            "--Exporter.preprocessors=nbcreds.guard.NbcredsExecutePreprocessor",
            str(src),
        ],
        tmp_path,
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    raw = (tmp_path / "converted.ipynb").read_text()
    assert_no_leak(raw, [API_TOKEN, SHAPE_TOKEN])
    text = _texts(nbformat.reads(raw, as_version=4))
    assert "registered: ****" in text
    assert "unregistered: ****" in text

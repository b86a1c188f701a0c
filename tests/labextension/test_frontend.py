"""The TypeScript side, from the one test command: vitest for the panel's logic,
tsc for its types, and the installed extension as JupyterLab sees it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABEXT = ROOT / "labextension"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("jlpm") is None,
    reason="node and jlpm (from jupyterlab) are needed to test the TypeScript sources",
)


def _jlpm(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1"}
    return subprocess.run(
        ["jlpm", *args], cwd=LABEXT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """``pip install -e .`` ran ``jlpm install``; an install that skipped the build did not."""
    if not (LABEXT / "node_modules" / ".bin" / "vitest").exists():
        done = _jlpm("install", "--immutable")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return LABEXT / "node_modules"


@needs_node
def test_vitest_panel_logic(node_modules: Path) -> None:
    done = _jlpm("test")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "passed" in done.stdout
    assert " failed" not in done.stdout


@needs_node
def test_typescript_types_check(node_modules: Path) -> None:
    done = _jlpm("typecheck")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]


def test_versions_agree() -> None:
    package = json.loads((LABEXT / "package.json").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert package["name"] == "nbcreds"
    # one version: package.json's, read by hatch-nodejs-version
    assert "version" in pyproject["project"]["dynamic"]
    assert "version" not in pyproject["project"]
    assert pyproject["tool"]["hatch"]["version"]["source"] == "nodejs"
    assert package["version"] == importlib.metadata.version("nbcreds")
    assert package["jupyterlab"]["outputDir"] == "../src/nbcreds/labextension"


def test_lockfile_is_committed() -> None:
    done = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "labextension/yarn.lock"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode == 128 and "not a git repository" in done.stderr:
        pytest.skip("not a git checkout")
    assert done.returncode == 0, "labextension/yarn.lock must be committed"


def test_jupyterlab_lists_the_extension_enabled() -> None:
    pytest.importorskip("jupyterlab")
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out = done.stdout + done.stderr
    line = next((ln for ln in out.splitlines() if ln.strip().startswith("nbcreds ")), None)
    assert line is not None, f"nbcreds is not installed as a labextension:\n{out[-2000:]}"
    assert "enabled" in line
    assert "OK" in line

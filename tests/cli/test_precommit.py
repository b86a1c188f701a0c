"""The pre-commit hook: its manifest is valid for pre-commit, and pre-commit runs it.

``pre-commit try-repo <this repo> nbcreds-scan`` builds a fresh virtualenv from
PyPI (nbcreds and all its dependencies, plus the JupyterLab extension build):
about 6 minutes here, too slow for the suite, so it runs only with
``NBCREDS_SLOW_TESTS=1``. The always-on test runs the same entry and file
pattern through ``pre-commit run`` with a ``repo: local`` / ``language: system``
hook, using the ``nbcreds`` installed in this virtualenv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from nbformat.v4 import new_code_cell, new_output

from nbcreds.testing.leaks import assert_no_leak

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent


def hook(hook_id: str) -> dict[str, Any]:
    hooks = yaml.safe_load(MANIFEST.read_text())
    return next(h for h in hooks if h["id"] == hook_id)


def git_repo(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def pre_commit(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(cwd.parent / "pre-commit-home"),
    }
    return subprocess.run(
        [str(BIN / "pre-commit"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_manifest_is_valid_for_pre_commit() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(MANIFEST))}
    assert set(hooks) == {"nbcreds-scan", "nbcreds-scrub"}
    scan = hooks["nbcreds-scan"]
    assert scan["language"] == "python"
    assert scan["entry"].split()[:2] == ["nbcreds", "scan"]
    import re

    pattern = re.compile(scan["files"])
    for name in (
        "a.ipynb",
        "b.py",
        "c.md",
        "d.txt",
        "e.json",
        "f.yaml",
        "g.yml",
        "h.toml",
        "i.cfg",
        "j.ini",
        "k.env",
    ):
        assert pattern.search(name), name
    assert not pattern.search("image.png")


def test_pre_commit_runs_the_hook(
    tokens: dict[str, str],
    write_notebook: Callable[..., Path],
    isolated_nbcreds: Path,
) -> None:
    repo = isolated_nbcreds / "project"
    git_repo(repo)
    scan = hook("nbcreds-scan")
    config = {
        "repos": [
            {
                "repo": "local",
                "hooks": [
                    {
                        "id": scan["id"],
                        "name": scan["name"],
                        "entry": scan["entry"],
                        "language": "system",
                        "files": scan["files"],
                    }
                ],
            }
        ]
    }
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    cell = new_code_cell("print(token)")
    cell.outputs = [new_output("stream", name="stdout", text=tokens["github-token"] + "\n")]
    write_notebook([cell], name="analysis.ipynb", folder=repo)
    (repo / "picture.png").write_bytes(tokens["aws-access-key"].encode())  # not matched
    (repo / "clean.py").write_text("print('hello')\n")
    files = ["analysis.ipynb", "picture.png", "clean.py"]
    subprocess.run(["git", "add", *files, ".pre-commit-config.yaml"], cwd=repo, check=True)

    result = pre_commit(repo, "run", "--files", *files)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "nbcreds scan" in result.stdout
    assert "Failed" in result.stdout
    assert "analysis.ipynb:cell 1:output 1 (stream stdout): GitHub token" in result.stdout
    assert "picture.png" not in result.stdout  # outside the hook's files pattern
    assert_no_leak(result.stdout + result.stderr, tokens.values())

    done = subprocess.run(
        [str(BIN / "nbcreds"), "scrub", "analysis.ipynb"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = pre_commit(repo, "run", "--files", *files)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Passed" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("NBCREDS_SLOW_TESTS"),
    reason="builds a virtualenv from PyPI (~6 min); set NBCREDS_SLOW_TESTS=1",
)
def test_pre_commit_try_repo_installs_and_runs_the_hook(
    tokens: dict[str, str],
    isolated_nbcreds: Path,
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = isolated_nbcreds / "project"
    git_repo(repo)
    (repo / "leak.py").write_text(f"KEY = '{tokens['aws-access-key']}'\n")
    subprocess.run(["git", "add", "leak.py"], cwd=repo, check=True)
    result = pre_commit(
        repo, "try-repo", str(REPO), "nbcreds-scan", "--files", "leak.py", timeout=900
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "leak.py:line 1: AWS access key id" in result.stdout
    assert_no_leak(result.stdout + result.stderr, tokens.values())

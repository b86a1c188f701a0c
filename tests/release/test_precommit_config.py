"""The project's own .pre-commit-config.yaml: valid, naming ruff, ruff-format, mypy and the
project's nbcreds-scan hook, all local (no hook repository to download), and runnable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import REPO

BIN = Path(sys.executable).parent


def test_config_is_valid_and_names_the_hooks() -> None:
    from pre_commit.clientlib import load_config

    config = load_config(str(REPO / ".pre-commit-config.yaml"))
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "mypy", "nbcreds-scan"}
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    # "system" (pre-commit 4 calls it "unsupported" once loaded): the tools of .venv
    assert {h["language"] for h in hooks.values()} <= {"system", "unsupported"}
    raw = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    assert {h["language"] for h in raw["repos"][0]["hooks"]} == {"system"}
    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    published = next(h for h in manifest if h["id"] == "nbcreds-scan")
    assert hooks["nbcreds-scan"]["entry"].startswith(published["entry"])
    assert hooks["nbcreds-scan"]["files"] == r"^notebooks/.*\.ipynb$"


def test_pre_commit_runs_the_ruff_and_scan_hooks(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    for hook in ("ruff", "ruff-format", "nbcreds-scan"):
        done = subprocess.run(
            [str(BIN / "pre-commit"), "run", hook, "--all-files"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:]
        assert "Passed" in done.stdout, done.stdout

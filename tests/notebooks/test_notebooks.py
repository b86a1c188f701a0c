"""The example notebooks: they run, their saved outputs match a fresh run (nbval),
and neither a fresh run's outputs nor the saved files contain a secret.

nbval runs in a subprocess (its own pytest, the notebooks' sanitize file, the
current environment's kernel) so its collection and options stay apart from the
main test run. The leak check executes the saved notebook again with nbclient
and lets the kernel compare the outputs with every value its masker knows
(see ``notebooks/_build.py``); it answers with labels, never values.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "nbval-sanitize.cfg"
# name -> fewest sensitive values the kernel must know at the end (a check that
# compared against nothing would prove nothing)
EXPECTED = {
    "quickstart": 4,
    "secrets-and-vault": 4,
    "credentials": 6,
    "kv-state": 2,
}
PRESENT = [name for name in EXPECTED if (NOTEBOOKS / f"{name}.ipynb").is_file()]
# secrets-and-vault starts a real OpenBao dev server
PARAMS = [
    pytest.param(name, marks=pytest.mark.vault) if name == "secrets-and-vault" else name
    for name in PRESENT
]

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nbcreds_notebooks_build", NOTEBOOKS / "_build.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(tmp: Path) -> dict[str, str]:
    """The caller's environment without nbcreds settings or secrets, XDG dirs in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("NBCREDS_", "SECRET_"))}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp / var.lower())
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_every_notebook_is_built_by_the_generator() -> None:
    build = _build_module()
    assert list(EXPECTED) == PRESENT  # every example notebook is there
    assert sorted(build.NOTEBOOKS) == sorted(PRESENT)
    for name in PRESENT:
        saved = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
        sources = ["".join(c["source"]) for c in saved["cells"]]
        assert sources == [source for _, source in build.NOTEBOOKS[name]], name


@pytest.mark.parametrize("name", PARAMS)
def test_saved_outputs_match_a_fresh_run_under_nbval(name: str, tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(SANITIZE),
            str(NOTEBOOKS / f"{name}.ipynb"),
            "-c",
            str(ini),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=540,
    )
    tail = "\n".join(proc.stdout.splitlines()[-40:])
    assert proc.returncode == 0, f"nbval failed for {name}:\n{tail}"
    assert " passed" in proc.stdout


@pytest.mark.parametrize("name", PARAMS)
def test_fresh_run_outputs_contain_no_secret(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    for var, value in _env(tmp_path).items():
        monkeypatch.setenv(var, value)
    build = _build_module()
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nb, leaks, known = build.execute(nb, tmp_path)
    assert leaks == []
    assert known >= EXPECTED[name]
    errors = build.unexpected_errors(nb)
    assert errors == []


@pytest.mark.parametrize("name", PRESENT)
def test_saved_notebook_passes_nbcreds_scan(name: str) -> None:
    from nbcreds.cli import main

    assert main(["scan", "--no-config", "--no-progress", str(NOTEBOOKS / f"{name}.ipynb")]) == 0


@pytest.mark.parametrize("name", PRESENT)
def test_saved_notebook_shows_only_masked_secrets(name: str) -> None:
    import nbformat

    saved = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert _build_module().unexpected_errors(saved) == []  # only cells meant to raise did
    outputs = json.dumps([c.get("outputs", []) for c in saved.cells])
    shown = re.findall(r"<Secret [^>]*>", outputs) + re.findall(r"&lt;Secret .*?&gt;", outputs)
    assert all(s.endswith(("****>", "****&gt;")) for s in shown), shown

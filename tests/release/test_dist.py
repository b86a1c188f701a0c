"""The sdist and wheel a release uploads: checked by twine and check-wheel-contents,
licensed, versioned once, rebuilt identically from the sdist, and working where there is
no node (JupyterLab sidebar, save guard, kernel extension, command line)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conftest import BIN, REPO, NodeFreeEnv, Release, run

# building and installing takes minutes on a busy machine (the session fixtures count
# towards the first test that uses them)
pytestmark = pytest.mark.timeout(1800)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def package_version() -> str:
    """labextension/package.json's version, as PEP 440 spells it (npm 1.2.0-alpha.1: 1.2.0a1)."""
    version = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    from packaging.version import Version

    return str(Version(version))


# --- the distributions -------------------------------------------------------------------


def test_twine_check(release: Release) -> None:
    run([sys.executable, "-m", "twine", "check", "--strict", release.sdist, release.wheel])


def test_check_wheel_contents(release: Release) -> None:
    run([BIN / "check-wheel-contents", release.wheel])


def test_wheel_holds_package_extension_and_metadata(release: Release) -> None:
    files = members(release.wheel)
    names = set(files)
    data = f"nbcreds-{release.version}.data/data"
    lab = f"{data}/share/jupyter/labextensions/nbcreds"
    assert {f"{lab}/package.json", f"{lab}/install.json", f"{lab}/static/style.js"} <= names
    assert any(re.fullmatch(rf"{lab}/static/remoteEntry\.[0-9a-f]+\.js", n) for n in names)
    # a production build: no source maps (the editable install's dev build has them)
    assert not [n for n in names if n.endswith(".js.map")]
    assert {"nbcreds/__init__.py", "nbcreds/py.typed", "nbcreds/_doctor.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "labextension/", "benchmarks/"))]
    lab_package = json.loads(files[f"{lab}/package.json"])
    assert lab_package["name"] == "nbcreds"
    assert (
        lab_package["version"]
        == json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    )
    entry_points = files[f"nbcreds-{release.version}.dist-info/entry_points.txt"].decode()
    assert "nbcreds = nbcreds.cli:main" in entry_points


def test_server_extension_config_is_in_the_wheel(release: Release) -> None:
    """The save guard is enabled by a shared-data file, as Jupyter Server extensions are."""
    files = members(release.wheel)
    name = f"nbcreds-{release.version}.data/data/etc/jupyter/jupyter_server_config.d/nbcreds.json"
    assert name in files, sorted(n for n in files if ".data/" in n)
    config = json.loads(files[name])
    assert config["ServerApp"]["jpserver_extensions"]["nbcreds.guard"] is True


def test_license_in_both_distributions(release: Release) -> None:
    text = (REPO / "LICENSE").read_bytes()
    head = text.decode()[:400]
    assert "Apache License" in head
    assert "Version 2.0, January 2004" in head
    assert "END OF TERMS AND CONDITIONS" in text.decode()
    files = members(release.wheel)
    info = f"nbcreds-{release.version}.dist-info"
    assert files[f"{info}/licenses/LICENSE"] == text
    metadata = files[f"{info}/METADATA"].decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    with tarfile.open(release.sdist) as archive:
        member = archive.extractfile(f"nbcreds-{release.version}/LICENSE")
        assert member is not None
        assert member.read() == text
        names = archive.getnames()
    root = f"nbcreds-{release.version}"
    assert f"{root}/CHANGELOG.md" in names
    assert f"{root}/labextension/src/index.ts" in names  # node can rebuild from the sdist
    assert not [n for n in names if "/node_modules/" in n]


def test_version_is_written_once(release: Release) -> None:
    version = package_version()
    assert release.version == version
    assert f"nbcreds-{version}.tar.gz" == release.sdist.name
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r"(?m)^version\s*=", pyproject) is None
    assert 'dynamic = ["version"]' in pyproject
    init = (REPO / "src" / "nbcreds" / "__init__.py").read_text()
    assert re.search(r"__version__\s*=\s*['\"]", init) is None
    # the examples that name a release tag name this one
    for doc in ("README.md", "docs/scan.md", ".pre-commit-hooks.yaml"):
        tags = re.findall(r"rev: v(\S+)", (REPO / doc).read_text())
        assert tags, doc
        assert set(tags) == {version}, doc


def test_sdist_rebuilds_the_same_wheel(release: Release, rebuilt_wheel: Path) -> None:
    """From the sdist, node rebuilds the extension and the wheel has the same files with
    the same content (zip timestamps aside)."""
    first, second = members(release.wheel), members(rebuilt_wheel)
    assert sorted(first) == sorted(second)
    python = sorted(n for n in first if n.endswith(".py"))
    assert len(python) > 50
    assert [n for n in python if first[n] != second[n]] == []
    differing = [n for n in first if first[n] != second[n]]
    assert differing == [], {n: (_sha(first[n]), _sha(second[n])) for n in differing}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


# --- installed where there is no node ---------------------------------------------------------


def test_the_environment_has_no_node(node_free: NodeFreeEnv) -> None:
    path = node_free.env["PATH"]
    assert shutil.which("python", path=path) is not None
    for tool in ("node", "npm", "nodejs", "yarn"):
        assert shutil.which(tool, path=path) is None, tool
    # and the wheel was installed, not this work tree
    done = node_free.run("python", "-c", "import nbcreds; print(nbcreds.__file__)")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(node_free.venv)


def test_labextension_list_shows_nbcreds_enabled(node_free: NodeFreeEnv, release: Release) -> None:
    done = node_free.run("jupyter", "labextension", "list")
    assert done.returncode == 0, done.stderr
    out = ANSI.sub("", done.stdout + done.stderr)
    lab_version = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    line = next((ln for ln in out.splitlines() if ln.split()[:1] == ["nbcreds"]), None)
    assert line is not None, out
    assert line.split()[:4] == ["nbcreds", f"v{lab_version}", "enabled", "OK"], line
    assert f"{node_free.venv}/share/jupyter/labextensions" in out


def test_server_extension_list_shows_the_guard_enabled(node_free: NodeFreeEnv) -> None:
    done = node_free.run("jupyter", "server", "extension", "list")
    assert done.returncode == 0, done.stderr
    out = ANSI.sub("", done.stdout + done.stderr)
    assert re.search(r"(?m)^\s*nbcreds\.guard\s+enabled\s*$", out), out
    # jupyter server imports it to validate it: "nbcreds.guard <version> OK"
    assert re.search(r"(?m)^\s*nbcreds\.guard\s+(\S+\s+)?OK\s*$", out), out


KERNEL_SCRIPT = """
import json, sys
from jupyter_client.manager import start_new_kernel

value = sys.argv[1]
km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
try:
    outputs = []
    code = (
        "%load_ext nbcreds\\n"
        "import nbcreds, sys\\n"
        f"nbcreds.mask({value!r})\\n"
        "print(nbcreds.__file__, nbcreds.__version__, sys.executable)\\n"
        f"print('value:', {value!r})\\n"
    )
    reply = kc.execute_interactive(code, timeout=120, output_hook=outputs.append)
    streams = "".join(
        m["content"]["text"] for m in outputs if m["header"]["msg_type"] == "stream"
    )
    errors = [m["content"]["ename"] for m in outputs if m["header"]["msg_type"] == "error"]
    print(json.dumps({"status": reply["content"]["status"], "stream": streams, "errors": errors}))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def test_load_ext_in_a_kernel(node_free: NodeFreeEnv, release: Release) -> None:
    value = "wheel-" + secrets.token_urlsafe(16)
    done = node_free.run("python", "-c", KERNEL_SCRIPT, value)
    assert done.returncode == 0, done.stderr[-3000:].replace(value, "<value>")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ok", result["errors"]
    first, last = result["stream"].splitlines()
    module, version, executable = first.split()
    assert Path(module).is_relative_to(node_free.venv)
    assert Path(executable).is_relative_to(node_free.venv)
    assert version == release.version
    assert last == "value: ****"
    assert value not in done.stdout


def test_cli_version_is_the_wheels(node_free: NodeFreeEnv, release: Release) -> None:
    done = node_free.run("nbcreds", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nbcreds {release.version}"


def test_doctor_in_the_installed_environment(node_free: NodeFreeEnv, release: Release) -> None:
    work = node_free.venv.parent / "work"
    work.mkdir(exist_ok=True)
    done = node_free.run("nbcreds", "doctor", "--format", "json", cwd=work)
    report = json.loads(done.stdout)
    assert done.returncode == 0, [c for c in report["checks"] if c["status"] == "error"]
    assert report["nbcreds"] == release.version
    lab = next(c for c in report["checks"] if c["section"] == "extension" and c["name"] == "lab")
    assert lab["status"] == "ok", lab
    assert Path(lab["data"]["path"]).is_relative_to(node_free.venv)
    server = next(
        c for c in report["checks"] if c["section"] == "extension" and c["name"] == "server"
    )
    assert server["status"] == "ok", server

"""Build the distributions a release would upload, once per test session, and install
the wheel into a fresh virtualenv whose PATH has no node.

The build runs on a copy of the work tree (git's tracked and untracked-but-not-ignored
files: what a fresh clone of this commit holds), so the JupyterLab extension is built by
the build itself (``jlpm build:prod``), never taken from the developer's editable build.
To keep it fast, the copy reuses ``labextension/node_modules`` of the work tree when the
editable install made one (hard links; ``jlpm install`` then has nothing to fetch), and
``python -m build --installer uv`` creates the isolated build environments from uv's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: the packages the node-free environment gets besides the wheel (and its dependencies)
JUPYTER = ("jupyterlab>=4.2", "ipykernel>=6.29")


def run(
    args: list[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, fail with the end of its output (build logs hold no
    secret: nothing here handles one)."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    if log is not None:
        log.write_text(output)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{output[-4000:]}")
    return done


def build_env() -> dict[str, str]:
    """The environment for building: this venv's bin first (``uv``, ``pyproject-build``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBCREDS_", "SECRET_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["UV_NO_PROGRESS"] = "1"
    return env


def export_tree(dest: Path) -> None:
    """Copy the files git would commit (tracked + untracked, not ignored) to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # deleted in the work tree but not yet in the index: skip
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)


def reuse_node_modules(source: Path, dest: Path) -> None:
    """Give ``dest/labextension`` the node_modules of ``source/labextension`` (hard links,
    except yarn's state files, which yarn rewrites in place)."""
    modules = source / "labextension" / "node_modules"
    if not modules.is_dir():
        return  # jlpm install fetches them (slower, same result)
    target = dest / "labextension" / "node_modules"
    try:
        shutil.copytree(modules, target, symlinks=True, copy_function=os.link)
    except OSError:  # another file system: copy
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(modules, target, symlinks=True)
    state = target / ".yarn-state.yml"
    if state.is_file():
        state.unlink()
        shutil.copy2(modules / ".yarn-state.yml", state)
    install_state = source / "labextension" / ".yarn" / "install-state.gz"
    if install_state.is_file():
        (dest / "labextension" / ".yarn").mkdir(exist_ok=True)
        shutil.copy2(install_state, dest / "labextension" / ".yarn" / "install-state.gz")


@dataclass
class Release:
    """The built distributions and where they were built."""

    root: Path
    #: the directory the tree was built in (the sdist's rebuild reuses the same path:
    #: the bundler's module ids depend on the absolute path of the sources)
    build_dir: Path
    sdist: Path
    wheel: Path

    @property
    def version(self) -> str:
        match = re.fullmatch(r"nbcreds-(.+)-py3-none-any\.whl", self.wheel.name)
        assert match, self.wheel.name
        return match.group(1)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """``python -m build`` (sdist, then the wheel from the sdist) on a copy of the tree."""
    root = tmp_path_factory.mktemp("release")
    tree = root / "nbcreds"
    export_tree(tree)
    reuse_node_modules(REPO, tree)
    dist = root / "dist"
    run(
        [sys.executable, "-m", "build", "--installer", "uv", "--outdir", dist, tree],
        env=build_env(),
        log=root / "build.log",
    )
    (sdist,) = dist.glob("nbcreds-*.tar.gz")
    (wheel,) = dist.glob("nbcreds-*.whl")
    return Release(root=root, build_dir=tree, sdist=sdist, wheel=wheel)


@pytest.fixture(scope="session")
def rebuilt_wheel(release: Release) -> Path:
    """The wheel built again from the sdist with the prebuilt extension removed, so that
    node builds it again, in the same directory as the first build."""
    tree = release.build_dir
    built = tree.with_name(tree.name + "-built")
    tree.rename(built)
    tree.mkdir()
    with tarfile.open(release.sdist) as archive:
        archive.extractall(release.root / "sdist", filter="data")
    (unpacked,) = (release.root / "sdist").iterdir()
    for item in unpacked.iterdir():
        item.rename(tree / item.name)
    prebuilt = tree / "src" / "nbcreds" / "labextension"
    assert (prebuilt / "static" / "style.js").is_file(), "the sdist ships the built extension"
    shutil.rmtree(prebuilt)
    reuse_node_modules(built, tree)
    out = release.root / "rebuilt"
    run(
        [sys.executable, "-m", "build", "--installer", "uv", "--wheel", "--outdir", out, tree],
        env=build_env(),
        log=release.root / "rebuild.log",
    )
    assert (prebuilt / "static" / "style.js").is_file(), "node rebuilt the extension"
    (wheel,) = out.glob("nbcreds-*.whl")
    return wheel


@dataclass
class NodeFreeEnv:
    """A fresh virtualenv with the wheel installed, and an environment to run it in
    whose PATH is the venv's bin only (no node, no npm)."""

    venv: Path
    env: dict[str, str]

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            cwd=cwd or self.venv.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="session")
def node_free(release: Release) -> NodeFreeEnv:
    venv = release.root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    run([BIN / "uv", "venv", "--quiet", "--python", base, venv], env=build_env())
    python = venv / "bin" / "python"
    run(
        [BIN / "uv", "pip", "install", "--python", python, release.wheel, *JUPYTER],
        env=build_env(),
        log=release.root / "install.log",
    )
    home = release.root / "home"
    home.mkdir()
    env = {
        "PATH": str(venv / "bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    return NodeFreeEnv(venv=venv, env=env)

"""``nbcreds doctor``: one screen of what nbcreds sees here, and what to do when it is off.

Checks, in order: the config file (or the embedded defaults), the namespace, each secret
source (its :meth:`~nbcreds.plugins.SecretSource.health`: Vault up / sealed / logged in), the
KV store (backend and path or host, never a password), the masking engine (Hyperscan or
Aho-Corasick, registered values), the JupyterLab extension and the Jupyter Server extension
(the save guard), both read from the Jupyter data and config paths as ``jupyter labextension
list`` and ``jupyter server extension list`` read them.

A check is ``ok``, ``info`` (nothing to do), ``warn`` (works, could be better) or ``error``
(something will fail: the report says what to do). The exit code is 1 when any check is an
error. Everything printed goes through the masker last (belt and braces): the checks
themselves only name files, addresses, statuses and counts.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import nbcreds

from ._exceptions import ConfigError, NbcredsError

if TYPE_CHECKING:
    from .config import Config
    from .secrets import SecretSource

__all__ = ["Check", "Report", "main", "run_checks"]

Status = Literal["ok", "info", "warn", "error"]
_MARK: dict[str, str] = {"ok": "ok", "info": "--", "warn": "!!", "error": "XX"}
LAB_EXTENSION = "nbcreds"
SERVER_EXTENSION = "nbcreds.guard"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    section: str
    name: str
    status: Status
    detail: str
    hint: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Everything ``nbcreds doctor`` found."""

    version: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != "error" for check in self.checks)

    def problems(self) -> list[Check]:
        return [check for check in self.checks if check.status == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {"nbcreds": self.version, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def render(self) -> str:
        width = max((len(_label(c)) for c in self.checks), default=10)
        lines = [f"nbcreds {self.version} doctor ({sys.executable})"]
        for check in self.checks:
            lines.append(f"  {_MARK[check.status]} {_label(check):<{width}}  {check.detail}")
            if check.hint:
                lines.append(f"     {'':<{width}}  -> {check.hint}")
        problems = self.problems()
        if problems:
            names = ", ".join(_label(c) for c in problems)
            lines.append(f"{len(problems)} problem(s): {names}. Do what the -> lines say.")
        else:
            lines.append("No problems found.")
        return "\n".join(lines)


def _label(check: Check) -> str:
    return f"{check.section} {check.name}" if check.name else check.section


# --- the checks ----------------------------------------------------------------------------


def run_checks(config_path: str | None = None) -> Report:
    """Run every check (``config_path``: the ``nbcreds.toml`` to use instead of finding one)."""
    report = Report(version=nbcreds.__version__)
    add = report.checks.append
    config = _check_config(config_path, add)
    if config is not None:
        _check_namespace(config, add)
        _check_sources(config, add)
        _check_kv(config, add)
    _check_masking(config is not None, add)
    _check_lab_extension(add)
    _check_server_extension(add)
    return report


Add = Callable[[Check], None]


def _check_config(config_path: str | None, add: Add) -> Config | None:
    try:
        config = nbcreds.load_config(config_path)
    except ConfigError as exc:
        add(
            Check(
                "config",
                "",
                "error",
                str(exc),
                hint="fix that key in that file (or point $NBCREDS_CONFIG / --config at a "
                "valid file), then run nbcreds doctor again",
                data={"path": exc.path, "table": exc.table, "key": exc.key},
            )
        )
        return None
    if config.path is None:
        import platformdirs

        user = Path(platformdirs.user_config_dir("nbcreds")) / "nbcreds.toml"
        add(
            Check(
                "config",
                "",
                "info",
                f"no nbcreds.toml found: embedded defaults (looked at $NBCREDS_CONFIG, "
                f"{Path.cwd()} and its parents, {user})",
                data={"path": None},
            )
        )
    else:
        add(Check("config", "", "ok", str(config.path), data={"path": str(config.path)}))
    return config


def _check_namespace(config: Config, add: Add) -> None:
    from .namespaces import lookup_chain

    try:
        namespace = nbcreds.current_namespace()
    except NbcredsError as exc:
        add(Check("namespace", "", "error", str(exc), hint="set a valid $NBCREDS_NAMESPACE"))
        return
    chain = ", ".join(n or "tenant" for n in lookup_chain(namespace))
    shown = namespace or "none selected (tenant level)"
    add(
        Check(
            "namespace",
            "",
            "ok",
            f"{shown}; tenant {config.tenant}; secrets are looked up in {chain}",
            data={"namespace": namespace, "tenant": config.tenant},
        )
    )


def _built_sources() -> list[SecretSource]:
    """The secret sources the config builds, in its order."""
    from ._session import session

    return session().sources()


def _check_sources(config: Config, add: Add) -> None:
    try:
        sources = _built_sources()
    except NbcredsError as exc:
        add(
            Check(
                "source",
                "",
                "error",
                str(exc),
                hint=f"fix [sources] in {config.where}",
            )
        )
        return
    for source in sources:
        try:
            health = source.health()
        except NbcredsError as exc:
            add(Check("source", source.name, "error", str(exc), data=_source_data(source)))
            continue
        except Exception as exc:  # a plugin's bug: its message is not ours to trust
            add(
                Check(
                    "source",
                    source.name,
                    "error",
                    f"its health check failed with {type(exc).__name__}",
                    hint="report it to the source's authors",
                    data=_source_data(source),
                )
            )
            continue
        if not health.checked:
            status: Status = "info"
        else:
            status = "ok" if health.ok else "error"
        data = _source_data(source) | {"ok": health.ok, "checked": health.checked}
        add(Check("source", source.name, status, health.detail, health.hint, data))


def _source_data(source: SecretSource) -> dict[str, Any]:
    return {"describe": source.describe(), "read_only": source.read_only}


def _check_kv(config: Config, add: Add) -> None:
    from .kvstore import open_store

    try:
        store = open_store(config)
    except NbcredsError as exc:
        add(Check("kv", "", "error", str(exc), hint=f"fix [kv] in {config.where}"))
        return
    data = {"backend": store.name, "location": store.location}
    try:
        if store.name == "sqlite" and not Path(store.location).exists():
            add(_new_sqlite(Path(store.location), data))
            return
        # one read, as the first kv() call would do it (PostgreSQL: creates the schema
        # when it is missing)
        count = len(store.keys(nbcreds.current_namespace() or config.tenant, None))
    except NbcredsError as exc:
        add(
            Check(
                "kv",
                store.name,
                "error",
                str(exc),
                hint=f"check that the database is reachable, or change [kv] in {config.where}",
                data=data,
            )
        )
        return
    finally:
        store.close()
    add(Check("kv", store.name, "ok", f"{store.location} ({count} key(s) here)", data=data))


def _new_sqlite(path: Path, data: dict[str, Any]) -> Check:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return Check("kv", "sqlite", "ok", f"{path} (created on first use)", data=data)
    return Check(
        "kv",
        "sqlite",
        "error",
        f"{path} does not exist and {parent} is not writable",
        hint="set [kv] path to a writable location",
        data=data,
    )


def _check_masking(config_loaded: bool, add: Add) -> None:
    from .masking import available_backends, registry

    names = {"hyperscan": "Hyperscan", "ahocorasick": "Aho-Corasick"}
    found = available_backends()
    count = len(registry)
    data: dict[str, Any] = {"backends": found, "registered": count}
    if not found:
        add(
            Check(
                "masking",
                "",
                "error",
                "no matcher backend imports: outputs would be withheld",
                hint="pip install ahocorasick-rs (and hyperscan on x86-64 Linux)",
                data=data,
            )
        )
        return
    settings = ""
    if config_loaded:
        from .masking import current_settings

        conf = current_settings()  # pushed by the config load, checked there
        data["settings"] = asdict(conf)
        settings = f"; min_length {conf.min_length}, fragment_length {conf.fragment_length}"
    detail = (
        f"{names[found[0]]}, {count} value(s) registered in this process{settings} "
        "(each kernel has its own registry)"
    )
    hyperscan_platform = platform.machine() == "x86_64" and sys.platform == "linux"
    if found[0] != "hyperscan" and hyperscan_platform:
        add(
            Check(
                "masking",
                "",
                "warn",
                detail,
                hint="pip install hyperscan (faster masking of many values)",
                data=data,
            )
        )
        return
    add(Check("masking", "", "ok", detail, data=data))


# --- the Jupyter extensions -------------------------------------------------------------------


def _jupyter_paths() -> tuple[list[str], list[str]]:
    """(data paths, config paths), highest priority first, as Jupyter computes them."""
    from jupyter_core.paths import jupyter_config_path, jupyter_path

    return jupyter_path(), jupyter_config_path()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _lab_disabled(config_paths: list[str]) -> str | None:
    """The page_config.json that disables the lab extension, if one does."""
    for directory in config_paths:  # highest priority first: the first word wins
        path = Path(directory) / "labconfig" / "page_config.json"
        disabled = _read_json(path).get("disabledExtensions")
        if isinstance(disabled, dict) and LAB_EXTENSION in disabled:
            return str(path) if disabled[LAB_EXTENSION] else None
        if isinstance(disabled, list) and LAB_EXTENSION in disabled:
            return str(path)
    return None


def _check_lab_extension(add: Add) -> None:
    data_paths, config_paths = _jupyter_paths()
    found = next(
        (
            Path(d) / "labextensions" / LAB_EXTENSION
            for d in data_paths
            if (Path(d) / "labextensions" / LAB_EXTENSION / "package.json").is_file()
        ),
        None,
    )
    if found is None:
        add(
            Check(
                "extension",
                "lab",
                "error",
                "the JupyterLab sidebar (labextension nbcreds) is not installed in any "
                "Jupyter data path",
                hint="reinstall nbcreds (pip install --force-reinstall --no-deps nbcreds)",
            )
        )
        return
    version = str(_read_json(found / "package.json").get("version", "?"))
    data: dict[str, Any] = {"path": str(found), "version": version}
    disabled_by = _lab_disabled(config_paths)
    data["enabled"] = disabled_by is None
    if disabled_by is not None:
        add(
            Check(
                "extension",
                "lab",
                "error",
                f"nbcreds {version} is installed but disabled by {disabled_by}",
                hint="jupyter labextension enable nbcreds",
                data=data,
            )
        )
        return
    lab = find_spec("jupyterlab") is not None
    data["jupyterlab"] = lab
    status: Status = "ok"
    hint = ""
    note = ""
    if _base_version(version) != _base_version(nbcreds.__version__):
        status, hint = "warn", "reinstall nbcreds: the sidebar is from another release"
        note = f" (this package is {nbcreds.__version__})"
    elif not lab:
        status, note = "info", " (JupyterLab is not installed in this environment)"
    add(Check("extension", "lab", status, f"nbcreds {version} enabled, {found}{note}", hint, data))


def _base_version(version: str) -> str:
    # npm's 0.2.0-alpha.1 is PEP 440's 0.2.0a1: compare the release numbers only
    digits = []
    for part in version.replace("-", ".").split("."):
        if not part.isdigit():
            break
        digits.append(part)
    return ".".join(digits)


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ImportError:  # its parent package is missing
        return False


def _server_extensions(config_paths: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file, ServerApp.jpserver_extensions) from lowest to highest priority, as Jupyter
    Server loads them: each config dir's jupyter_server_config.d/*.json, then its
    jupyter_server_config.json."""
    for directory in reversed(config_paths):
        base = Path(directory)
        files = sorted((base / "jupyter_server_config.d").glob("*.json"))
        files.append(base / "jupyter_server_config.json")
        for path in files:
            server_app = _read_json(path).get("ServerApp")
            if isinstance(server_app, dict):
                extensions = server_app.get("jpserver_extensions")
                if isinstance(extensions, dict):
                    yield str(path), extensions


def _check_server_extension(add: Add, name: str = SERVER_EXTENSION) -> None:
    _, config_paths = _jupyter_paths()
    enabled: bool | None = None
    where = ""
    for path, extensions in _server_extensions(config_paths):
        if name in extensions:
            enabled, where = bool(extensions[name]), path
    importable = _importable(name)
    data = {"enabled": bool(enabled), "config": where or None, "importable": importable}
    if not importable:
        add(
            Check(
                "extension",
                "server",
                "warn",
                f"the save guard ({name}) is not part of this nbcreds",
                hint="upgrade nbcreds for the Jupyter Server save guard",
                data=data,
            )
        )
    elif enabled:
        add(Check("extension", "server", "ok", f"{name} enabled, {where}", data=data))
    else:
        state = f"disabled by {where}" if where else "not enabled in any Jupyter config path"
        add(
            Check(
                "extension",
                "server",
                "error",
                f"the save guard {name} is {state}: saved notebooks are not scanned",
                hint=f"jupyter server extension enable {name}",
                data=data,
            )
        )


# --- the command ---------------------------------------------------------------------------------


def main(fmt: str = "text", config_path: str | None = None) -> int:
    """``nbcreds doctor``: print the report (text or JSON); 0 when nothing is wrong, else 1."""
    report = run_checks(config_path)
    text = json.dumps(report.as_dict(), indent=2) if fmt == "json" else report.render()
    print(_masked(text))
    return 0 if report.ok else 1


def _masked(text: str) -> str:
    """Every registered value (and its encodings) masked, whatever the config says: a
    broken nbcreds.toml is a case the doctor reports, so it cannot read [masking]."""
    from .masking import Matcher, registry, variants

    patterns = [
        (form, label)
        for value, label in registry.values().items()
        if len(value) >= _MIN_MASKED
        for form in variants(value)
    ]
    return Matcher(patterns).sub(text, "****") if patterns else text


_MIN_MASKED = 6  # [masking] min_length's default

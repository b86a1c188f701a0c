"""Secrets in a ``.env`` file, read with python-dotenv.

``[sources.dotenv] path`` names the file (relative to the ``nbcreds.toml`` that
names it); without it, the ``.env`` next to the ``nbcreds.toml`` in use, else
the first ``.env`` in the working directory and its parents. Values are taken
as they are (not base64). ``dotenv:NAME`` references read the file whether or
not ``dotenv`` is in ``[sources] order``; in the order, ``secret("NAME")`` finds
its names too (tenant level, like ``env``).

A file other users can read (``mode & 0o044``) gets a warning naming the file,
never a value. python-dotenv is imported when the file is first read.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import SecretBackendError
from ..plugins import Setting, SourceContext, SourceType
from ._base import SecretData, SecretSource

if TYPE_CHECKING:
    from ..config import Reference

__all__ = ["SOURCE", "DotenvSource", "find_dotenv_file"]

log = logging.getLogger("nbcreds.secrets.dotenv")

TABLE = "sources.dotenv"
FILENAME = ".env"


def find_dotenv_file(config_dir: Path | None, start: Path | None = None) -> Path | None:
    """The default file: ``.env`` next to the config in use, else the working
    directory and its parents; None when there is none."""
    if config_dir is not None and (config_dir / FILENAME).is_file():
        return config_dir / FILENAME
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / FILENAME
        if candidate.is_file():
            return candidate
    return None


class DotenvSource(SecretSource):
    """``NAME=value`` lines of one ``.env`` file, re-read when the file changes."""

    name = "dotenv"

    def __init__(
        self,
        path: Path | None = None,
        *,
        explicit: bool = False,
        interpolate: bool = True,
        config_dir: Path | None = None,
    ) -> None:
        #: The file given in the config (``explicit``), else None: found at each read.
        self._path = path
        self._explicit = explicit
        self._config_dir = config_dir
        self.interpolate = interpolate
        self._lock = threading.Lock()
        self._cache: tuple[Path, int, int, dict[str, str]] | None = None
        self._warned: set[Path] = set()

    # --- SecretSource -----------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The file this source reads now (None: no ``.env`` found)."""
        if self._explicit:
            return self._path
        return find_dotenv_file(self._config_dir)

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        if namespace is not None:
            return None
        values = self._values()
        if name in values:
            return values[name]
        wanted = name.upper()
        return next((v for k, v in values.items() if k.upper() == wanted), None)

    def names(self, namespace: str | None) -> list[str]:
        if namespace is not None:
            return []
        return sorted(self._values())

    def read_reference(self, ref: Reference) -> SecretData | None:
        """``dotenv:NAME``: the file's ``NAME`` (whether or not dotenv is in the order)."""
        return self.get(None, ref.target)

    def describe(self) -> str:
        path = self.path
        return f"dotenv ({path})" if path else "dotenv (no .env file found)"

    def __repr__(self) -> str:
        return f"<DotenvSource {self.path}>"

    # --- reading ----------------------------------------------------------------------

    def _values(self) -> dict[str, str]:
        path = self.path
        if path is None:
            return {}
        try:
            info = path.stat()
        except FileNotFoundError:
            if self._explicit:
                raise SecretBackendError(
                    f"the .env file {path} named by [{TABLE}] path does not exist; create it "
                    "or fix the path"
                ) from None
            return {}
        except OSError as exc:
            raise SecretBackendError(f"cannot read the .env file {path}: {exc.strerror}") from None
        with self._lock:
            cached = self._cache
            if cached is not None and cached[:3] == (path, info.st_mtime_ns, info.st_size):
                return cached[3]
        self._check_mode(path, info.st_mode)
        values = self._parse(path)
        with self._lock:
            self._cache = (path, info.st_mtime_ns, info.st_size, values)
        return values

    def _parse(self, path: Path) -> dict[str, str]:
        from dotenv import dotenv_values

        try:
            with path.open(encoding="utf-8") as stream:
                parsed = dotenv_values(stream=stream, interpolate=self.interpolate)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise SecretBackendError(f"cannot read the .env file {path}: {reason}") from None
        # a bare `NAME` line (no `=`) has no value: not a secret
        return {k: v for k, v in parsed.items() if v is not None}

    def _check_mode(self, path: Path, mode: int) -> None:
        if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
            return
        if path in self._warned:
            return
        self._warned.add(path)
        message = (
            f"nbcreds: the .env file {path} can be read by other users "
            f"(mode {stat.filemode(mode)}); restrict it with `chmod 600 {path}`"
        )
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=5)


# --- the plugin declaration (entry point nbcreds.secret_sources: dotenv) ----------------------


def _build(ctx: SourceContext) -> SecretSource:
    settings = ctx.settings
    raw = settings.get("path")
    config_dir = ctx.path.parent if ctx.path is not None else None
    interpolate = bool(settings.get("interpolate", True))
    if raw is None:
        return DotenvSource(None, interpolate=interpolate, config_dir=config_dir)
    path = Path(str(raw)).expanduser()
    if not path.is_absolute():
        path = ctx.directory / path
    return DotenvSource(path, explicit=True, interpolate=interpolate, config_dir=config_dir)


def _not_empty(value: Any) -> str | None:
    return None if value else "must name a file"


SOURCE = SourceType(
    name="dotenv",
    build=_build,
    position=30,
    schemes=("dotenv",),
    reference_forms={"dotenv": "dotenv:NAME"},
    reference_labels={"dotenv": ".env file entry"},
    default_order=False,
    settings=(
        Setting(
            "path",
            check=_not_empty,
            help="the .env file, relative to this nbcreds.toml (default: the .env next to "
            "it, else in the working directory and its parents)",
        ),
        Setting(
            "interpolate",
            kind="boolean",
            default=True,
            help="expand ${VAR} as python-dotenv does; false takes values literally",
        ),
    ),
    description="a .env file (python-dotenv): raw values, tenant level; dotenv:NAME references",
)

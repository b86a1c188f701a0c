"""The save guard's decision, independent of Jupyter Server: scan a document, apply
the ``[guard]`` mode, and say what was done.

A :class:`Guard` finds ``nbcreds.toml`` as a kernel would (``$NBCREDS_CONFIG``,
else the server's root directory and its parents, else the user config dir),
re-reads it when it changes, and keeps one :class:`~nbcreds.scan.Scanner` per
version of it. Token shapes are always looked for; the configured secrets too
when ``[guard] resolve = true`` (the server then resolves them itself, through
the same sources a kernel uses).

What each mode does with a notebook:

========  ===========================================  ==========================
mode      outputs, metadata, widget state, attachments  cell sources
========  ===========================================  ==========================
scrub     found values replaced by ``****``             kept as they are, reported
warn      kept, reported                                kept, reported
block     the save is refused (nothing written)         the save is refused
off       not scanned                                   not scanned
========  ===========================================  ==========================

A plain file (``.py``, ``.txt``...) is the user's own text: ``scrub`` reports and
never changes it. A report names places, kinds and rules, never a value.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import NbcredsError
from ._settings import GuardSettings, parse_guard

__all__ = ["Guard", "GuardFinding", "Report"]

_CELL = re.compile(r"^cell (\d+):")
_ids = itertools.count(1)


@dataclass(frozen=True)
class GuardFinding:
    """One secret found in a saved document: where, what, and what was done."""

    location: str
    kind: str
    rule: str
    encoding: str
    part: str  # "source", "output", "attachment", "metadata", "widget state", "file"
    action: str  # "masked", "kept" or "refused"
    cell: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "location": self.location,
            "cell": self.cell,
            "kind": self.kind,
            "rule": self.rule,
            "encoding": self.encoding,
            "part": self.part,
            "action": self.action,
        }

    def describe(self) -> str:
        """``cell 3:output 1 (stream stdout): GitHub token [github-token]``, as
        ``nbcreds scan`` names place, kind and rule."""
        enc = "" if self.encoding == "raw" else f" ({self.encoding})"
        return f"{self.location}: {self.kind}{enc} [{self.rule}]"


@dataclass
class Report:
    """What the guard did with one save or checkpoint."""

    path: str
    operation: str  # "save" or "checkpoint"
    mode: str
    findings: list[GuardFinding] = field(default_factory=list)
    config: str | None = None
    error: str | None = None
    changed: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    time: float = field(default_factory=time.time)

    @property
    def action(self) -> str:
        """``clean``, ``masked`` (something was replaced), ``reported`` or ``refused``."""
        if not self.findings:
            return "clean"
        if any(f.action == "refused" for f in self.findings):
            return "refused"
        return "masked" if self.changed else "reported"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "path": self.path,
            "operation": self.operation,
            "mode": self.mode,
            "action": self.action,
            "config": self.config,
            "error": self.error,
            "time": self.time,
            "findings": [f.as_dict() for f in self.findings],
        }

    def refusal(self) -> str:
        """The message of a refused save: places, kinds and rules, never a value."""
        shown = "; ".join(f.describe() for f in self.findings[:10])
        more = f"; and {len(self.findings) - 10} more" if len(self.findings) > 10 else ""
        text = (
            f"nbcreds refused to save {self.path}: it holds secrets: {shown}{more}. "
            "The file on disk was not changed. Remove them (Edit > Clear Outputs of All "
            "Cells clears outputs), or change [guard] mode in nbcreds.toml"
        )
        # tornado formats an HTTPError's message with %: keep it free of them
        return text.replace("%", " percent ")


def _part(location: str) -> str:
    if location.startswith("notebook metadata:widget state"):
        return "widget state"
    if location.startswith(("notebook metadata", "notebook:")):
        return "metadata"
    _, _, rest = location.partition(":")
    if rest == "source":
        return "source"
    if rest.startswith("output"):
        return "output"
    if rest.startswith("attachment"):
        return "attachment"
    return "metadata"


def _cell(location: str) -> int | None:
    m = _CELL.match(location)
    return int(m.group(1)) if m else None


class Guard:
    """Scans saved documents under one root directory by the rules of its ``nbcreds.toml``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else Path.cwd().resolve()
        self._lock = threading.RLock()
        self._key: tuple[str | None, bytes] | None = None
        self._settings = GuardSettings()
        self._config_error: str | None = None
        self._scanner: Any = None
        self._config_path: str | None = None

    # -- config ---------------------------------------------------------------------

    def _find(self) -> Path | None:
        from ..config import find_config

        return find_config(self.root)

    def refresh(self) -> GuardSettings:
        """Re-read ``nbcreds.toml`` when it changed; the settings in force.

        A config that cannot be read or is invalid never stops a save: the defaults
        apply (scrub, token shapes only) and every report carries the error.
        """
        with self._lock:
            try:
                path = self._find()
                data = path.read_bytes() if path is not None else b""
            except (NbcredsError, OSError) as exc:
                failed = (None, b"\0" + str(exc).encode())
                if failed != self._key:
                    self._key = failed
                    self._config_path = None
                    self._fail(str(exc))
                return self._settings
            key = (str(path) if path else None, data)
            if key == self._key:
                return self._settings
            self._key = key
            self._config_path = key[0]
            self._scanner = None
            try:
                self._settings = self._load(path)
                self._config_error = None
            except NbcredsError as exc:
                self._fail(str(exc))
            return self._settings

    def _fail(self, message: str) -> GuardSettings:
        self._settings = GuardSettings()
        self._config_error = (
            f"{message} (the save guard uses its defaults until this is fixed: scrub, "
            "token shapes only)"
        )
        self._scanner = None
        return self._settings

    def _load(self, path: Path | None) -> GuardSettings:
        from ..config import load_config

        if path is None:
            return GuardSettings()
        config = load_config(path)  # the whole file is validated, not only [guard]
        return parse_guard(config.data.get("guard"), config.where)

    def scanner(self) -> Any:
        """The scanner for the settings in force (built once per config version)."""
        from ..scan import Scanner

        with self._lock:
            if self._scanner is None:
                values: list[Any] = []
                if self._settings.resolve and self._config_path and not self._config_error:
                    values = self._resolve()
                self._scanner = Scanner(values)
            return self._scanner

    def _resolve(self) -> list[Any]:
        import nbcreds

        from ..scan import collect_configured_values

        notes = io.StringIO()
        try:
            nbcreds.load_config(self._config_path)
            return collect_configured_values(stderr=notes)
        except NbcredsError as exc:
            self._config_error = f"cannot resolve the configured secrets: {exc}"
            return []

    # -- checks ---------------------------------------------------------------------

    def check_model(self, model: dict[str, Any], path: str, operation: str = "save") -> Report:
        """Check a contents-API model before it is written; scrub it in place.

        ``model`` is what the contents API was given: ``type`` ``notebook`` with the
        notebook's JSON as ``content``, or ``file`` with ``format`` ``text`` or
        ``base64``. In ``block`` mode the report's findings are ``refused``.
        """
        settings = self.refresh()
        report = Report(path, operation, settings.mode, config=self._config_path)
        report.error = self._config_error
        if settings.mode == "off":
            return report
        content = model.get("content")
        if model.get("type") == "notebook" and isinstance(content, dict):
            self._notebook(content, report, settings)
        elif model.get("type") == "file" and isinstance(content, str):
            text = _text_of(content, model.get("format"))
            if text is not None:
                self._text(text, report, settings)
        return report

    def check_file(self, os_path: Path, path: str, operation: str) -> tuple[Report, str | None]:
        """Check a file on disk (a checkpoint's copy); the scrubbed text when it changed."""
        from .._exceptions import ScanError
        from ..scan._walk import read_notebook, read_text

        settings = self.refresh()
        report = Report(path, operation, settings.mode, config=self._config_path)
        report.error = self._config_error
        if settings.mode == "off":
            return report, None
        try:
            text = read_text(os_path)
            if os_path.suffix != ".ipynb":
                self._text(text, report, settings)
                return report, None
            nb = read_notebook(os_path, text)
        except ScanError as exc:
            report.error = str(exc)
            return report, None
        self._notebook(nb, report, settings)
        if not report.changed:
            return report, None
        from ..scan._scan import _is_valid, _write_notebook

        return report, _write_notebook(os_path, nb, _is_valid(nb))

    def _notebook(self, nb: dict[str, Any], report: Report, settings: GuardSettings) -> None:
        from ..scan import notebook_fields
        from ..scan._walk import rejoin_lines

        if nb.get("nbformat", 4) == 4:
            rejoin_lines(nb)  # a value split over two saved lines is found whole
        scrub = settings.mode == "scrub"

        def wanted(fld: Any) -> bool:
            return scrub and _part(fld.location) != "source"

        result, masked = self.scanner().scrub_fields(report.path, notebook_fields(nb), scrub=wanted)
        report.changed = result.changed
        report.findings = list(self._convert(result.findings, masked, settings))
        if result.error and not report.error:
            report.error = result.error

    def _text(self, text: str, report: Report, settings: GuardSettings) -> None:
        from ..scan import Field

        holder = [Field("", text, lambda _new: None)]
        result, masked = self.scanner().scrub_fields(report.path, holder, scrub=lambda _f: False)
        report.findings = list(self._convert(result.findings, masked, settings, part="file"))

    def _convert(
        self,
        findings: Iterable[Any],
        masked: list[bool],
        settings: GuardSettings,
        part: str | None = None,
    ) -> Iterable[GuardFinding]:
        for finding, was_masked in zip(findings, masked, strict=True):
            action = "masked" if was_masked else "kept"
            if settings.mode == "block":
                action = "refused"
            yield GuardFinding(
                finding.location,
                finding.kind,
                finding.rule,
                finding.encoding,
                part or _part(finding.location),
                action,
                _cell(finding.location),
            )


def _text_of(content: str, fmt: Any) -> str | None:
    if fmt != "base64":
        return content
    try:
        return base64.b64decode(content, validate=False).decode("utf-8")
    except (binascii.Error, ValueError):
        return None  # binary: images, archives

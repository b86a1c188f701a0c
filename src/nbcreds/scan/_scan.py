"""Scan and scrub files: the walker's fields through the detector.

Findings carry a place and a kind, never the value. Scrubbing replaces the
union of every hit's span with the mask, checks that nothing is found any
more, and writes the file atomically (a temporary file in the same folder,
then ``os.replace``); a notebook that was valid before is checked with
``nbformat.validate`` before it is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import ScanError
from ._detector import Detector, Hit, merge_spans, report_hits
from ._values import ConfiguredValue
from ._walk import Field, iter_files, notebook_fields, read_notebook, read_text

__all__ = ["MASK", "FileResult", "Finding", "Scanner"]

#: What a scrubbed secret becomes (the same fixed mask as ``Secret``'s repr).
MASK = "****"
_MAX_PASSES = 3


@dataclass(frozen=True)
class Finding:
    """One secret found: the file, the place in it, the kind and the encoding."""

    path: str
    location: str
    kind: str
    rule: str
    encoding: str
    line: int | None = None
    secret: str | None = None

    def __str__(self) -> str:
        enc = "" if self.encoding == "raw" else f" ({self.encoding})"
        return f"{self.path}:{self.location}: {self.kind}{enc}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "location": self.location,
            "line": self.line,
            "kind": self.kind,
            "rule": self.rule,
            "encoding": self.encoding,
            "secret": self.secret,
        }


@dataclass
class FileResult:
    """What a scan or scrub did with one file."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    changed: bool = False
    replaced: int = 0


class Scanner:
    """Scan or scrub files for configured values and token shapes."""

    def __init__(
        self,
        values: Sequence[ConfiguredValue] = (),
        *,
        shapes: bool = True,
        backend: str = "auto",
    ) -> None:
        self.detector = Detector(values, shapes=shapes, backend=backend)

    # -- scanning -------------------------------------------------------------------

    def _fields(self, path: Path, text: str) -> tuple[Any, list[Field]]:
        if path.suffix == ".ipynb":
            nb = read_notebook(path, text)
            return nb, list(notebook_fields(nb))
        holder = {"text": text}

        def setter(new: str) -> None:
            holder["text"] = new

        return holder, [Field("", text, setter)]

    def _findings(self, path: Path, fld: Field, hits: Sequence[Hit]) -> list[Finding]:
        out = []
        line, pos = 1, 0
        for hit in report_hits(hits):  # sorted by start: count the newlines once
            line += fld.text.count("\n", pos, hit.start)
            pos = hit.start
            location = fld.location or f"line {line}"
            out.append(
                Finding(
                    str(path),
                    location,
                    hit.kind,
                    hit.rule,
                    hit.encoding,
                    None if fld.binary else line,
                    hit.label,
                )
            )
        return out

    def scan_file(self, path: str | Path) -> FileResult:
        """Findings in one file; an unreadable file gives a result with ``error`` set."""
        path = Path(path)
        result = FileResult(str(path))
        try:
            text = read_text(path)
            _, fields = self._fields(path, text)
        except ScanError as exc:
            result.error = str(exc)
            return result
        for fld in fields:
            hits = self.detector.find(fld.text, binary=fld.binary)
            if hits:
                result.findings.extend(self._findings(path, fld, hits))
        return result

    def scan(
        self, paths: Iterable[str | Path], progress: Callable[[int, int], None] | None = None
    ) -> list[FileResult]:
        """Scan every file under ``paths``; ``progress(done, total)`` after each file."""
        files, results = self._expand(paths)
        for i, path in enumerate(files):
            results.append(self.scan_file(path))
            if progress is not None:
                progress(i + 1, len(files))
        return results

    def _expand(self, paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
        files: list[Path] = []
        errors: list[FileResult] = []
        for raw in paths:
            try:
                files.extend(iter_files([raw]))
            except ScanError as exc:
                errors.append(FileResult(str(raw), error=str(exc)))
        return files, errors

    # -- scrubbing ------------------------------------------------------------------

    def scrub_file(self, path: str | Path, *, dry_run: bool = False) -> FileResult:
        """Replace every finding of one file with :data:`MASK`, atomically."""
        path = Path(path)
        result = FileResult(str(path))
        try:
            text = read_text(path)
            doc, fields = self._fields(path, text)
            valid_before = _is_valid(doc) if path.suffix == ".ipynb" else False
        except ScanError as exc:
            result.error = str(exc)
            return result
        # dict keys last: renaming one first would let a later write under it restore it
        for fld in sorted(fields, key=lambda f: f.is_key):
            current = fld.text
            hits = self.detector.find(current, binary=fld.binary)
            if not hits:
                continue
            result.findings.extend(self._findings(path, fld, hits))
            for _ in range(_MAX_PASSES):
                if not hits:
                    break
                spans = merge_spans([(h.start, h.end) for h in hits])
                result.replaced += len(spans)
                current = _replace(current, spans)
                hits = self.detector.find(current, binary=fld.binary)
            if hits:
                result.error = (
                    f"{path}: {fld.location or 'text'} still holds a secret after "
                    "scrubbing; edit it by hand"
                )
                return result
            fld.set(current)
            result.changed = True
        if not result.changed or dry_run:
            return result
        try:
            if path.suffix == ".ipynb":
                new_text = _write_notebook(path, doc, valid_before)
            else:
                new_text = doc["text"]
            atomic_write(path, new_text)
        except ScanError as exc:
            result.error = str(exc)
            result.changed = False
        return result

    def scrub_fields(
        self,
        name: str,
        fields: Iterable[Field],
        *,
        scrub: Callable[[Field], bool] = lambda _fld: True,
    ) -> tuple[FileResult, list[bool]]:
        """Find secrets in in-memory fields (a notebook model's, say) and replace them
        with :data:`MASK` in the fields where ``scrub(field)`` is true.

        Returns the result (findings named after ``name``) and, for each finding,
        whether it was masked. Nothing is written anywhere: the fields' setters
        change the document they came from. A field that still holds a secret after
        scrubbing is left as it was, and ``error`` says so.
        """
        result = FileResult(name)
        masked: list[bool] = []
        label = Path(name)
        # dict keys last: renaming one first would let a later write under it restore it
        for fld in sorted(fields, key=lambda f: f.is_key):
            hits = self.detector.find(fld.text, binary=fld.binary)
            if not hits:
                continue
            found = self._findings(label, fld, hits)
            result.findings.extend(found)
            wanted = scrub(fld)
            masked.extend([wanted] * len(found))
            if not wanted:
                continue
            current = fld.text
            for _ in range(_MAX_PASSES):
                if not hits:
                    break
                spans = merge_spans([(h.start, h.end) for h in hits])
                result.replaced += len(spans)
                current = _replace(current, spans)
                hits = self.detector.find(current, binary=fld.binary)
            if hits:
                result.error = (
                    f"{name}: {fld.location or 'text'} still holds a secret after scrubbing"
                )
                masked[-len(found) :] = [False] * len(found)
                continue
            fld.set(current)
            result.changed = True
        return result, masked

    def scrub(
        self,
        paths: Iterable[str | Path],
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[FileResult]:
        files, results = self._expand(paths)
        for i, path in enumerate(files):
            results.append(self.scrub_file(path, dry_run=dry_run))
            if progress is not None:
                progress(i + 1, len(files))
        return results


def _replace(text: str, spans: Sequence[tuple[int, int]]) -> str:
    parts = []
    pos = 0
    for start, end in spans:
        parts.append(text[pos:start])
        parts.append(MASK)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _is_valid(nb: Any) -> bool:
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nbformat.validate(nb)
        except nbformat.ValidationError:
            return False
    return True


def _write_notebook(path: Path, nb: Any, valid_before: bool) -> str:
    import nbformat

    if valid_before and not _is_valid(nb):
        raise ScanError(
            f"{path}: the scrubbed notebook would not be valid; nothing was written. "
            "Remove the outputs holding secrets by hand (Clear All Outputs)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
            if nb.get("nbformat") == 4:
                # the v4 writer itself: nbformat.writes would log a validation error of
                # an already invalid notebook, quoting its content
                from nbformat.v4.nbjson import writes

                text = writes(node)  # type: ignore[no-untyped-call]
            else:
                text = nbformat.writes(  # type: ignore[no-untyped-call]
                    node, version=nbformat.NO_CONVERT
                )
    except (AttributeError, KeyError, TypeError, ValueError):
        # a notebook too malformed for nbformat's writer (a cell without metadata):
        # keep its shape, in nbformat's layout
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
    return str(text) if text.endswith("\n") else f"{text}\n"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``:
    readers see the old file or the new one, never half of one."""
    data = text.encode("utf-8", "surrogateescape")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ScanError(
            f"{path}: cannot write next to the file ({exc.strerror}); "
            "check the folder's permissions"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ScanError(f"{path}: cannot replace the file ({exc.strerror})") from None

"""Reports on stdout (text or JSON), notes and progress on stderr.

A report names places and kinds, never values. Progress is drawn only when
stderr is a terminal, so a pre-commit log or a pipe stays clean.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TextIO

from ._scan import FileResult

__all__ = ["progress_printer", "render_scan", "render_scrub"]

#: Below this many files no progress is drawn even on a terminal.
PROGRESS_MIN_FILES = 20


def progress_printer(stream: TextIO, force: bool = False) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callback drawing on ``stream``, or None when it is
    not a terminal (and ``force`` is false)."""
    isatty = getattr(stream, "isatty", None)
    if not force and not (callable(isatty) and isatty()):
        return None

    def progress(done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        step = max(1, total // 100)
        if done % step == 0 or done == total:
            end = "\n" if done == total else ""
            stream.write(f"\rnbcreds: scanned {done}/{total} files{end}")
            stream.flush()

    return progress


def _errors(results: Sequence[FileResult], err: TextIO) -> int:
    n = 0
    for r in results:
        if r.error is not None:
            print(f"nbcreds: error: {r.error}", file=err)
            n += 1
    return n


def render_scan(results: Sequence[FileResult], fmt: str, out: TextIO, err: TextIO) -> int:
    """Print the findings; the exit code: 2 on any error, 1 on findings, else 0."""
    findings = [f for r in results for f in r.findings]
    n_errors = _errors(results, err)
    scanned = sum(1 for r in results if r.error is None)
    if fmt == "json":
        doc = {
            "findings": [f.as_dict() for f in findings],
            "errors": [{"path": r.path, "message": r.error} for r in results if r.error],
            "files_scanned": scanned,
        }
        print(json.dumps(doc, indent=2), file=out)
    else:
        for f in findings:
            print(str(f), file=out)
        files = len({f.path for f in findings})
        if findings:
            print(
                f"nbcreds: {len(findings)} finding(s) in {files} file(s) "
                f"({scanned} scanned); run `nbcreds scrub` to mask them",
                file=err,
            )
        else:
            print(f"nbcreds: no secret found ({scanned} file(s) scanned)", file=err)
    if n_errors:
        return 2
    return 1 if findings else 0


def render_scrub(
    results: Sequence[FileResult], fmt: str, dry_run: bool, out: TextIO, err: TextIO
) -> int:
    """Print what changed (or would); exit 2 on error, 1 when a dry run found something."""
    n_errors = _errors(results, err)
    touched = [r for r in results if r.findings]
    if fmt == "json":
        doc = {
            "dry_run": dry_run,
            "files": [
                {
                    "path": r.path,
                    "changed": r.changed,
                    "replaced": r.replaced,
                    "findings": [f.as_dict() for f in r.findings],
                }
                for r in touched
            ],
            "errors": [{"path": r.path, "message": r.error} for r in results if r.error],
        }
        print(json.dumps(doc, indent=2), file=out)
    else:
        verb = "would mask" if dry_run else "masked"
        for r in touched:
            if not dry_run and not r.changed:
                continue
            places = sorted({f.location for f in r.findings})
            shown = ", ".join(places[:5]) + (
                f" and {len(places) - 5} more" if len(places) > 5 else ""
            )
            print(f"{r.path}: {verb} {len(r.findings)} finding(s) in {shown}", file=out)
        changed = sum(1 for r in touched if r.changed or dry_run)
        print(
            f"nbcreds: {'would change' if dry_run else 'changed'} {changed} file(s) of "
            f"{len(results)}",
            file=err,
        )
    if n_errors:
        return 2
    return 1 if dry_run and touched else 0

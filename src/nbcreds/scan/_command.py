"""The ``nbcreds scan`` / ``nbcreds scrub`` commands, independent of argparse.

``cli.py`` parses arguments into :class:`Options` and calls :func:`run`; this
module gathers the configured values, builds the scanner and prints the report.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from .._exceptions import NbcredsError
from ._report import progress_printer, render_scan, render_scrub
from ._scan import Scanner
from ._values import collect_configured_values

__all__ = ["Options", "run"]


@dataclass
class Options:
    """Everything ``scan`` and ``scrub`` accept."""

    command: str
    paths: Sequence[str]
    format: str = "text"
    config: str | None = None
    use_config: bool = True
    secrets: Sequence[str] = field(default_factory=list)
    namespaces: Sequence[str] = field(default_factory=list)
    env_vars: Sequence[str] = field(default_factory=list)
    mint: bool = False
    shapes: bool = True
    backend: str = "auto"
    dry_run: bool = False
    progress: bool | None = None


def run(opts: Options, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; returns the exit code (0 clean, 1 findings, 2 error)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        if opts.config is not None:
            from .. import api

            api.load_config(opts.config)
        values = (
            collect_configured_values(
                names=opts.secrets,
                namespaces_=opts.namespaces,
                env_vars=opts.env_vars,
                mint=opts.mint,
                resolve_config=opts.use_config,
                stderr=err,
            )
            if opts.use_config or opts.env_vars
            else []
        )
        scanner = Scanner(values, shapes=opts.shapes, backend=opts.backend)
    except NbcredsError as exc:
        print(f"nbcreds: error: {exc}", file=err)
        return 2
    progress = None if opts.progress is False else progress_printer(err, bool(opts.progress))
    if opts.command == "scan":
        results = scanner.scan(opts.paths, progress=progress)
        return render_scan(results, opts.format, out, err)
    results = scanner.scrub(opts.paths, dry_run=opts.dry_run, progress=progress)
    return render_scrub(results, opts.format, opts.dry_run, out, err)

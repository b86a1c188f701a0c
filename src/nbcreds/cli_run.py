"""``nbcreds run IN.ipynb [OUT.ipynb]``: execute a notebook headless with masking
loaded and the result guarded (for CI jobs). Registered by ``cli.py``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    run_p = sub.add_parser(
        "run",
        help="execute a notebook headless, masking loaded, output scanned",
        description="Execute a notebook with nbclient: nbcreds masking is loaded into the "
        "kernel before the first cell, and the executed notebook goes through the save "
        "guard ([guard] mode of nbcreds.toml, default scrub) before it is written.",
        epilog="Exit codes: 0 ok, 1 a cell failed or the guard refused, 2 bad input.",
    )
    run_p.add_argument("source", metavar="IN.ipynb", help="the notebook to run")
    run_p.add_argument(
        "output",
        metavar="OUT.ipynb",
        nargs="?",
        help="where to write the executed notebook (default: IN.ipynb, in place)",
    )
    run_p.add_argument("--kernel", help="kernel name (default: the notebook's kernelspec)")
    run_p.add_argument("--timeout", type=int, help="seconds a cell may run (default: none)")
    run_p.add_argument(
        "--allow-errors",
        action="store_true",
        help="keep running after a failing cell (exit 0 if the run completes)",
    )


def run(args: argparse.Namespace) -> int:
    from .guard._execute import run_notebook

    return run_notebook(
        args.source,
        args.output,
        kernel_name=args.kernel,
        timeout=args.timeout,
        allow_errors=args.allow_errors,
    )

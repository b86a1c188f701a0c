"""The ``nbcreds`` command line: ``nbcreds scan``, ``scrub``, ``run`` and ``doctor``.

Thin on purpose: argparse turns the arguments into
:class:`nbcreds.scan.Options`, and :func:`nbcreds.scan.run` does the work.
Exit codes: 0 clean, 1 secrets found (or would be scrubbed), 2 error.
``nbcreds doctor`` (:mod:`nbcreds._doctor`): 0 when nothing is wrong, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files or folders (folders are scanned recursively)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="report format on stdout (default: text)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="nbcreds.toml to use (default: found as usual)"
    )
    parser.add_argument(
        "--no-config",
        dest="use_config",
        action="store_false",
        help="do not resolve configured secrets: look for token shapes only",
    )
    parser.add_argument(
        "--secret",
        dest="secrets",
        action="append",
        default=[],
        metavar="NAME",
        help="look only for this configured secret (repeatable)",
    )
    parser.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        default=[],
        metavar="NS",
        help="also resolve the secrets visible from NS",
    )
    parser.add_argument(
        "--value-from-env",
        dest="env_vars",
        action="append",
        default=[],
        metavar="VAR",
        help="also look for the value of environment variable VAR",
    )
    parser.add_argument(
        "--mint", action="store_true", help="also fetch every credential's token and look for it"
    )
    parser.add_argument(
        "--no-shapes",
        dest="shapes",
        action="store_false",
        help="look for configured values only, not token shapes",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "hyperscan", "regex"),
        default="auto",
        help="engine for token shapes (default: hyperscan when installed)",
    )
    parser.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="draw progress on stderr even when it is not a terminal",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never draw progress"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbcreds",
        description="Keep secrets out of notebooks and repositories.",
        epilog="Exit codes: 0 clean, 1 secrets found, 2 error. Values are never printed.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan = sub.add_parser(
        "scan",
        help="report secrets in files and notebooks",
        description="Report configured secret values and token shapes "
        "(their place and kind, never the value).",
    )
    _common(scan)
    scrub = sub.add_parser(
        "scrub",
        help="replace secrets with **** in place",
        description="Replace every finding with **** in place (atomic "
        "write; notebooks stay valid).",
    )
    _common(scrub)
    scrub.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would change, write nothing (exit 1 if anything would)",
    )
    from . import cli_run

    cli_run.add_parser(sub)
    doctor = sub.add_parser(
        "doctor",
        help="show what nbcreds sees here (config, sources, KV, masking, extensions)",
        description="Check the config, the namespace, each secret source, the KV store, "
        "the masking engine and the Jupyter extensions; exit 1 with what to do when "
        "something is wrong. Never prints a secret.",
    )
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    doctor.add_argument("--config", metavar="FILE", help="nbcreds.toml to use")
    return parser


def _version() -> str:
    import nbcreds

    return f"nbcreds {nbcreds.__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbcreds`` script; returns the exit code."""
    from .scan import Options, run

    args = build_parser().parse_args(argv)
    if args.command == "run":
        from . import cli_run

        return cli_run.run(args)
    if args.command == "doctor":
        from ._doctor import main as doctor

        return doctor(args.format, args.config)
    opts = Options(
        command=args.command,
        paths=args.paths,
        format=args.format,
        config=args.config,
        use_config=args.use_config,
        secrets=args.secrets,
        namespaces=args.namespaces,
        env_vars=args.env_vars,
        mint=args.mint,
        shapes=args.shapes,
        backend=args.backend,
        dry_run=getattr(args, "dry_run", False),
        progress=args.progress,
    )
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())

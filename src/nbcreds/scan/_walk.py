"""What a scan reads: the files under the given paths, and the fields of a notebook.

A notebook is parsed (JSON, then nbformat's in-memory form, where multi-line
strings saved as lists of lines are joined again -- a value split across two
saved lines is found whole) and every string in it is visited: cell sources,
outputs of every MIME type, stream text, tracebacks, attachments, cell and
notebook metadata, widget state. Each field knows its place
(``cell 3:output 1 (text/plain)``) and how to write a new text back.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import ScanError

__all__ = ["Field", "iter_files", "notebook_fields", "read_notebook", "read_text", "rejoin_lines"]

WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
#: Directories a recursive scan never enters (tools' caches and environments).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".ipynb_checkpoints",
    }
)


@dataclass
class Field:
    """One string of a file: its place, its text and how to replace it."""

    location: str
    text: str
    set: Callable[[str], None]
    binary: bool = False
    is_key: bool = False


def is_binary_mime(mime: str) -> bool:
    """nbformat stores these base64-encoded (everything but text and JSON)."""
    return not (
        mime.startswith("text/")
        or mime.endswith("json")
        or mime.endswith("+xml")
        or mime == "application/javascript"
    )


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The files named, and those under the folders named (sorted, tool folders skipped).

    A missing path raises :class:`ScanError`; files that hold NUL bytes in their
    first 8 KiB are skipped when found in a folder (images, archives).
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                for name in sorted(files):
                    candidate = Path(root, name)
                    if candidate.is_file() and not _looks_binary(candidate):
                        yield candidate
        elif path.exists():
            yield path
        else:
            raise ScanError(f"{path}: no such file or directory")


def _looks_binary(path: Path) -> bool:
    if path.suffix == ".ipynb":
        return False
    try:
        with path.open("rb") as fh:
            return b"\0" in fh.read(8192)
    except OSError:
        return False  # let the scan report the error


def read_text(path: Path) -> str:
    """The file's text; undecodable bytes survive a round trip (surrogateescape)."""
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise ScanError(
            f"{path}: cannot read the file ({exc.strerror}); check the path and its permissions"
        ) from None


def read_notebook(path: Path, text: str) -> Any:
    """Parse a notebook without validating it (a scan reads invalid notebooks too).

    Format 4 (every notebook saved since 2015) is read with :mod:`json` and its
    split strings are joined exactly as ``nbformat``'s ``rejoin_lines`` does
    (tested against it): importing nbformat pulls in jsonschema's format
    checkers, which costs seconds -- too much for a pre-commit hook that reads
    one small notebook. Older formats go through nbformat. Error messages give
    the position of a JSON error, never the file's content.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise ScanError(
            f"{path}: not a notebook: invalid JSON{where}; fix the file or exclude it from the scan"
        ) from None
    if not isinstance(data, dict):
        raise ScanError(f"{path}: not a notebook: the JSON document is not an object")
    major = data.get("nbformat", 4)
    if major == 4:
        return rejoin_lines(data)
    import importlib

    import nbformat

    nb = nbformat.from_dict(data)  # type: ignore[no-untyped-call]
    if isinstance(major, int) and major in nbformat.versions:
        rwbase = importlib.import_module(f"nbformat.v{major}.rwbase")
        # an unusual shape that cannot be rejoined is scanned as it is
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            nb = rwbase.rejoin_lines(nb)
    return nb


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _rejoin_bundle(bundle: Any) -> None:
    if not isinstance(bundle, dict):
        return
    for mime, value in list(bundle.items()):
        if (
            not _is_json_mime(mime)
            and isinstance(value, list)
            and all(isinstance(line, str) for line in value)
        ):
            bundle[mime] = "".join(value)


def rejoin_lines(nb: dict[str, Any]) -> dict[str, Any]:
    """Join the strings a v4 notebook saves as lists of lines (nbformat's rule)."""
    cells = nb.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            cell["source"] = "".join(source)
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for bundle in attachments.values():
                _rejoin_bundle(bundle)
        outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
        for output in outputs if isinstance(outputs, list) else []:
            if not isinstance(output, dict):
                continue
            kind = output.get("output_type", "")
            if kind in ("execute_result", "display_data"):
                _rejoin_bundle(output.get("data"))
            elif kind:
                text = output.get("text")
                if isinstance(text, list) and all(isinstance(x, str) for x in text):
                    output["text"] = "".join(text)
    return nb


def _leaves(container: Any, key: Any, location: str, binary: bool = False) -> Iterator[Field]:
    """Every string under ``container[key]`` (dict keys too), with a setter."""
    value = container[key]
    if isinstance(value, str):

        def setter(new: str, c: Any = container, k: Any = key) -> None:
            c[k] = new

        yield Field(location, value, setter, binary)
    elif isinstance(value, list):
        for i in range(len(value)):
            yield from _leaves(value, i, location, binary)
    elif isinstance(value, dict):
        for k in list(value):
            if isinstance(k, str) and len(k) >= 8:

                def rename(new: str, d: Any = value, old: str = k) -> None:
                    d[new] = d.pop(old)

                yield Field(location, k, rename, is_key=True)
            yield from _leaves(value, k, location, binary)


def notebook_fields(nb: Any) -> Iterator[Field]:
    """Every string of a parsed notebook, with its place."""
    for i, cell in enumerate(nb.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        c = f"cell {i + 1}"
        for key in list(cell):
            if key == "outputs" and isinstance(cell[key], list):
                for j, output in enumerate(cell[key]):
                    if isinstance(output, dict):
                        yield from _output_fields(output, f"{c}:output {j + 1}")
            elif key == "attachments" and isinstance(cell[key], dict):
                for name, bundle in cell[key].items():
                    if isinstance(bundle, dict):
                        for mime in list(bundle):
                            yield from _leaves(
                                bundle,
                                mime,
                                f"{c}:attachment {name} ({mime})",
                                is_binary_mime(mime),
                            )
                    else:
                        yield from _leaves(cell[key], name, f"{c}:attachment {name}")
            else:
                yield from _leaves(cell, key, f"{c}:{key}")
    for key in list(nb):
        if key == "cells":
            continue
        if key == "metadata" and isinstance(nb[key], dict):
            meta = nb[key]
            for mkey in list(meta):
                where = (
                    "notebook metadata:widget state"
                    if mkey == "widgets"
                    else (f"notebook metadata:{mkey}")
                )
                yield from _leaves(meta, mkey, where)
        else:
            yield from _leaves(nb, key, f"notebook:{key}")


def _output_fields(output: dict[str, Any], where: str) -> Iterator[Field]:
    kind = output.get("output_type", "")
    for key in list(output):
        value = output[key]
        if key in ("data",) and isinstance(value, dict):
            for mime in list(value):
                yield from _leaves(value, mime, f"{where} ({mime})", is_binary_mime(mime))
        elif key == "text":
            yield from _leaves(output, key, f"{where} (stream {output.get('name', 'text')})")
        elif key == "traceback":
            yield from _leaves(output, key, f"{where} (traceback)")
        elif key in ("ename", "evalue"):
            yield from _leaves(output, key, f"{where} (error {key})")
        elif key == "metadata":
            yield from _leaves(output, key, f"{where} (metadata)")
        elif key != "output_type" or not isinstance(kind, str):
            yield from _leaves(output, key, f"{where} ({key})")

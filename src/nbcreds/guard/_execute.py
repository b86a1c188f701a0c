"""Headless runs with masking loaded and the result guarded: ``nbcreds run`` (and,
in ``_nbconvert``, the preprocessor for ``jupyter nbconvert``).

The kernel loads ``nbcreds`` (``%load_ext nbcreds``, sent silently: it leaves no
cell and no output) as soon as it is ready, before the first cell runs. The
executed notebook then goes through the save guard's check (``[guard]`` of the
``nbcreds.toml`` found from the working directory) before anyone writes it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from nbclient import NotebookClient
from nbclient.util import run_sync

from .._exceptions import NbcredsError
from ._guard import Guard, Report

__all__ = ["NbcredsNotebookClient", "guard_notebook", "load_masking", "run_notebook"]

PREAMBLE = "get_ipython().run_line_magic('load_ext', 'nbcreds')"


async def load_masking(client: Any) -> None:
    """Load nbcreds into ``client``'s kernel; an error if the kernel cannot."""
    msg_id = client.kc.execute(PREAMBLE, silent=True, store_history=False)
    reply = await client.async_wait_for_reply(msg_id)
    content = (reply or {}).get("content", {})
    if content.get("status") != "ok":
        raise NbcredsError(
            f"the kernel {client.kernel_name!r} could not load nbcreds "
            f"({content.get('ename', 'no reply')}): install nbcreds in the kernel's "
            "environment, or run an IPython kernel that has it"
        )


class MaskingClientMixin:
    """For NotebookClient subclasses: masking is loaded before the first cell."""

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()  # type: ignore[misc]
        await load_masking(self)
        return kc

    # nbclient binds its sync wrapper to its own coroutine: bind it to this one
    start_new_kernel_client = run_sync(async_start_new_kernel_client)


def guard_notebook(nb: Any, name: str, guard: Guard | None = None) -> Report:
    """Scan an executed notebook in memory and apply ``[guard] mode`` (scrub by default)."""
    guard = guard if guard is not None else Guard(Path.cwd())
    return guard.check_model({"type": "notebook", "content": nb}, name, "save")


def print_report(report: Report, stream: TextIO) -> None:
    if report.error:
        print(f"nbcreds: note: {report.error}", file=stream)
    for f in report.findings:
        print(f"nbcreds: {report.path}: {f.describe()}: {f.action}", file=stream)


class NbcredsNotebookClient(MaskingClientMixin, NotebookClient):
    """``NotebookClient`` with nbcreds masking loaded before the first cell."""


def run_notebook(
    source: str | Path,
    output: str | Path | None = None,
    *,
    kernel_name: str | None = None,
    timeout: int | None = None,
    allow_errors: bool = False,
    stderr: TextIO | None = None,
) -> int:
    """Execute ``source`` headless and write the guarded result to ``output`` (default:
    ``source`` itself). Exit code: 0 ok, 1 a cell failed or the guard refused, 2 bad input.

    A failed run still writes the executed notebook (scrubbed), so the error can be
    read; a refused one (``[guard] mode = "block"``) writes nothing.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    err = stderr if stderr is not None else sys.stderr
    src = Path(source)
    dest = Path(output) if output is not None else src
    try:
        nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        print(f"nbcreds: error: cannot read {src}: {exc.__class__.__name__}", file=err)
        return 2
    kwargs: dict[str, Any] = {"resources": {"metadata": {"path": str(src.parent.resolve())}}}
    if kernel_name:
        kwargs["kernel_name"] = kernel_name
    if timeout is not None:
        kwargs["timeout"] = timeout
    client = NbcredsNotebookClient(nb, allow_errors=allow_errors, **kwargs)
    failed: str | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = f"a cell raised {exc.ename}"
    except NbcredsError as exc:
        print(f"nbcreds: error: {exc}", file=err)
        return 2
    report = guard_notebook(nb, str(dest))
    print_report(report, err)
    if report.action == "refused":
        print(f"nbcreds: error: {report.refusal()}", file=err)
        return 1
    from ..scan import atomic_write

    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        dest.touch(mode=0o644)
    atomic_write(dest, nbformat.writes(nb) + "\n")  # type: ignore[no-untyped-call]
    if failed:
        print(f"nbcreds: {src}: {failed}; the executed notebook is in {dest}", file=err)
        return 1
    print(f"nbcreds: ran {src} -> {dest}", file=err)
    return 0

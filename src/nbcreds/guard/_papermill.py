"""The papermill engine ``nbcreds`` (entry point group ``papermill.engine``).

``papermill in.ipynb out.ipynb --engine nbcreds -p token secret:API_TOKEN``:

- a string parameter that is a reference (``secret:NAME``, ``env:VAR``,
  ``vault:path#field``) is injected as ``token = nbcreds.guard.parameter("token",
  "secret:API_TOKEN")``, so the kernel resolves it through the configured sources
  and the injected cell and ``metadata.papermill.parameters`` hold the reference,
  never the value;
- masking (``%load_ext nbcreds``) is loaded into the kernel before the first cell;
- every write of the output notebook (papermill saves it as cells run) goes through
  the save guard first (``[guard] mode``, default ``scrub``). In ``block`` mode a
  notebook still holding a secret is not written and the run fails.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager
from papermill.iorw import write_ipynb
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from .._exceptions import NbcredsError
from ._execute import MaskingClientMixin, guard_notebook, print_report
from ._guard import Guard, Report
from ._params import is_parameter_reference, reference_lines

__all__ = ["NbcredsEngine", "inject_references"]

INJECTED_TAG = "injected-parameters"


def inject_references(nb: Any, kernel_name: str | None, language: str | None) -> bool:
    """Rewrite papermill's injected cell so reference parameters resolve in the kernel.

    Returns True when the cell was rewritten (there was a reference parameter).
    """
    params = dict(nb.get("metadata", {}).get("papermill", {}).get("parameters") or {})
    refs = {k: v for k, v in params.items() if is_parameter_reference(v)}
    if not refs:
        return False
    index = next(
        (
            i
            for i, cell in enumerate(nb.cells)
            if INJECTED_TAG in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:
        return False
    if (language or "python") != "python":
        raise NbcredsError(
            f"parameters {', '.join(sorted(refs))} are references (secret:, env:, vault:), "
            f"which the nbcreds engine resolves in Python kernels only, not {language}"
        )
    from papermill.translators import translate_parameters

    plain = {k: v for k, v in params.items() if k not in refs}
    text = translate_parameters(kernel_name, language, plain, "Parameters") if plain else ""
    lines = [text.rstrip("\n")] if text.strip() else ["# Parameters"]
    nb.cells[index].source = "\n".join([*lines, *reference_lines(params)]) + "\n"
    return True


class GuardedExecutionManager(NotebookExecutionManager):  # type: ignore[misc]
    """Papermill's execution manager, whose every save passes the guard first."""

    def __init__(self, nb: Any, *, guard: Guard, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.guard = guard
        self.last_report: Report | None = None
        self._told: set[tuple[str, str, str]] = set()

    def guard_now(self) -> Report:
        """Guard the notebook in memory (scrubbing it in place); say what is new."""
        name = str(self.output_path or "papermill output")
        report = guard_notebook(self.nb, name, self.guard)
        new = [f for f in report.findings if (f.location, f.rule, f.action) not in self._told]
        self._told.update((f.location, f.rule, f.action) for f in new)
        if new or (report.error and self.last_report is None):
            shown = Report(report.path, report.operation, report.mode, new, error=report.error)
            print_report(shown, sys.stderr)
        self.last_report = report
        return report

    def save(self, **kwargs: Any) -> None:
        if kwargs.get("nb") is not None:
            self.nb = kwargs["nb"]
        if not self.output_path:
            return
        if self.guard_now().action == "refused":
            logger.warning("nbcreds guard: not saving %s: it holds secrets", self.output_path)
            return  # the previous version of the output stays
        write_ipynb(self.nb, self.output_path)


class MaskingPapermillClient(MaskingClientMixin, PapermillNotebookClient):  # type: ignore[misc]
    """Papermill's client with nbcreds masking loaded before the first cell."""


class NbcredsEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine, with references, masking and the save guard."""

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: Any = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        inject_references(nb, kernel_name, cls.nb_language(nb))
        nb_man = GuardedExecutionManager(
            nb,
            guard=Guard(Path.cwd()),
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        # papermill writes the returned notebook itself: it must be the guarded one
        report = nb_man.guard_now()
        if report.action == "refused":
            raise NbcredsError(report.refusal())
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        # as NBClientEngine does, with the masking client
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        return MaskingPapermillClient(nb_man, **final_kwargs).execute()

"""An nbconvert ``ExecutePreprocessor`` with nbcreds masking loaded and the result guarded."""

from __future__ import annotations

import sys
from typing import Any

from nbconvert.preprocessors import ExecutePreprocessor

from .._exceptions import NbcredsError
from ._execute import MaskingClientMixin, guard_notebook, print_report

__all__ = ["NbcredsExecutePreprocessor"]


class NbcredsExecutePreprocessor(MaskingClientMixin, ExecutePreprocessor):
    """``ExecutePreprocessor`` with nbcreds masking loaded and the result guarded::

        jupyter nbconvert --to notebook --output out.ipynb \\
            --Exporter.preprocessors=nbcreds.guard.NbcredsExecutePreprocessor in.ipynb

    In ``block`` mode a notebook that still holds a secret after the run raises
    :class:`~nbcreds.NbcredsError`, so nothing is written.
    """

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> Any:
        nb, resources = super().preprocess(nb, resources, km)
        name = str((resources or {}).get("metadata", {}).get("name") or "notebook")
        report = guard_notebook(nb, f"{name}.ipynb")
        print_report(report, sys.stderr)
        if report.action == "refused":
            raise NbcredsError(report.refusal())
        return nb, resources

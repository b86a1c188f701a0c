"""A real JupyterLab server for UI tests (see :mod:`nbcreds.testing.jupyter`, which
the save guard's server and benchmark share)."""

from __future__ import annotations

from nbcreds.testing.jupyter import LabServer

__all__ = ["LabServer"]

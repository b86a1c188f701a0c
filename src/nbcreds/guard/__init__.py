"""The save guard: every way a notebook reaches disk is scanned by ``nbcreds scan``'s
engine.

- a **Jupyter Server extension** (this module, enabled by ``pip install nbcreds``
  through ``etc/jupyter/jupyter_server_config.d/nbcreds.json``) guarding saves,
  autosaves and checkpoints through the contents API;
- a **papermill engine** ``nbcreds`` (:class:`NbcredsEngine`);
- ``nbcreds run`` and an **nbconvert preprocessor**
  (:class:`NbcredsExecutePreprocessor`) for headless runs.

What to do is read from the ``[guard]`` table of ``nbcreds.toml``
(:mod:`nbcreds.guard._settings`). Importing this package is light: Jupyter Server,
papermill and nbclient are imported when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__
from ._guard import Guard, GuardFinding, Report
from ._params import parameter
from ._settings import MODES, GuardSettings, parse_guard

if TYPE_CHECKING:
    from ._execute import run_notebook
    from ._nbconvert import NbcredsExecutePreprocessor
    from ._papermill import NbcredsEngine

__all__ = [
    "MODES",
    "Guard",
    "GuardFinding",
    "GuardSettings",
    "NbcredsEngine",
    "NbcredsExecutePreprocessor",
    "Report",
    "__version__",
    "parameter",
    "parse_guard",
    "run_notebook",
]

_LAZY = {
    "NbcredsEngine": "._papermill",
    "NbcredsExecutePreprocessor": "._nbconvert",
    "run_notebook": "._execute",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbcreds.guard"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from ._server import load_extension

    load_extension(serverapp)

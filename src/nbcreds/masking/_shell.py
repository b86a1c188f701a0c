"""What IPython itself writes or shows, outside the kernel's messages.

* ``%logstart`` (and ``%logstart -o``, which adds every result's repr) writes a
  log file in the working directory: :class:`IPython.core.logger.Logger`'s
  ``log_write`` is wrapped to mask what it writes.
* ``HistoryManager.db_log_output`` stores result reprs in IPython's history
  database: ``store_output`` masks the repr before it is queued for the database.
* The inspector (``tok?``, ``tok??``, Shift-Tab's ``inspect_request``) prints a
  string's *length* and the first and last characters of its string form: for
  a :class:`~nbcreds.Secret` or any registered value both are replaced (the
  string form by the value's repr or the mask), so no slice or length shows,
  whatever the window the egress masks.

Each wrapper sits on the shell's own instance and fails closed (a failure to
mask writes the withheld marker, never the text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _engine
from ._markup import masked_text
from ._registry import registry

__all__ = ["hide_from_inspector", "wrap_info", "wrap_log_write", "wrap_store_output"]


def _masked(text: str) -> str:
    try:
        return masked_text(str.__str__(text), _engine.compiled())
    except Exception:
        return _engine.WITHHELD


def wrap_log_write(original: Callable[..., Any]) -> Callable[..., Any]:
    def log_write(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, str) and data:
            data = _masked(data)
        return original(data, *args, **kwargs)

    log_write._nbcreds_original = original  # type: ignore[attr-defined]
    return log_write


def wrap_store_output(history: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def store_output(line_num: int, *args: Any, **kwargs: Any) -> Any:
            reprs = getattr(history, "output_hist_reprs", None)
            if isinstance(reprs, dict) and isinstance(reprs.get(line_num), str):
                reprs[line_num] = _masked(reprs[line_num])
            return original(line_num, *args, **kwargs)

        store_output._nbcreds_original = original  # type: ignore[attr-defined]
        return store_output

    return make


def _is_sensitive(obj: Any) -> bool:
    if not isinstance(obj, str):
        return False
    from ..values import Secret

    return isinstance(obj, Secret) or obj in registry


def hide_from_inspector(obj: Any, info: Any) -> Any:
    """``info`` (the inspector's dict for ``obj``) without a sensitive string's
    length and slices."""
    if not isinstance(info, dict) or not _is_sensitive(obj):
        return info
    shown = dict(info)
    shown["length"] = None
    if shown.get("string_form") is not None:
        shown["string_form"] = repr(obj) if type(obj) is not str else _mask_of()
    return shown


def _mask_of() -> str:
    replacement = _engine.compiled().replacement()
    return replacement(None) if callable(replacement) else replacement


def wrap_info(original: Callable[..., Any]) -> Callable[..., Any]:
    def info(obj: Any, *args: Any, **kwargs: Any) -> Any:
        return hide_from_inspector(obj, original(obj, *args, **kwargs))

    info._nbcreds_original = original  # type: ignore[attr-defined]
    return info

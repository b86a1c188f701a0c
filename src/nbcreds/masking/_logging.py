"""Masking log records before any handler formats them.

Log lines do not all go through the kernel's streams: a ``FileHandler`` writes a
file, the kernel's own log goes to the server's console. httpx logs every
request URL at INFO -- with its query string, where tokens like to hide. So
records are masked where they are made (a record factory) and again where they
are handled (a :class:`MaskingFilter` on the root logger and its handlers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import _engine
from ._markup import masked_text

__all__ = ["MaskingFilter", "install", "mask_record", "uninstall"]

_formatter = logging.Formatter()


def mask_record(record: logging.LogRecord) -> None:
    """Replace a record's message, exception text and stack with masked text when
    they contain a registered value. Records without one are left untouched, so
    tools that read ``record.args`` keep working."""
    state = _engine.compiled()
    if state.empty or getattr(record, "_nbcreds_masked", None) == state.version:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let logging report it as usual
        message = None
    if message is not None:
        shown = masked_text(message, state)
        if shown is not message:
            record.msg = shown
            record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = masked_text(record.exc_text, state)
    if record.stack_info:
        record.stack_info = masked_text(record.stack_info, state)
    setattr(record, "_nbcreds_masked", state.version)  # noqa: B010


class MaskingFilter(logging.Filter):
    """A filter that masks (and never drops) records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            mask_record(record)
        except Exception:
            record.msg, record.args = _engine.WITHHELD, None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


_filter = MaskingFilter()
_previous_factory: Callable[..., logging.LogRecord] | None = None
_filtered_handlers: list[logging.Handler] = []


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    _filter.filter(record)
    return record


def install() -> None:
    """Mask every record from now on (idempotent)."""
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_factory)
    root = logging.getLogger()
    if _filter not in root.filters:
        root.addFilter(_filter)
    for handler in root.handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
            _filtered_handlers.append(handler)


def uninstall() -> None:
    """Undo :func:`install` exactly."""
    global _previous_factory
    if _previous_factory is not None:
        if logging.getLogRecordFactory() is _factory:
            logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None
    logging.getLogger().removeFilter(_filter)
    for handler in _filtered_handlers:
        handler.removeFilter(_filter)
    _filtered_handlers.clear()

"""The Jupyter Server side of the save guard: a pre-save hook, guarded checkpoints,
and the REST endpoint the lab extension reads reports from.

Every save through the contents API (a save, an autosave, an upload, a copy)
runs the contents manager's pre-save hooks before anything is written, so the
hook can scrub the model in place or refuse the save with an HTTP error -- the
file on disk then stays as it was. Checkpoints copy the file on disk and never
see a model, so ``create_checkpoint`` of the manager's checkpoints object is
wrapped: ``block`` refuses before the copy, ``scrub`` masks the copy. That also
guards a notebook that reached the directory without the API.

``GET {base_url}nbcreds/guard/last?path=PATH[&operation=save]`` answers
``{"report": {...}}`` -- the newest report for that file (places, kinds, rules
and what was done; never a value) or ``null``. The lab extension asks it after
each save, so autosaves are covered: the contents API's answer has a fixed shape
that JupyterLab reads and cannot carry findings, and a save hook cannot set a
response header.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ._guard import Guard, Report

__all__ = ["ReportStore", "load_extension"]

_MAX_PATHS = 256


class ReportStore:
    """The newest report per (file, operation), a bounded number of files."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple[str, str], Report] = OrderedDict()

    def add(self, report: Report) -> None:
        with self._lock:
            key = (report.path, report.operation)
            self._reports.pop(key, None)
            self._reports[key] = report
            while len(self._reports) > _MAX_PATHS:
                self._reports.popitem(last=False)

    def last(self, path: str, operation: str | None = None) -> Report | None:
        with self._lock:
            found = [
                r
                for (p, op), r in self._reports.items()
                if p == path and (operation is None or op == operation)
            ]
        return max(found, key=lambda r: r.id) if found else None


def _log(log: Any, report: Report) -> None:
    if report.error:
        log.warning("nbcreds guard: %s", report.error)
    if not report.findings:
        return
    places = "; ".join(f.describe() for f in report.findings[:10])
    log.warning(
        "nbcreds guard (%s, mode %s): %s %s: %s",
        report.operation,
        report.mode,
        report.action,
        report.path,
        places.replace("%", " percent "),
    )


def _refuse(report: Report) -> None:
    from tornado import web

    raise web.HTTPError(422, report.refusal(), reason="Secrets found (nbcreds guard)")


def make_pre_save_hook(guard: Guard, store: ReportStore, log: Any) -> Any:
    """The hook ``ContentsManager.register_pre_save_hook`` takes."""

    def nbcreds_guard_pre_save(model: dict[str, Any], path: str, **_kw: Any) -> None:
        if model.get("chunk") is not None or model.get("type") not in ("notebook", "file"):
            return  # chunked uploads arrive in pieces: see docs/guard.md
        path = path.strip("/")
        report = guard.check_model(model, path, "save")
        store.add(report)
        _log(log, report)
        if report.action == "refused":
            _refuse(report)

    return nbcreds_guard_pre_save


def guard_checkpoints(checkpoints: Any, guard: Guard, store: ReportStore, log: Any) -> bool:
    """Wrap ``checkpoints.create_checkpoint`` (file checkpoints, sync or async).

    Returns False when the checkpoints class keeps its copies somewhere other than
    a file next to the notebook (then only saves are guarded).
    """
    original = checkpoints.create_checkpoint
    if getattr(original, "_nbcreds_guarded", False):
        return True
    if not callable(getattr(checkpoints, "checkpoint_path", None)):
        return False

    def before(contents_mgr: Any, path: str) -> None:
        if guard.refresh().mode != "block":
            return
        name = path.strip("/")
        report, _ = guard.check_file(Path(contents_mgr._get_os_path(path)), name, "checkpoint")
        store.add(report)
        _log(log, report)
        if report.findings:
            _refuse(report)

    def after(path: str, checkpoint_id: str) -> None:
        if guard.refresh().mode in ("off", "block"):
            return
        from ..scan import atomic_write

        cp_path = Path(checkpoints.checkpoint_path(checkpoint_id, path))
        report, scrubbed = guard.check_file(cp_path, path.strip("/"), "checkpoint")
        if scrubbed is not None:
            atomic_write(cp_path, scrubbed)
        store.add(report)
        _log(log, report)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def create_async(contents_mgr: Any, path: str) -> Any:
            before(contents_mgr, path)
            model = await original(contents_mgr, path)
            after(path, model["id"])
            return model

        wrapped: Any = create_async
    else:

        @functools.wraps(original)
        def create_sync(contents_mgr: Any, path: str) -> Any:
            before(contents_mgr, path)
            model = original(contents_mgr, path)
            after(path, model["id"])
            return model

        wrapped = create_sync
    wrapped._nbcreds_guarded = True
    checkpoints.create_checkpoint = wrapped
    return True


def _handler_class() -> Any:
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class LastReportHandler(APIHandler):
        """``GET nbcreds/guard/last?path=...``: the newest report for a file."""

        def initialize(self, store: ReportStore) -> None:
            self.store = store

        @web.authenticated
        def get(self) -> None:
            path = self.get_query_argument("path", "").strip("/")
            operation = self.get_query_argument("operation", None)
            report = self.store.last(path, operation)
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps({"report": report.as_dict() if report else None}))

    return LastReportHandler


def load_extension(serverapp: Any) -> Guard:
    """Install the guard into a running ``ServerApp``; returns it (tests, benchmarks)."""
    from jupyter_server.utils import url_path_join

    log = serverapp.log
    guard = Guard(serverapp.root_dir)
    store = ReportStore()
    cm = serverapp.contents_manager
    cm.register_pre_save_hook(make_pre_save_hook(guard, store, log))
    if not guard_checkpoints(cm.checkpoints, guard, store, log):
        log.warning(
            "nbcreds guard: %s keeps checkpoints outside files; only saves are guarded",
            type(cm.checkpoints).__name__,
        )
    base = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(
        ".*$",
        [(url_path_join(base, "nbcreds/guard/last"), _handler_class(), {"store": store})],
    )
    settings = guard.refresh()
    log.info(
        "nbcreds guard: mode %s for saves under %s (config: %s)",
        settings.mode,
        guard.root,
        guard._config_path or "none found",
    )
    serverapp.web_app.settings["nbcreds_guard"] = guard
    return guard

"""Egress without a kernel: a plain InteractiveShell (terminal IPython)."""

from __future__ import annotations

import atexit
import io
import logging
import sys
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import nbcreds
from nbcreds.masking import _egress
from nbcreds.testing.leaks import assert_no_leak

VALUE = "shell-secret-Value-7"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    try:
        yield ip
    finally:
        _egress.uninstall(ip)
        atexit.unregister(ip.atexit_operations)  # its gc.collect() at exit is slow
        InteractiveShell.clear_instance()


def test_install_is_idempotent_and_uninstall_undoes_it(shell: InteractiveShell) -> None:
    stdout, stderr = sys.stdout, sys.stderr
    factory = logging.getLogRecordFactory()
    handlers = len(shell.events.callbacks["post_run_cell"])
    _egress.install(shell)
    _egress.install(shell)
    assert isinstance(sys.stdout, _egress.MaskedStream)
    assert sys.stdout._nbcreds_wrapped is stdout
    assert len(shell.events.callbacks["post_run_cell"]) == handlers + 1
    assert logging.getLogRecordFactory() is not factory
    assert _egress.installed(shell)
    _egress.uninstall(shell)
    assert sys.stdout is stdout
    assert sys.stderr is stderr
    assert logging.getLogRecordFactory() is factory
    assert len(shell.events.callbacks["post_run_cell"]) == handlers
    assert not _egress.installed(shell)
    _egress.uninstall(shell)  # a second uninstall is a no-op


def test_prints_results_displays_and_tracebacks_are_masked(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    _egress.install(shell)
    nbcreds.mask(VALUE, "PW")
    shell.user_ns["v"] = VALUE
    shell.run_cell("print(v)")
    shell.run_cell("v")
    shell.run_cell("{'k': v, 'l': [v]}")
    shell.run_cell("from IPython.display import display; display({'nested': v})")
    shell.run_cell("Out[2]")
    shell.run_cell("raise RuntimeError(f'https://user:{v}@db.example')")
    shell.run_cell("import sys; sys.stdout.write(v[:6]); sys.stdout.write(v[6:] + '\\n')")
    out, err = capsys.readouterr()
    assert_no_leak(out + err, [VALUE])
    assert out.count("****") >= 7
    assert "RuntimeError" in out + err


def test_output_after_uninstall_is_no_longer_masked(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    nbcreds.mask(VALUE)
    _egress.install(shell)
    print(VALUE)
    _egress.uninstall(shell)
    print(VALUE)
    out = capsys.readouterr().out
    assert out.splitlines() == ["****", VALUE]


def test_held_fragment_released_at_cell_end(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    nbcreds.mask(VALUE)
    _egress.install(shell)
    shell.user_ns["v"] = VALUE
    shell.run_cell("import sys\nn = sys.stdout.write('end ' + v[:5])")
    assert capsys.readouterr().out == "end " + VALUE[:5]


def test_logging_records_are_masked_on_any_handler(shell: InteractiveShell) -> None:
    nbcreds.mask(VALUE)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("nbcreds-test.httpx")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        _egress.install(shell)
        logger.info("HTTP Request: GET %s", f"https://api.example/?token={VALUE}")
        try:
            raise ValueError(VALUE)
        except ValueError:
            logger.exception("failed with %r", {"password": VALUE})
        _egress.uninstall(shell)
        logger.info("after %s", VALUE)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = buffer.getvalue()
    before, after = lines.split("after ")
    assert_no_leak(before, [VALUE])
    assert "token=****" in before
    assert "ValueError: ****" in before
    assert after.strip() == VALUE  # uninstall really removed the filter


def test_root_handlers_get_the_filter(shell: InteractiveShell) -> None:
    nbcreds.mask(VALUE)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        _egress.install(shell)
        assert any(isinstance(f, logging.Filter) for f in handler.filters)
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "v=%s", (VALUE,), None)
        handler.handle(record)  # a record made before the factory was installed
    finally:
        _egress.uninstall(shell)
        root.removeHandler(handler)
    assert handler.filters == []
    assert buffer.getvalue().strip() == "v=****"


def test_load_ext_installs_masking_and_unload_ext_removes_it(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    stdout = sys.stdout
    shell.run_cell("%load_ext nbcreds")
    assert _egress.installed(shell)
    nbcreds.mask(VALUE)
    shell.user_ns["v"] = VALUE
    shell.run_cell("print(v)")
    shell.run_cell("%unload_ext nbcreds")
    assert not _egress.installed(shell)
    assert sys.stdout is stdout
    shell.run_cell("print('after', v)")
    out = capsys.readouterr().out
    assert out.splitlines() == ["****", f"after {VALUE}"]


def test_writes_do_not_stick_to_the_loading_cells_output_record(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """IPython 9 swaps ``sys.stdout.write`` during each cell to record outputs; the
    proxy installed in the %load_ext cell must not keep writing into that cell's record."""
    shell.run_cell("%load_ext nbcreds", store_history=True)
    load_count = shell.execution_count - 1
    shell.run_cell("print('later output')", store_history=True)
    recorded = shell.history_manager.outputs.get(load_count, [])
    text = "".join("".join(o.bundle.get("stream", [])) for o in recorded)
    assert "later output" not in text
    shell.run_cell("%unload_ext nbcreds")
    assert "later output" in capsys.readouterr().out

"""Where IPython writes or shows things itself: %logstart, output history, the inspector."""

from __future__ import annotations

import atexit
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import nbcreds
from nbcreds.masking import _egress
from nbcreds.testing.leaks import assert_no_leak

VALUE = "files-secret-Value-0123456789-abcdefghij-ZYXWVU"


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[InteractiveShell]:
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(ipython_dir=str(tmp_path / "ipython"))
    try:
        yield ip
    finally:
        _egress.uninstall(ip)
        atexit.unregister(ip.atexit_operations)
        InteractiveShell.clear_instance()


def test_logstart_output_log_is_masked(
    shell: InteractiveShell,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    write_config: Callable[[str], Path],
) -> None:
    write_config("[masking]\nfragment_length = 16\n")  # slices too (the new default)
    _egress.install(shell)
    shell.user_ns["tok"] = nbcreds.mask(VALUE, "TOK")
    log = tmp_path / "session.log"
    shell.run_line_magic("logstart", f"-o {log}")
    shell.run_cell("tok.reveal()", store_history=True)
    shell.run_cell(f"x = {VALUE!r}", store_history=True)
    shell.run_cell("x[:30]", store_history=True)
    shell.run_line_magic("logstop", "")
    capsys.readouterr()
    written = log.read_text()
    assert "#[Out]#" in written
    assert "****" in written
    assert_no_leak(written, [VALUE, VALUE[:30]])


def test_logstart_is_unmasked_again_after_uninstall(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The canary: without masking the same log holds the value (so the test above can fail)."""
    _egress.install(shell)
    _egress.uninstall(shell)
    nbcreds.mask(VALUE)
    log = tmp_path / "plain.log"
    shell.run_line_magic("logstart", f"-o {log}")
    shell.run_cell(f"{VALUE!r}", store_history=True)
    shell.run_line_magic("logstop", "")
    capsys.readouterr()
    assert VALUE in log.read_text()


def test_output_history_database_is_masked(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    history = shell.history_manager
    history.db_log_output = True
    _egress.install(shell)
    nbcreds.mask(VALUE)
    shell.run_cell(f"{VALUE!r} + ' tail'", store_history=True)
    capsys.readouterr()
    history.writeout_cache()
    rows = history.db.execute("SELECT output FROM output_history").fetchall()
    assert rows
    stored = "\n".join(row[0] for row in rows)
    assert "****" in stored
    assert_no_leak(stored, [VALUE])
    assert isinstance(history.db, sqlite3.Connection)


@pytest.mark.parametrize("detail", [0, 1])
def test_the_inspector_shows_no_length_and_no_slice(shell: InteractiveShell, detail: int) -> None:
    _egress.install(shell)
    from nbcreds.values import Secret

    secret = Secret(VALUE, "TOK", "test")
    nbcreds.mask(VALUE, "TOK")
    for obj in (secret, str.__str__(secret)):
        info = shell.inspector.info(obj, "tok", detail_level=detail)
        assert info["length"] is None
        shown = str(info["string_form"])
        assert VALUE[:8] not in shown
        assert VALUE[-8:] not in shown
    shell.user_ns["tok"] = secret
    mime = shell.object_inspect_mime("tok", detail_level=detail)
    text = mime["text/plain"]
    assert "Length" not in text
    assert "<Secret TOK ****>" in text
    assert VALUE[:8] not in text

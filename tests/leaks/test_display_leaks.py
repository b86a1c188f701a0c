"""The leak suite for what displays make of a value (Masking v2), through a real kernel.

Every message (iopub, shell, control), the replies to Shift-Tab inspection and to
the debugger's variable requests, the saved ``.ipynb`` and every file the run
left on disk are scanned for each value and its encodings *and* for any
16-character slice of the long values: truncating displays (``%whos``, ``?``,
pandas, ipywidgets reprs, ``%xmode Verbose``, the debugger) must show nothing
usable.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import nbformat
import pytest

from .conftest import LeakSecrets, Run, dump, joined_streams, no_leak, no_window

pytestmark = pytest.mark.slow


def _code_cells(run: Run) -> list[Any]:
    return [c for c in run.notebook.cells if c.cell_type == "code"]


def _tagged(run: Run, tag: str) -> list[int]:
    return [i for i, c in enumerate(_code_cells(run)) if tag in c.metadata.get("tags", [])]


# What a reader pieces together from a display: colours and tags dropped, lines
# joined (JSON-escaped in messages and the .ipynb, raw in files).
_ANSI = re.compile(r"(?:\x1b|\\u001b)\[[0-9;]*m")
_TAGS = re.compile(r"<[^<>]*>")
_FOLDS = re.compile(r"[ \t]*(?:\\n|\n)[ \t]*")


def _readings(haystack: str | bytes) -> list[str]:
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    plain = _ANSI.sub("", text)
    untagged = html.unescape(_TAGS.sub("", plain))
    return [text, plain, _FOLDS.sub("", plain), untagged, _FOLDS.sub("", untagged)]


def _scan(haystack: str | bytes, secrets: LeakSecrets) -> None:
    __tracebackhide__ = True
    for reading in _readings(haystack):
        no_leak(reading, secrets.values())
        no_window(reading, secrets.sliceable())


def test_no_value_and_no_slice_in_any_message(run_notebook: Any, leak_secrets: LeakSecrets) -> None:
    run = run_notebook("display")
    assert len(run.messages) > 50
    for message in run.messages:
        _scan(dump(message), leak_secrets)


def test_no_value_and_no_slice_in_the_saved_notebook_or_on_disk(
    run_notebook: Any, leak_secrets: LeakSecrets
) -> None:
    run = run_notebook("display")
    _scan(run.ipynb, leak_secrets)
    assert "session.log" in run.files
    for content in run.files.values():
        _scan(content, leak_secrets)
    _scan(run.kernel_output, leak_secrets)


def test_each_stream_as_nbformat_joins_it_holds_no_value_or_slice(
    run_notebook: Any, leak_secrets: LeakSecrets
) -> None:
    """The split-in-time and thread cells: the joined text of each stream of each
    cell (what the saved notebook shows) -- not only each message."""
    run = run_notebook("display")
    streams = joined_streams(run.ipynb)
    for joined in streams:
        _scan(joined, leak_secrets)
        _scan(json.dumps(joined), leak_secrets)
    assert len(streams) > 10


def test_every_display_vector_produced_masked_output(run_notebook: Any) -> None:
    """Each tagged cell really showed the value (so the scans above can fail)."""
    run = run_notebook("display")
    tagged = _tagged(run, "mask")
    assert len(tagged) >= 15
    missing = [i for i in tagged if "****" not in _everything_for(run, run.cell_msg_ids[i])]
    assert missing == []


def _everything_for(run: Run, msg_id: str) -> str:
    """Every message of one execution (iopub, and the shell reply: ``?`` pager payloads)."""
    return "\n".join(
        dump(m) for m in run.messages if m.get("parent_header", {}).get("msg_id") == msg_id
    )


def test_pygments_latex_of_the_value_is_masked(
    run_notebook: Any, leak_secrets: LeakSecrets
) -> None:
    """``IPython.display.Code`` as text/latex: the value as pygments' LaTeX escapes it."""
    from pygments.formatters.latex import escape_tex

    run = run_notebook("display")
    saved = nbformat.reads(run.ipynb.decode(), as_version=4)
    latex = [
        o["data"]["text/latex"]
        for c in saved.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/latex" in o.get("data", {})
    ]
    assert len(latex) == 2
    for value in (leak_secrets.password, leak_secrets.long):
        escaped = escape_tex(value, "PY")
        half = len(escaped) // 2
        for document in latex:
            assert escaped[:half] not in document
            assert escaped[half:] not in document
    assert all("****" in document for document in latex)


def test_split_in_time_and_thread_output_came_out(run_notebook: Any) -> None:
    run = run_notebook("display")
    saved = nbformat.reads(run.ipynb.decode(), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in saved.cells])
    assert "first: " in text
    assert "late: " in text


def test_inspect_requests_show_no_length_or_slice(
    run_notebook: Any, leak_secrets: LeakSecrets
) -> None:
    run = run_notebook("display")
    for name in ("long", "plain"):
        for level in (0, 1):
            reply = run.extra_replies[f"inspect-{name}-{level}"]["content"]
            assert reply["found"]
            text = reply["data"]["text/plain"]
            assert "Length" not in text
            _scan(dump(reply), leak_secrets)
    for index in _tagged(run, "mask")[1:3]:  # long? and plain?: the pager payload
        pager = _everything_for(run, run.cell_msg_ids[index])
        assert "Length" not in pager
        assert "****" in pager


def test_the_debugger_variable_view_is_masked(run_notebook: Any, leak_secrets: LeakSecrets) -> None:
    run = run_notebook("display")
    replies = {k: v for k, v in run.extra_replies.items() if k.startswith("debug-")}
    for name in ("initialize", "attach", "inspectVariables"):
        content = replies[f"debug-{name}"]["content"]
        assert content.get("success"), f"debugger {name} failed"
    variables = replies["debug-inspectVariables"]["content"]["body"]["variables"]
    shown = {v["name"]: v["value"] for v in variables}
    assert "long" in shown
    assert "plain" in shown
    assert "****" in shown["plain"]
    for reply in replies.values():
        _scan(dump(reply), leak_secrets)

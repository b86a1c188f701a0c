"""The leak suite: real notebooks, a real kernel, every vector of the issue.

After each run, every recorded message (iopub and shell, including the replies
to inspect / complete / history / user_expressions requests), every saved
output, the saved ``.ipynb`` bytes and the kernel process's own console output
are scanned for each secret and each of its encodings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nbcreds.testing.leaks import find_leaks

from .conftest import LeakSecrets, Run, dump, no_leak

pytestmark = pytest.mark.slow


def _tagged(run: Run, tag: str) -> list[tuple[int, Any]]:
    code = [c for c in run.notebook.cells if c.cell_type == "code"]
    return [(i, c) for i, c in enumerate(code) if tag in c.metadata.get("tags", [])]


def _guarded_messages(run: Run) -> list[dict[str, Any]]:
    """Messages sent while masking was installed (before the canary cells)."""
    canary = {run.cell_msg_ids[i] for i, _ in _tagged(run, "canary")}
    return [m for m in run.messages if m.get("parent_header", {}).get("msg_id") not in canary]


def _saved_notebook(run: Run) -> bytes:
    """The .ipynb bytes without the canary cells' outputs."""
    import nbformat

    nb = nbformat.from_dict(json.loads(run.ipynb))
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        if "canary" in cell.metadata.get("tags", []):
            cell.outputs = []
    return nbformat.writes(nb).encode()


@pytest.mark.parametrize("name", ["messages", "streams"])
def test_no_secret_in_any_message_output_or_saved_notebook(
    run_notebook: Any, leak_secrets: LeakSecrets, name: str
) -> None:
    run = run_notebook(name)
    values = leak_secrets.values()
    guarded = _guarded_messages(run)
    assert len(guarded) > 50
    for message in guarded:
        no_leak(dump(message), values)
    no_leak(_saved_notebook(run), values)
    for reply in run.extra_replies.values():
        no_leak(dump(reply), values)


@pytest.mark.parametrize("name", ["messages", "streams"])
def test_every_vector_produced_masked_output(run_notebook: Any, name: str) -> None:
    """Each tagged cell really emitted the secret (so the test above can fail):
    its messages carry the mask."""
    run = run_notebook(name)
    tagged = _tagged(run, "mask")
    assert tagged
    missing = [i for i, _ in tagged if "****" not in run.text_for(run.cell_msg_ids[i])]
    assert missing == []


def test_shell_replies_are_masked(run_notebook: Any, leak_secrets: LeakSecrets) -> None:
    run = run_notebook("messages")
    replies = run.extra_replies
    expressions = replies["user_expressions"]["content"]["user_expressions"]
    shown = {k: v["data"]["text/plain"] for k, v in expressions.items()}
    ok = shown == {"p": "'****'", "k": "'****'", "t": "'****'"}
    assert ok, "user_expressions not masked as expected"
    assert replies["inspect"]["content"]["found"]
    ok = "****" in dump(replies["inspect"]["content"]["data"])
    assert ok, "inspect_reply carries no mask"
    matches = replies["complete"]["content"]["matches"]
    ok = any("****" in m for m in matches)
    assert ok, "complete_reply carries no masked dict key"
    pager = [
        m
        for m in run.messages
        if m["channel"] == "shell"
        and m["msg_type"] == "execute_reply"
        and m["content"].get("payload")
    ]
    assert pager
    ok = "****" in dump(pager)
    assert ok, "the ? pager payload carries no mask"


def test_a_piece_held_back_at_the_end_of_a_cell_goes_out_with_that_cell(
    run_notebook: Any, leak_secrets: LeakSecrets
) -> None:
    run = run_notebook("streams")
    [(index, _)] = _tagged(run, "tail")
    msg_id = run.cell_msg_ids[index]
    texts = [
        m["content"]["text"]
        for m in run.messages
        if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
    ]
    ok = "".join(texts) == "tail:" + leak_secrets.password[:5]
    assert ok, "the held fragment did not come out with its own cell"


def test_widget_state_is_masked(run_notebook: Any) -> None:
    run = run_notebook("messages")
    comm = [m for m in run.messages if m["msg_type"] in ("comm_open", "comm_msg")]
    values = [
        m["content"]["data"].get("state", {}).get("value")
        for m in comm
        if isinstance(m["content"].get("data"), dict)
    ]
    ok = "****" in values and "changed ****" in values
    assert ok, "widget state values are not the masked ones"


def test_errors_are_masked_in_every_traceback_line(run_notebook: Any) -> None:
    run = run_notebook("messages")
    errors = [m for m in run.messages if m["msg_type"] == "error"]
    assert len(errors) == 3
    ok = errors[0]["content"]["evalue"] == "login failed for ****"
    assert ok, "the first error's evalue is not the masked one"
    ok = any("****" in line for e in errors for line in e["content"]["traceback"])
    assert ok, "no traceback line carries the mask"


@pytest.mark.parametrize("name", ["messages", "streams"])
def test_kernel_console_output_is_masked(
    run_notebook: Any, leak_secrets: LeakSecrets, name: str
) -> None:
    """What the kernel process prints on its own stdout/stderr (the server's console):
    ipykernel echoes there what it captures from file descriptors 1 and 2 and,
    when not quiet, every stream write."""
    run = run_notebook(name)
    console, marker, after = run.kernel_output.partition(b"nbcreds-canary-marker")
    masks = console.count(b"****")
    assert masks > 10  # prints (and fd output) were echoed there, masked
    no_leak(console, leak_secrets.values())
    if name == "streams":
        assert marker
        unmasked = leak_secrets.password.encode() in after
        assert unmasked, "after %unload_ext the console should show the value"


def test_canary_unload_really_removes_masking(run_notebook: Any, leak_secrets: LeakSecrets) -> None:
    """After %unload_ext the same print leaks: the harness sees leaks when they happen."""
    run = run_notebook("streams")
    canary = [run.cell_msg_ids[i] for i, _ in _tagged(run, "canary")]
    leaked = find_leaks(run.text_for(canary[-1]), [leak_secrets.password])
    assert ("value#0", "raw") in leaked or ("value#0", "json") in leaked

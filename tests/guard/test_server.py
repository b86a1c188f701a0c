"""The save guard in a real ``jupyter server``, enabled by the install alone.

Every test drives the contents API as JupyterLab does (PUT for saves and
autosaves, POST for checkpoints) and reads what reached the disk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

import nbcreds
from nbcreds.testing.jupyter import JupyterServer, isolated_env
from nbcreds.testing.leaks import assert_no_leak, find_leaks

from .conftest import DB_PASSWORD, b64, github_token, notebook, printed

pytestmark = pytest.mark.timeout(300)


def _on_disk(server: JupyterServer, path: str) -> str:
    return (server.root / path).read_text()


def _cells(text: str) -> list[Any]:
    return list(nbformat.reads(text, as_version=4).cells)


def test_the_install_enables_the_server_extension(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**isolated_env(tmp_path), "NO_COLOR": "1"},
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert re.search(r"^\s*nbcreds\.guard\s+enabled\s*$", out, re.M), out[-2000:]
    assert re.search(rf"^\s*nbcreds\.guard\s+{re.escape(nbcreds.__version__)}\s+OK\s*$", out, re.M)
    # from the environment's own config (pip put it there), not a user file
    config = Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/nbcreds.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"nbcreds.guard": True}}
    }


def test_default_scrub_masks_outputs_keeps_sources_and_reports(
    server: JupyterServer, set_config: Any
) -> None:
    out_token, src_token = github_token(), github_token()
    nb = notebook(
        nbformat.v4.new_markdown_cell("# report"),
        printed(f"tok = '{src_token}'\nprint(tok)", f"token: {out_token}\n"),
    )
    r = server.put_notebook("scrub.ipynb", nb)
    assert r.status_code in (200, 201), r.text
    saved = _on_disk(server, "scrub.ipynb")
    cells = _cells(saved)
    # the output is masked, the user's code is theirs
    assert cells[1].outputs[0].text == "token: ****\n"
    assert src_token in cells[1].source
    assert_no_leak(saved, [out_token])
    report = server.last_report("scrub.ipynb", "save")
    assert report["mode"] == "scrub"
    assert report["action"] == "masked"
    where = {(f["cell"], f["part"], f["action"], f["rule"]) for f in report["findings"]}
    assert where == {(2, "output", "masked", "github-token"), (2, "source", "kept", "github-token")}
    assert all(f["kind"] == "GitHub token" for f in report["findings"])
    assert_no_leak(json.dumps(report), [out_token, src_token])
    assert_no_leak(server.log(), [out_token, src_token])


def test_an_autosave_is_guarded_like_a_save(server: JupyterServer, set_config: Any) -> None:
    first = notebook(printed("print(1)", "1\n"))
    assert server.put_notebook("auto.ipynb", first).status_code in (200, 201)
    # JupyterLab's autosave: the same PUT, a moment later, with what the page holds now
    token = github_token()
    later = notebook(
        printed("print(1)", "1\n"), printed("show()", f"Authorization: Bearer {token}\n")
    )
    r = server.put_notebook("auto.ipynb", later)
    assert r.status_code in (200, 201)
    saved = _on_disk(server, "auto.ipynb")
    assert_no_leak(saved, [token])
    assert _cells(saved)[1].outputs[0].text == "Authorization: Bearer ****\n"
    assert server.last_report("auto.ipynb")["findings"][0]["cell"] == 2


def test_block_refuses_with_a_4xx_naming_cell_kind_and_rule_and_keeps_the_file(
    server: JupyterServer, set_config: Any
) -> None:
    clean = notebook(printed("print('hello')", "hello\n"))
    assert server.put_notebook("block.ipynb", clean).status_code in (200, 201)
    before = _on_disk(server, "block.ipynb")
    set_config('[guard]\nmode = "block"\n')
    token = github_token()
    dirty = notebook(printed("print('hello')", "hello\n"), printed("x", f"{token}\n"))
    r = server.put_notebook("block.ipynb", dirty)
    assert r.status_code == 422
    message = r.json()["message"]
    assert "cell 2" in message
    assert "GitHub token" in message
    assert "[github-token]" in message
    assert "not changed" in message
    assert_no_leak(r.text, [token])
    # the previous file is intact
    assert _on_disk(server, "block.ipynb") == before
    report = server.last_report("block.ipynb")
    assert report["action"] == "refused"
    assert_no_leak(server.log(), [token])


def test_warn_saves_as_is_and_reports(server: JupyterServer, set_config: Any) -> None:
    set_config('[guard]\nmode = "warn"\n')
    token = github_token()
    r = server.put_notebook("warn.ipynb", notebook(printed("x", f"{token}\n")))
    assert r.status_code in (200, 201)
    assert token in _on_disk(server, "warn.ipynb")  # warn means: saved as it was
    report = server.last_report("warn.ipynb")
    assert report["action"] == "reported"
    assert [f["action"] for f in report["findings"]] == ["kept"]
    assert_no_leak(json.dumps(report), [token])


def test_off_does_not_scan(server: JupyterServer, set_config: Any) -> None:
    set_config('[guard]\nmode = "off"\n')
    token = github_token()
    assert server.put_notebook("off.ipynb", notebook(printed("x", f"{token}\n"))).status_code in (
        200,
        201,
    )
    assert token in _on_disk(server, "off.ipynb")
    report = server.last_report("off.ipynb")
    assert report["mode"] == "off"
    assert report["findings"] == []


def test_a_checkpoint_of_a_notebook_that_bypassed_the_api_is_scrubbed(
    server: JupyterServer, set_config: Any
) -> None:
    token = github_token()
    nbformat.write(
        nbformat.from_dict(notebook(printed("x", f"secret {token}\n"))),
        server.root / "copied.ipynb",
    )
    r = server.checkpoint("copied.ipynb")
    assert r.status_code == 201, r.text
    copy = server.root / ".ipynb_checkpoints" / "copied-checkpoint.ipynb"
    text = copy.read_text()
    assert_no_leak(text, [token])
    assert _cells(text)[0].outputs[0].text == "secret ****\n"
    assert server.last_report("copied.ipynb", "checkpoint")["action"] == "masked"


def test_block_refuses_a_checkpoint_and_keeps_the_previous_one(
    server: JupyterServer, set_config: Any
) -> None:
    path = server.root / "cp.ipynb"
    nbformat.write(nbformat.from_dict(notebook(printed("x", "fine\n"))), path)
    assert server.checkpoint("cp.ipynb").status_code == 201
    copy = server.root / ".ipynb_checkpoints" / "cp-checkpoint.ipynb"
    previous = copy.read_text()
    set_config('[guard]\nmode = "block"\n')
    token = github_token()
    nbformat.write(nbformat.from_dict(notebook(printed("x", f"{token}\n"))), path)
    r = server.checkpoint("cp.ipynb")
    assert r.status_code == 422
    assert "cell 1" in r.json()["message"]
    assert_no_leak(r.text, [token])
    assert copy.read_text() == previous


def test_a_text_file_is_reported_never_changed(server: JupyterServer, set_config: Any) -> None:
    token = github_token()
    assert server.put_text("notes.py", f"TOKEN = '{token}'\n").status_code in (200, 201)
    assert token in _on_disk(server, "notes.py")
    report = server.last_report("notes.py")
    assert report["action"] == "reported"
    assert report["findings"][0]["part"] == "file"


def test_resolve_finds_configured_secrets_in_any_encoding(
    server: JupyterServer, set_config: Any
) -> None:
    set_config(
        '[secrets]\nDB_PASSWORD = "env:GUARD_DB_PASSWORD"\n'
        '[guard]\nmode = "scrub"\nresolve = true\n'
    )
    nb = notebook(
        printed("print(pw)", f"password={DB_PASSWORD}\n"),
        printed("print(b64)", f"basic {b64('etl:' + DB_PASSWORD)}\n"),
        printed("print(json)", json.dumps({"pw": DB_PASSWORD}) + "\n"),
    )
    assert server.put_notebook("resolve.ipynb", nb).status_code in (200, 201)
    saved = _on_disk(server, "resolve.ipynb")
    assert find_leaks(saved, [DB_PASSWORD]) == []
    report = server.last_report("resolve.ipynb")
    assert report["error"] is None, report["error"]
    assert {f["cell"] for f in report["findings"]} == {1, 2, 3}
    assert all(f["rule"] == "configured-secret" for f in report["findings"])
    assert all("DB_PASSWORD" in f["kind"] for f in report["findings"])
    # without resolve the server does not know the value
    set_config('[secrets]\nDB_PASSWORD = "env:GUARD_DB_PASSWORD"\n')
    assert server.put_notebook("resolve2.ipynb", nb).status_code in (200, 201)
    assert DB_PASSWORD in _on_disk(server, "resolve2.ipynb")


def test_a_broken_config_never_stops_a_save(server: JupyterServer, set_config: Any) -> None:
    set_config('[guard]\nmode = "maybe"\n')
    token = github_token()
    r = server.put_notebook("broken.ipynb", notebook(printed("x", f"{token}\n")))
    assert r.status_code in (200, 201)
    assert_no_leak(_on_disk(server, "broken.ipynb"), [token])  # the default: scrub
    report = server.last_report("broken.ipynb")
    assert "guard" in report["error"]
    assert "mode" in report["error"]


def test_the_server_root_s_config_is_found(server: JupyterServer, set_config: Any) -> None:
    # ($NBCREDS_CONFIG and the parents of the root: see test_guard.py)
    set_config('[guard]\nmode = "block"\n')
    assert "NBCREDS_CONFIG" not in server.env
    r = server.put_notebook("root.ipynb", notebook(printed("x", f"{github_token()}\n")))
    assert r.status_code == 422
    assert os.path.samefile(
        server.last_report("root.ipynb")["config"], server.root / "nbcreds.toml"
    )

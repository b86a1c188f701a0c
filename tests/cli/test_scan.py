"""``nbcreds scan`` / ``scrub`` on real notebooks built with nbformat: every place a
secret can hide, every encoding, exact locations, no value ever printed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from nbcreds.testing.leaks import assert_no_leak


class HiddenStr(str):
    """A planted value whose repr does not show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<planted value>"


class Hidden(list[str]):
    """Planted values whose repr does not show them (pytest prints fixtures on failure)."""

    def __repr__(self) -> str:
        return f"<{len(self)} planted values>"


PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x1ftEXtComment\0"  # binary, then a text chunk


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


@pytest.fixture
def db_password(
    rand_str: Callable[..., str],
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """A configured secret whose value needs JSON, URL and HTML escaping."""
    value = HiddenStr('p"w\\' + rand_str(16) + "é/+&<")
    monkeypatch.setenv("NB_TEST_DB_PW", value)
    write_config('[secrets]\nDB_PASSWORD = "env:NB_TEST_DB_PW"\n')
    return value


@pytest.fixture
def planted(
    db_password: str, tokens: dict[str, str], write_notebook: Callable[..., Path]
) -> tuple[Path, list[str], set[tuple[str, str, str]]]:
    """A notebook with a secret in every place; returns (path, values, expected)."""
    pw = db_password
    code = new_code_cell(f"# connecting with {pw}\nconnect()")
    code.outputs = [
        new_output("stream", name="stdout", text=f"connected as admin / {pw}\n"),
        new_output(
            "execute_result",
            execution_count=1,
            data={"text/plain": "Authorization: Basic " + b64(f"admin:{pw}")},
        ),
        new_output(
            "display_data",
            data={"text/html": f'<a href="https://db.invalid/?pw={quote(pw, safe="")}">x</a>'},
        ),
        new_output(
            "display_data", data={"application/json": {"doc": json.dumps({"password": pw})}}
        ),
        new_output(
            "error",
            ename="HTTPError",
            evalue=f"401 for {tokens['github-token']}",
            traceback=["Traceback", "  header: " + b64("x-token: " + tokens["jwt"])],
        ),
        new_output(
            "display_data", data={"image/png": b64(PNG + tokens["slack-token"].encode() + b"\0\0")}
        ),
    ]
    md = new_markdown_cell("![shot](attachment:shot.png)")
    md.attachments = {"shot.png": {"image/png": b64(PNG + tokens["aws-access-key"].encode())}}
    md.metadata = {"tags": ["setup"], "note": tokens["private-key"]}
    widgets = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {
                "a1b2": {
                    "model_name": "TextModel",
                    "model_module": "@jupyter-widgets/controls",
                    "model_module_version": "2.0.0",
                    "state": {"value": tokens["google-api-key"]},
                }
            },
            "version_major": 2,
            "version_minor": 0,
        }
    }
    plain = new_code_cell("print('hello')")
    plain.outputs = [new_output("stream", name="stdout", text="hello\n")]
    path = write_notebook(
        [code, md, plain],
        metadata={"widgets": widgets, "custom": {"hook": tokens["slack-webhook"]}},
    )
    expected = {
        ("cell 1:source", "configured-secret", "raw"),
        ("cell 1:output 1 (stream stdout)", "configured-secret", "raw"),
        ("cell 1:output 2 (text/plain)", "configured-secret", "base64"),
        ("cell 1:output 3 (text/html)", "configured-secret", "URL-encoded"),
        ("cell 1:output 4 (application/json)", "configured-secret", "JSON-escaped"),
        ("cell 1:output 5 (error evalue)", "github-token", "raw"),
        ("cell 1:output 5 (traceback)", "jwt", "base64"),
        ("cell 1:output 6 (image/png)", "slack-token", "base64"),
        ("cell 2:attachment shot.png (image/png)", "aws-access-key", "base64"),
        ("cell 2:metadata", "private-key", "raw"),
        ("notebook metadata:widget state", "google-api-key", "raw"),
        ("notebook metadata:custom", "slack-webhook", "raw"),
    }
    return path, Hidden([pw, *tokens.values()]), expected


def test_scan_finds_every_place_and_encoding(
    planted: tuple[Path, list[str], set[tuple[str, str, str]]],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    path, values, expected = planted
    code, out, err = run_cli("scan", "--format", "json", str(path))
    assert code == 1
    doc = json.loads(out)
    got = {(f["location"], f["rule"], f["encoding"]) for f in doc["findings"]}
    assert got == expected
    named = {f["secret"] for f in doc["findings"] if f["rule"] == "configured-secret"}
    assert named == {"DB_PASSWORD"}
    assert doc["files_scanned"] == 1
    assert doc["errors"] == []
    assert_no_leak(out + err, values)


def test_text_report_names_file_cell_output_and_kind(
    planted: tuple[Path, list[str], set[tuple[str, str, str]]],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    path, values, _ = planted
    code, out, err = run_cli("scan", str(path))
    assert code == 1
    lines = out.splitlines()
    assert f"{path}:cell 1:output 1 (stream stdout): configured secret DB_PASSWORD" in lines
    assert f"{path}:cell 1:output 2 (text/plain): configured secret DB_PASSWORD (base64)" in lines
    assert f"{path}:cell 1:output 5 (error evalue): GitHub token" in lines
    assert len(lines) == 12
    assert "12 finding(s) in 1 file(s)" in err
    assert_no_leak(out + err, values)


def test_scrub_masks_everything_and_keeps_the_notebook_valid(
    planted: tuple[Path, list[str], set[tuple[str, str, str]]],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    path, values, _ = planted
    before = path.read_bytes()
    code, out, err = run_cli("scrub", "--dry-run", str(path))
    assert code == 1
    assert "would mask 12 finding(s)" in out
    assert path.read_bytes() == before  # a dry run writes nothing
    assert_no_leak(out + err, values)

    code, out, err = run_cli("scrub", str(path))
    assert code == 0, err
    assert f"{path}: masked 12 finding(s)" in out
    assert_no_leak(out + err, values)
    saved = path.read_text()
    assert_no_leak(saved, values)  # no value, in any encoding, is left in the file
    nb = nbformat.reads(saved, as_version=4)
    nbformat.validate(nb)
    assert "****" in nb.cells[0].outputs[0].text
    assert nb.cells[2].outputs[0].text == "hello\n"  # untouched content stays
    assert list(path.parent.glob(".nb.ipynb.*")) == []  # no temporary file left

    code, out, _ = run_cli("scan", str(path))
    assert (code, out) == (0, "")


def test_clean_notebook_exits_0(
    write_notebook: Callable[..., Path], run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    cell = new_code_cell('token_url = "https://auth.invalid/token"\npassword = getpass()')
    cell.outputs = [new_output("stream", name="stdout", text="Enter password: ****\n")]
    path = write_notebook([cell])
    code, out, err = run_cli("scan", str(path))
    assert (code, out) == (0, "")
    assert "no secret found (1 file(s) scanned)" in err
    code, out, _ = run_cli("scrub", str(path))
    assert code == 0
    assert out == ""


def test_value_split_over_saved_chunks_is_found(
    db_password: str,
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    """nbformat saves text as a list of strings, and a tool may cut it anywhere: a
    raw-text scanner sees the value in two pieces, the parsed notebook has it whole."""
    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", name="stdout", text="placeholder\n")]
    path = write_notebook([cell])
    doc = json.loads(path.read_text())
    half = len(db_password) // 2
    doc["cells"][0]["outputs"][0]["text"] = ["pw: " + db_password[:half], db_password[half:]]
    path.write_text(json.dumps(doc, indent=1))
    whole_in_file = json.dumps(db_password)[1:-1] in path.read_text()
    assert not whole_in_file  # the saved file never holds the value in one piece
    code, out, err = run_cli("scan", "--format", "json", str(path))
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [(f["location"], f["secret"]) for f in findings] == [
        ("cell 1:output 1 (stream stdout)", "DB_PASSWORD")
    ]
    assert_no_leak(out + err, [db_password])


def test_text_files_report_lines_and_encodings(
    db_password: str,
    tokens: dict[str, str],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    (isolated_nbcreds / "settings.json").write_text(
        json.dumps({"name": "x", "db": {"password": db_password}}, indent=2) + "\n"
    )
    (isolated_nbcreds / "deploy.env").write_text(
        f"# deploy\nDB_URL=postgres://app:{quote(db_password, safe='')}@db.invalid/app\n"
        f"GH={tokens['github-token']}\n"
    )
    code, out, err = run_cli("scan", "--format", "json", ".")
    assert code == 1
    got = {
        (Path(f["path"]).name, f["location"], f["rule"], f["encoding"])
        for f in json.loads(out)["findings"]
    }
    assert got == {
        ("settings.json", "line 4", "configured-secret", "JSON-escaped"),
        ("deploy.env", "line 2", "configured-secret", "URL-encoded"),
        ("deploy.env", "line 3", "github-token", "raw"),
    }
    assert_no_leak(out + err, [db_password, *tokens.values()])
    code, out, err = run_cli("scrub", ".")
    assert code == 0
    assert_no_leak((isolated_nbcreds / "deploy.env").read_text(), [db_password, *tokens.values()])
    assert json.loads((isolated_nbcreds / "settings.json").read_text())["db"]["password"] == "****"


def test_directory_recursion_skips_tool_folders_and_binaries(
    tokens: dict[str, str],
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", name="stdout", text=tokens["aws-access-key"])]
    write_notebook([cell], name="deep/er/a.ipynb")
    write_notebook([cell], name=".git/b.ipynb")
    write_notebook([cell], name=".ipynb_checkpoints/a-checkpoint.ipynb")
    (isolated_nbcreds / "deep" / "blob.bin").write_bytes(b"\0\1" + tokens["github-token"].encode())
    (isolated_nbcreds / "deep" / "notes.md").write_text(f"key: {tokens['google-api-key']}\n")
    code, out, _err = run_cli("scan", "--format", "json", str(isolated_nbcreds))
    assert code == 1
    doc = json.loads(out)
    found = {
        (Path(f["path"]).relative_to(isolated_nbcreds).as_posix(), f["rule"])
        for f in doc["findings"]
    }
    assert found == {("deep/er/a.ipynb", "aws-access-key"), ("deep/notes.md", "google-api-key")}
    assert doc["files_scanned"] == 2


def test_errors_exit_2_and_say_what_to_do(
    tokens: dict[str, str],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    broken = isolated_nbcreds / "broken.ipynb"
    broken.write_text('{"cells": [' + json.dumps(tokens["github-token"]))  # truncated JSON
    code, out, err = run_cli("scan", str(broken))
    assert code == 2
    assert "broken.ipynb: not a notebook: invalid JSON at line 1" in err
    assert_no_leak(out + err, tokens.values())
    code, out, err = run_cli("scan", "missing.ipynb")
    assert code == 2
    assert "missing.ipynb: no such file or directory" in err
    code, _, err = run_cli("scrub", str(broken))
    assert code == 2
    assert "not a notebook" in err


def test_unresolvable_secret_is_skipped_with_a_note(
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    rand_str: Callable[..., str],
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    value = rand_str(20)
    team = rand_str(18)
    monkeypatch.setenv("NB_TEST_OK", value)
    monkeypatch.setenv("NB_TEST_TEAM", team)
    write_config(
        '[secrets]\nOK_ONE = "env:NB_TEST_OK"\nGONE = "env:NB_TEST_UNSET"\n'
        '[namespaces."acme.data".secrets]\nTEAM_KEY = "env:NB_TEST_TEAM"\n'
    )
    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", name="stdout", text=f"{value} {quote(team)}\n")]
    path = write_notebook([cell])
    code, out, err = run_cli("scan", "--format", "json", str(path))
    assert code == 1
    assert "skipping secret GONE (tenant)" in err
    assert {f["secret"] for f in json.loads(out)["findings"]} == {"OK_ONE", "TEAM_KEY"}
    assert_no_leak(out + err, [value, team])
    code, out, err = run_cli("scan", "--secret", "TEAM_KEY", "--format", "json", str(path))
    assert {f["secret"] for f in json.loads(out)["findings"]} == {"TEAM_KEY"}
    code, out, err = run_cli("scan", "--no-config", str(path))
    assert (code, out) == (0, "")


def test_value_from_env(
    monkeypatch: pytest.MonkeyPatch,
    rand_str: Callable[..., str],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    value = rand_str(12)
    monkeypatch.setenv("MY_TOKEN", value)
    (isolated_nbcreds / "log.txt").write_text(f"ok\nauth {b64(value)}\n")
    code, out, err = run_cli("scan", "--no-config", "--value-from-env", "MY_TOKEN", "log.txt")
    assert code == 1
    assert out.strip() == "log.txt:line 2: configured secret MY_TOKEN (base64)"
    assert_no_leak(out + err, [value])
    code, _, err = run_cli("scan", "--value-from-env", "NOPE_UNSET", "log.txt")
    assert code == 0
    assert "NOPE_UNSET: the variable is unset" in err


def test_progress_only_when_asked_or_on_a_terminal(
    tokens: dict[str, str],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    for i in range(25):
        (isolated_nbcreds / f"f{i:02}.txt").write_text(f"line {i}\n")
    code, _, err = run_cli("scan", ".")
    assert code == 0
    assert "scanned 25/25" not in err
    code, _, err = run_cli("scan", "--progress", ".")
    assert "\rnbcreds: scanned 25/25 files\n" in err


def test_scrub_keeps_file_mode_and_refuses_nothing_else(
    tokens: dict[str, str],
    run_cli: Callable[..., tuple[int, str, str]],
    isolated_nbcreds: Path,
) -> None:
    script = isolated_nbcreds / "run.sh"
    script.write_text(f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={tokens['aws-access-key']}\n")
    script.chmod(0o750)
    code, _out, _ = run_cli("scrub", str(script))
    assert code == 0
    assert script.read_text() == "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=****\n"
    assert script.stat().st_mode & 0o777 == 0o750


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def test_configured_value_escaped_twice_with_ascii_escapes_is_found(
    db_password: str,
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    """A JSON document (``ensure_ascii``) inside a JSON string: ``é`` becomes
    ``\\\\u00e9``. Masking v2's variants list this form (JSON inside JSON, ASCII
    escapes at both levels), so it is found directly as an escaped form."""
    doc = json.dumps({"config": json.dumps({"password": db_password})})  # ASCII escapes, twice
    cell = new_code_cell("x")
    cell.outputs = [new_output("display_data", data={"text/plain": doc})]
    path = write_notebook([cell])
    code, out, err = run_cli("scan", "--format", "json", str(path))
    assert code == 1
    [finding] = json.loads(out)["findings"]
    assert finding["secret"] == "DB_PASSWORD"
    assert finding["encoding"] in ("escaped", "JSON-escaped")
    assert_no_leak(out + err, [db_password])
    assert run_cli("scrub", str(path))[0] == 0
    assert_no_leak(path.read_text(), [db_password])


def test_progress_is_drawn_on_a_terminal_and_not_in_a_pipe(isolated_nbcreds: Path) -> None:
    """The real command, stderr on a pseudo-terminal, then on a pipe."""
    import os
    import pty
    import subprocess
    import sys

    for i in range(25):
        (isolated_nbcreds / f"f{i:02}.txt").write_text(f"line {i}\n")
    nbcreds_bin = str(Path(sys.executable).parent / "nbcreds")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [nbcreds_bin, "scan", "--no-config", "."],
            stderr=slave,
            stdout=subprocess.PIPE,
            cwd=isolated_nbcreds,
            timeout=60,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"scanned 25/25 files" in b"".join(chunks)
    piped = subprocess.run(
        [nbcreds_bin, "scan", "--no-config", "."],
        capture_output=True,
        cwd=isolated_nbcreds,
        timeout=60,
        text=True,
    )
    assert piped.returncode == 0
    assert "scanned 25/25" not in piped.stderr


def test_scrub_of_an_invalid_notebook_writes_quietly(
    tokens: dict[str, str],
    write_notebook: Callable[..., Path],
    run_cli: Callable[..., tuple[int, str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A notebook that was already invalid is still scrubbed, and nothing logs its content."""
    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", name="stdout", text=tokens["slack-token"] + "\n")]
    path = write_notebook([cell])
    doc = json.loads(path.read_text())
    del doc["cells"][0]["metadata"]  # required by the schema
    doc["cells"][0]["note"] = "unexpected " + tokens["github-token"]
    path.write_text(json.dumps(doc))
    code, out, err = run_cli("scrub", str(path))
    assert code == 0, err
    assert "masked 2 finding(s)" in out
    saved = path.read_text()
    assert_no_leak(saved + out + err + caplog.text, tokens.values())
    assert "invalid" not in caplog.text.lower()
    assert json.loads(saved)["cells"][0]["outputs"][0]["text"] == "****\n"


def test_broken_config_is_an_error_naming_the_file(
    isolated_nbcreds: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    (isolated_nbcreds / "nbcreds.toml").write_text("[secrets\n")
    (isolated_nbcreds / "a.txt").write_text("hello\n")
    code, out, err = run_cli("scan", "a.txt")
    assert code == 2
    assert out == ""
    assert "nbcreds: error: invalid TOML" in err
    assert "nbcreds.toml" in err
    code, _, _ = run_cli("scan", "--no-config", "a.txt")
    assert code == 0

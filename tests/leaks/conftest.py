"""Run a notebook through a real kernel with nbclient and record everything it sent.

Every message the client receives on iopub and shell is recorded (before
nbclient filters it by cell), plus extra shell requests (inspect, complete,
history, user_expressions), the saved ``.ipynb`` bytes and the kernel process's
own stdout/stderr (what a Jupyter server would print in its console).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent / "notebooks"


@dataclass(frozen=True, repr=False)
class LeakSecrets:
    password: str
    token: str
    private_key: str
    #: 64 characters: long enough for every truncating display to cut it
    long: str

    def __repr__(self) -> str:  # a failing test shows its arguments: never the values
        return "<LeakSecrets>"

    def values(self) -> list[str]:
        """Every value to scan for: each secret and each line of the key."""
        lines = [line for line in self.private_key.splitlines() if len(line) >= 8]
        return [self.password, self.token, self.private_key, self.long, *lines]

    def sliceable(self) -> list[str]:
        """The values whose 16-character windows must not show either."""
        return [self.token, self.long]

    def env(self) -> dict[str, str]:
        return {
            "LEAK_PASSWORD": self.password,
            "LEAK_PRIVATE_KEY": self.private_key,
            "SECRET_LEAK_TOKEN": base64.b64encode(self.token.encode()).decode(),
            "SECRET_LEAK_LONG": base64.b64encode(self.long.encode()).decode(),
        }


@pytest.fixture(scope="session")
def leak_secrets() -> LeakSecrets:
    """Fresh random values each run; with characters that every encoding changes."""
    body = "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(3))
    return LeakSecrets(
        password=f"Pw/{secrets.token_urlsafe(9)}+&<q>\"' é~",
        token=f"tok_{secrets.token_hex(16)}",
        private_key=f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----",
        # "-" and "_" are what pygments' LaTeX writes as macros
        long="lv-" + secrets.token_urlsafe(48)[:56] + "_x-" + secrets.token_hex(1)[:1] + "z",
    )


@pytest.fixture(scope="session")
def kernel_name() -> str:
    """The ``python3`` kernelspec, pointing at this interpreter (installed into the
    venv's prefix if the venv has none)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        spec = None
    if spec is None or Path(spec.argv[0]).resolve() != Path(sys.executable).resolve():
        if spec is not None and spec.argv[0] in ("python", "python3"):
            return "python3"  # ipykernel's built-in spec runs sys.executable
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
            check=True,
            capture_output=True,
        )
    return "python3"


@dataclass
class Run:
    """What one notebook run produced."""

    notebook: Any
    ipynb: bytes
    messages: list[dict[str, Any]] = field(default_factory=list)
    extra_replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    kernel_output: bytes = b""
    cell_msg_ids: list[str] = field(default_factory=list)
    #: every file the run left in its working directory (``%logstart`` logs...)
    files: dict[str, bytes] = field(default_factory=dict)

    def text_for(self, msg_id: str) -> str:
        """Every iopub message of one execution, as JSON."""
        return "\n".join(
            dump(m)
            for m in self.messages
            if m.get("parent_header", {}).get("msg_id") == msg_id and m.get("channel") == "iopub"
        )


def no_leak(haystack: str | bytes, values: list[str]) -> None:
    """:func:`assert_no_leak` without showing the haystack or the values when it fails."""
    __tracebackhide__ = True
    from nbcreds.testing.leaks import find_leaks

    leaks = find_leaks(haystack, values)
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    # forms the shared scanner does not know: string-literal escaping of quotes
    for index, value in enumerate(values):
        slashed = value.replace("\\", "\\\\")
        for kind, form in (
            ("escaped-quotes", slashed.replace('"', '\\"').replace("'", "\\'")),
            ("escaped-double", slashed.replace('"', '\\"')),
            ("escaped-single", slashed.replace("'", "\\'")),
        ):
            if form in text:
                leaks.append((f"value#{index}", kind))
    if leaks:
        raise AssertionError(f"secret material found: {leaks}") from None


WINDOW = 16


def no_window(haystack: str | bytes, values: list[str]) -> None:
    """No 16-character slice of any value in ``haystack`` (raw or JSON-escaped):
    what a truncating display (``%whos``, ``?``, pandas, a debugger) would show."""
    __tracebackhide__ = True
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    found = []
    for index, value in enumerate(values):
        forms = {value, json.dumps(value)[1:-1]}
        for form in forms:
            windows = {form[i : i + WINDOW] for i in range(max(len(form) - WINDOW + 1, 1))}
            if any(window in text for window in windows):
                found.append(f"value#{index}")
    if found:
        raise AssertionError(f"a 16-character slice of {sorted(set(found))} is present") from None


def joined_streams(ipynb: bytes) -> list[str]:
    """Each non-empty stream (stdout, stderr) of each code cell of a saved notebook,
    its chunks joined as nbformat shows them: pieces that are harmless one by one
    may make a value together."""
    saved = nbformat.reads(ipynb.decode(), as_version=4)
    joined = (
        "".join(
            o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == name
        )
        for cell in saved.cells
        if cell.cell_type == "code"
        for name in ("stdout", "stderr")
    )
    return [text for text in joined if text]


def dump(obj: Any) -> str:
    """Both JSON spellings of a message (non-ASCII raw and \\u-escaped)."""
    return json.dumps(obj, default=str, ensure_ascii=False) + json.dumps(obj, default=str)


class _Recorder:
    def __init__(self, run: Run) -> None:
        self.run = run

    def wrap(self, channel: Any, name: str) -> None:
        original = channel.get_msg

        async def get_msg(*args: Any, **kwargs: Any) -> Any:
            msg = await original(*args, **kwargs)
            record = dict(msg)
            record["channel"] = name
            self.run.messages.append(record)
            return msg

        channel.get_msg = get_msg


async def _execute(
    path: Path, kernel_name: str, env: dict[str, str], log: Path, extra: str, work: Path
) -> Run:
    nb = nbformat.read(path, as_version=4)
    run = Run(notebook=nb, ipynb=b"")
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        # not quiet: the kernel copies every stream write to its console (stream.echo)
        extra_arguments=["--IPKernelApp.quiet=False"],
        timeout=60,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(work)}},
    )
    with log.open("wb") as sink:
        async with client.async_setup_kernel(env=env, stdout=sink, stderr=sink):
            recorder = _Recorder(run)
            recorder.wrap(client.kc.iopub_channel, "iopub")
            recorder.wrap(client.kc.shell_channel, "shell")
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                await client.async_execute_cell(cell, index)
            kc = client.kc
            replies = (
                await _display_requests(kc)
                if extra == "display"
                else {}
                if not extra
                else {
                    "user_expressions": await kc.execute(
                        "",
                        user_expressions={"p": "pw", "k": "key", "t": "tok.reveal()"},
                        reply=True,
                        timeout=30,
                    ),
                    "inspect": await kc.inspect("pw", detail_level=1, reply=True, timeout=30),
                    "complete": await kc.complete('d["', reply=True, timeout=30),
                    "history": await kc.history(
                        hist_access_type="tail", n=100, output=True, reply=True, timeout=30
                    ),
                }
            )
            run.extra_replies = {k: dict(v) for k, v in replies.items()}
            # drain late iopub messages (fd output read after a cell went idle)
            while True:
                try:
                    await kc.iopub_channel.get_msg(timeout=1)
                except Exception:
                    break
    run.kernel_output = log.read_bytes()
    run.cell_msg_ids = [
        m["parent_header"]["msg_id"]
        for m in run.messages
        if m["channel"] == "shell" and m["msg_type"] == "execute_reply"
    ]
    run.ipynb = nbformat.writes(nb).encode()
    run.files = {
        str(f.relative_to(work)): f.read_bytes() for f in sorted(work.rglob("*")) if f.is_file()
    }
    return run


async def _control(kc: Any, command: str, arguments: dict[str, Any], seq: int) -> dict[str, Any]:
    """One Debug Adapter Protocol request on the control channel, as JupyterLab sends it."""
    content = {"type": "request", "seq": seq, "command": command, "arguments": arguments}
    msg = kc.session.msg("debug_request", content)
    kc.control_channel.send(msg)
    while True:
        reply = await kc.control_channel.get_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            record = dict(reply)
            record["channel"] = "control"
            return record


async def _display_requests(kc: Any) -> dict[str, dict[str, Any]]:
    """Shift-Tab (inspect_request) and the debugger's variable view."""
    replies: dict[str, dict[str, Any]] = {}
    for name in ("long", "plain"):
        for level in (0, 1):
            replies[f"inspect-{name}-{level}"] = await kc.inspect(
                name, detail_level=level, reply=True, timeout=30
            )
    init = {
        "clientID": "JupyterLab",
        "clientName": "JupyterLab",
        "adapterID": "python",
        "pathFormat": "path",
        "linesStartAt1": True,
        "columnsStartAt1": True,
        "supportsVariableType": True,
        "supportsVariablePaging": True,
        "supportsRunInTerminalRequest": True,
        "locale": "en",
    }
    replies["debug-initialize"] = await _control(kc, "initialize", init, 1)
    replies["debug-attach"] = await _control(kc, "attach", {}, 2)
    replies["debug-configurationDone"] = await _control(kc, "configurationDone", {}, 3)
    replies["debug-inspectVariables"] = await _control(kc, "inspectVariables", {}, 4)
    for seq, name in enumerate(("long", "plain"), start=5):
        replies[f"debug-rich-{name}"] = await _control(
            kc, "richInspectVariables", {"variableName": name}, seq
        )
    replies["debug-disconnect"] = await _control(
        kc, "disconnect", {"restart": False, "terminateDebuggee": True}, 9
    )
    return replies


def execute_notebook(name: str, kernel_name: str, env: dict[str, str], tmp: Path) -> Run:
    import os

    full_env = {**os.environ, **env}
    if name != "display":
        # only the display notebook binds it: elsewhere `!env` would print it unregistered
        full_env.pop("SECRET_LEAK_LONG", None)
    full_env["IPYTHONDIR"] = str(tmp / "ipython")
    # ipykernel does not capture fd 1/2 under pytest: the kernel must not think it is
    full_env.pop("PYTEST_CURRENT_TEST", None)
    # the shell requests after the cells need masking on: only for notebooks without
    # a canary (%unload_ext) at the end
    extra = "messages" if name == "messages" else "display" if name == "display" else ""
    work = tmp / "work"
    work.mkdir()
    if name == "display":
        # every 16-character slice is masked (the [masking] default of Masking v2)
        (work / "nbcreds.toml").write_text("[masking]\nfragment_length = 16\n")
    return asyncio.run(
        _execute(
            NOTEBOOKS / f"{name}.ipynb", kernel_name, full_env, tmp / "kernel.log", extra, work
        )
    )


@pytest.fixture(scope="module")
def run_notebook(
    kernel_name: str, leak_secrets: LeakSecrets, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    cache: dict[str, Run] = {}

    def run(name: str) -> Run:
        if name not in cache:
            cache[name] = execute_notebook(
                name, kernel_name, leak_secrets.env(), tmp_path_factory.mktemp(name)
            )
        return cache[name]

    return run

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

    def __repr__(self) -> str:  # a failing test shows its arguments: never the values
        return "<LeakSecrets>"

    def values(self) -> list[str]:
        """Every value to scan for: each secret and each line of the key."""
        lines = [line for line in self.private_key.splitlines() if len(line) >= 8]
        return [self.password, self.token, self.private_key, *lines]

    def env(self) -> dict[str, str]:
        return {
            "LEAK_PASSWORD": self.password,
            "LEAK_PRIVATE_KEY": self.private_key,
            "SECRET_LEAK_TOKEN": base64.b64encode(self.token.encode()).decode(),
        }


@pytest.fixture(scope="session")
def leak_secrets() -> LeakSecrets:
    """Fresh random values each run; with characters that every encoding changes."""
    body = "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(3))
    return LeakSecrets(
        password=f"Pw/{secrets.token_urlsafe(9)}+&<q>\"' é~",
        token=f"tok_{secrets.token_hex(16)}",
        private_key=f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----",
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
    path: Path, kernel_name: str, env: dict[str, str], log: Path, extra: bool
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
        resources={"metadata": {"path": str(path.parent)}},
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
                {}
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
    return run


def execute_notebook(name: str, kernel_name: str, env: dict[str, str], tmp: Path) -> Run:
    import os

    full_env = {**os.environ, **env}
    full_env["IPYTHONDIR"] = str(tmp / "ipython")
    # ipykernel does not capture fd 1/2 under pytest: the kernel must not think it is
    full_env.pop("PYTEST_CURRENT_TEST", None)
    # the shell requests after the cells need masking on: only for notebooks without
    # a canary (%unload_ext) at the end
    extra = name == "messages"
    return asyncio.run(
        _execute(NOTEBOOKS / f"{name}.ipynb", kernel_name, full_env, tmp / "kernel.log", extra)
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

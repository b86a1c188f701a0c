"""User sign-in end to end: a real ipykernel (spoken to over ZMQ, as a frontend does),
the real authlib server, and Chromium (Playwright) doing the user's part -- opening the
verification page, entering the code, approving; or following the authorization-code
redirect to the kernel's loopback server.

Also in a kernel: refresh before expiry without a new prompt, rotation, ``%credential
logout`` revoking (RFC 7009), a kernel interrupt cancelling the polling, and headless
runs (nbclient) failing at once while ``oauth2_refresh_token`` works headless.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager

from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.oauth import OAuthServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT = 90
STEP = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)",
    ),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    tab = context.new_page()
    tab.set_default_timeout(STEP)
    try:
        yield tab
    finally:
        context.close()


class Kernel:
    """A started ipykernel and its client; collects every iopub message it sees."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self.seen: list[dict[str, Any]] = []

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def start(self, code: str) -> str:
        return str(self.kc.execute(code))

    def until(self, msg_id: str, predicate: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first iopub message of ``msg_id`` that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(msg)
            if msg["parent_header"].get("msg_id") == msg_id and predicate(msg):
                return dict(msg)
        raise AssertionError("the kernel never sent the expected message")

    def finish(self, msg_id: str) -> dict[str, Any]:
        """Wait until idle; the execute reply's content."""
        self.until(
            msg_id,
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
        )
        while True:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return dict(reply["content"])

    def run(self, code: str) -> str:
        """Run ``code``; its stdout (ok status required)."""
        msg_id = self.start(code)
        before = len(self.seen)
        content = self.finish(msg_id)
        assert content["status"] == "ok", (content.get("ename"), content.get("evalue"))
        return "".join(
            m["content"]["text"]
            for m in self.seen[before:]
            if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
        )

    def everything(self) -> str:
        return json.dumps([m["content"] for m in self.seen])


@pytest.fixture
def kernel_env(tmp_path: Path) -> dict[str, str]:
    """The kernel's environment: a BROWSER command that records the URL it is given
    (the test's Chromium then opens it: the kernel host has no display)."""
    urls = tmp_path / "opened-urls.txt"
    script = tmp_path / "open-url"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> {urls}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ)
    env["BROWSER"] = str(script)
    env["NBCREDS_TEST_URLS"] = str(urls)
    return env


@pytest.fixture
def kernel(isolated_nbcreds: Path, kernel_env: dict[str, str]) -> Iterator[Kernel]:
    k = Kernel(isolated_nbcreds, kernel_env)
    try:
        yield k
    finally:
        k.stop()


def write_device(work: Path, oauth: OAuthServer, client: str, name: str = "me") -> None:
    (work / "nbcreds.toml").write_text(
        f"[credentials.{name}]\n"
        'type = "oauth2_device_code"\n'
        f"device_authorization_endpoint = {json.dumps(oauth.device_authorization_endpoint)}\n"
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client)}\n"
        'scopes = ["read", "offline_access"]\n'
    )


def prompt_of(msg: dict[str, Any]) -> tuple[str, str]:
    """The verification link and user code from the sign-in display (what a person reads)."""
    html = msg["content"]["data"]["text/html"]
    link = re.search(r'href="([^"]+)"', html)
    code = re.search(r"<code[^>]*>([A-Z0-9-]+)</code>", html)
    assert link is not None
    assert code is not None
    return link.group(1), code.group(1)


def is_prompt(msg: dict[str, Any]) -> bool:
    return msg["msg_type"] == "display_data" and "nbcreds-login" in str(
        msg["content"].get("data", {}).get("text/html", "")
    )


def approve_device(page: Any, link: str, code: str) -> None:
    page.goto(link)
    page.fill("#user_code", code)
    page.click("#submit")
    page.locator("#shown-code").wait_for()
    page.click("#approve")
    page.locator("#result").wait_for()
    assert page.locator("#result").inner_text() == "approved"


CHECK = (
    "import httpx\n"
    "print(repr(tok))\n"
    "print(tok)\n"
    "print(httpx.get({url!r}, headers={{'Authorization': f'Bearer {{tok}}'}}).status_code)\n"
)


def lifecycle(kernel: Kernel, oauth: OAuthServer, client: str, prompts: Any) -> None:
    """After a sign-in bound ``tok`` in the kernel: masked and accepted; refreshed before
    expiry without a new prompt; rotation survived; ``%credential logout`` revokes."""
    out = kernel.run(CHECK.format(url=oauth.resource_url))
    assert out.splitlines() == ["<Secret me ****>", "****", "200"]
    signed_in, refreshed = prompts(), oauth.counts["refresh_token"]

    out = kernel.run(
        "import time\n"
        "first = str.__str__(tok)\n"
        "while not nc.credential_info('me').refresh_due: time.sleep(0.05)\n"
        "tok = nc.credential('me')\n"  # due: refreshed (the server rotates)
        "print(str.__str__(tok) != first)\n"
        "nc.invalidate('me')\n"
        "tok = nc.credential('me')\n"  # refreshed again: with the rotated refresh token
        "print(nc.login_state('me').status)\n"
    )
    assert out.splitlines() == ["True", "signed_in"]
    assert prompts() == signed_in  # no new sign-in
    # two refreshes; the second could only work with the rotated token (rotation
    # revokes the old one at the server)
    assert oauth.counts["refresh_token"] == refreshed + 2

    out = kernel.run("%credential logout me")
    assert "revoked the refresh token and the access token" in out
    assert oauth.counts["revocation"] == 2
    out = kernel.run(
        f"print(httpx.get({oauth.resource_url!r}, headers={{'Authorization': f'Bearer {{tok}}'}})"
        ".status_code)"
    )
    assert out.strip() == "401"
    assert not any(oauth.issued(v) for v in oauth.issued_values(client))
    assert_no_leak(kernel.everything(), oauth.issued_values(client))


def test_device_code_in_a_kernel_with_chromium(
    kernel: Kernel, oauth: OAuthServer, isolated_nbcreds: Path, page: Any
) -> None:
    client = "kernel-device"
    oauth.add_client(client, public=True)
    oauth.token_lifetime = 4  # refresh point: 80 % of 4 s
    write_device(isolated_nbcreds, oauth, client)
    kernel.run("import nbcreds as nc\n%load_ext nbcreds")

    msg_id = kernel.start("tok = nc.credential('me')")
    link, code = prompt_of(kernel.until(msg_id, is_prompt))
    assert link == oauth.verification_uri
    approve_device(page, link, code)
    assert kernel.finish(msg_id)["status"] == "ok"
    assert oauth.counts["device_authorization"] == 1
    assert oauth.counts["device_token"] == 1

    lifecycle(kernel, oauth, client, lambda: oauth.counts["device_authorization"])


def test_authorization_code_in_a_kernel_with_chromium(
    kernel: Kernel, oauth: OAuthServer, isolated_nbcreds: Path, page: Any, kernel_env: Any
) -> None:
    client = "kernel-web"
    oauth.add_client(client, public=True)
    oauth.token_lifetime = 4
    (isolated_nbcreds / "nbcreds.toml").write_text(
        "[credentials.me]\n"
        'type = "oauth2_authorization_code"\n'
        f"authorization_endpoint = {json.dumps(oauth.authorization_endpoint)}\n"
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client)}\n"
        'scopes = ["read", "offline_access"]\n'
    )
    kernel.run("import nbcreds as nc\n%load_ext nbcreds")
    urls = Path(kernel_env["NBCREDS_TEST_URLS"])

    msg_id = kernel.start("tok = nc.credential('me')")
    kernel.until(msg_id, is_prompt)
    deadline = time.monotonic() + TIMEOUT
    while not (urls.exists() and urls.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    url = urls.read_text().splitlines()[0]  # what the kernel's webbrowser.open got
    assert url.startswith(oauth.authorization_endpoint)
    page.goto(url)
    page.click("#approve")  # the server redirects Chromium to the kernel's 127.0.0.1 port
    page.locator("#result").wait_for()
    assert page.locator("#result").inner_text() == "Signed in"
    assert kernel.finish(msg_id)["status"] == "ok"
    assert oauth.authorization_requests[-1]["prompt"] == "consent"
    assert oauth.counts["authorization_code"] == 1

    lifecycle(kernel, oauth, client, lambda: oauth.counts["authorize_page"])


def test_refresh_token_in_a_kernel(
    oauth: OAuthServer, isolated_nbcreds: Path, kernel_env: dict[str, str]
) -> None:
    client = "kernel-rt"
    oauth.add_client(client, public=True)
    oauth.token_lifetime = 4
    refresh = oauth.issue_refresh_token(client, "read")
    (isolated_nbcreds / "nbcreds.toml").write_text(
        "[credentials.me]\n"
        'type = "oauth2_refresh_token"\n'
        f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
        f"revocation_endpoint = {json.dumps(oauth.revocation_endpoint)}\n"
        f"client_id = {json.dumps(client)}\n"
        'refresh_token = "secret:MY_REFRESH_TOKEN"\n'
    )
    env = {**kernel_env, "SECRET_MY_REFRESH_TOKEN": base64.b64encode(refresh.encode()).decode()}
    kernel = Kernel(isolated_nbcreds, env)  # the refresh token comes as a secret, never as code
    try:
        kernel.run("import nbcreds as nc\n%load_ext nbcreds\ntok = nc.credential('me')")
        assert not oauth.refresh_token_valid(refresh)  # rotated at the first use
        lifecycle(kernel, oauth, client, lambda: 0)
    finally:
        kernel.stop()


def test_interrupt_stops_the_polling_and_the_sidebar_hears_of_it(
    kernel: Kernel, oauth: OAuthServer, isolated_nbcreds: Path
) -> None:
    import uuid

    client = "kernel-interrupt"
    oauth.add_client(client, public=True)
    write_device(isolated_nbcreds, oauth, client)
    kernel.run("import nbcreds as nc\n%load_ext nbcreds")
    # a sidebar panel: open the comm and watch (as the lab extension does)
    opened = kernel.kc.session.msg(
        "comm_open",
        {
            "comm_id": uuid.uuid4().hex,
            "target_name": "nbcreds.comm",
            "data": {"v": 1, "id": 1, "op": "watch", "enabled": True},
        },
    )
    kernel.kc.shell_channel.send(opened)
    kernel.until(
        opened["header"]["msg_id"],
        lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
    )

    msg_id = kernel.start("tok = nc.credential('me')")
    _, code = prompt_of(kernel.until(msg_id, is_prompt))
    # pushed to the panel while the cell runs (before the prompt showed)
    # (to each watching comm: ours, and the one the kernel announced itself on)
    pushed = [m for m in kernel.seen if _login_event(m, "pending")]
    assert pushed
    login = pushed[-1]["content"]["data"]["login"]
    assert login["name"] == "me"
    assert login["user_code"] == code
    assert login["verification_uri"] == oauth.verification_uri
    while oauth.counts["device_poll"] < 1:  # polling has begun
        time.sleep(0.05)
    kernel.km.interrupt_kernel()
    reply = kernel.finish(msg_id)

    assert reply["status"] == "error"
    assert reply["ename"] == "KeyboardInterrupt"
    assert any(
        m["msg_type"] == "update_display_data" and "cancelled" in json.dumps(m["content"])
        for m in kernel.seen
    )
    assert any(_login_event(m, "signed_out") for m in kernel.seen)
    polls = oauth.counts["device_poll"]
    time.sleep(2.5)  # more than two intervals
    assert oauth.counts["device_poll"] == polls
    assert kernel.run("print(nc.login_state('me').status)").strip() == "signed_out"


def test_interrupting_an_awaiting_cell_stops_the_sign_in(
    kernel: Kernel, oauth: OAuthServer, isolated_nbcreds: Path
) -> None:
    """``await acredential(...)``: the sign-in runs in a worker thread; interrupting the
    cell (ipykernel cancels its task) must still stop the polling."""
    client = "kernel-async-interrupt"
    oauth.add_client(client, public=True)
    write_device(isolated_nbcreds, oauth, client)
    kernel.run("import nbcreds as nc\nfrom nbcreds.credentials import acredential")

    msg_id = kernel.start("tok = await acredential('me')")
    kernel.until(msg_id, is_prompt)
    while oauth.counts["device_poll"] < 1:
        time.sleep(0.05)
    kernel.km.interrupt_kernel()
    reply = kernel.finish(msg_id)

    assert reply["status"] == "error"
    assert reply["ename"] in ("CancelledError", "KeyboardInterrupt")
    out = kernel.run(
        "import time\n"
        "while nc.login_state('me').status == 'pending': time.sleep(0.05)\n"
        "print(nc.login_state('me').status)"
    )
    assert out.strip() == "signed_out"
    polls = oauth.counts["device_poll"]
    time.sleep(2.5)  # more than two intervals
    assert oauth.counts["device_poll"] == polls
    assert oauth.counts["device_token"] == 0


def _login_event(msg: dict[str, Any], status: str) -> bool:
    if msg["msg_type"] != "comm_msg":
        return False
    data = msg["content"].get("data", {})
    return bool(data.get("event") == "changed" and data.get("login", {}).get("status") == status)


def test_sixteen_callers_in_a_kernel_one_prompt(
    kernel: Kernel, oauth: OAuthServer, isolated_nbcreds: Path, page: Any
) -> None:
    client = "kernel-flight"
    oauth.add_client(client, public=True)
    write_device(isolated_nbcreds, oauth, client)
    kernel.run("import nbcreds as nc")

    msg_id = kernel.start(
        "import asyncio, threading\n"
        "from nbcreds.credentials import acredential\n"
        "got = []\n"
        "threads = [threading.Thread(target=lambda: got.append(str.__str__("
        "nc.credential('me')))) for _ in range(8)]\n"
        "for t in threads: t.start()\n"
        "got += [str.__str__(x) for x in await asyncio.gather("
        "*(acredential('me') for _ in range(8)))]\n"
        "for t in threads: t.join()\n"
        "print(len(got), len(set(got)))\n"
    )
    link, code = prompt_of(kernel.until(msg_id, is_prompt))
    approve_device(page, link, code)
    assert kernel.finish(msg_id)["status"] == "ok"

    prompts = [m for m in kernel.seen if is_prompt(m)]
    assert len(prompts) == 1
    assert oauth.counts["device_authorization"] == 1
    assert oauth.counts["device_token"] == 1
    stream = "".join(
        m["content"]["text"]
        for m in kernel.seen
        if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
    )
    assert "16 1" in stream
    print(
        f"\nkernel, 16 concurrent callers: {oauth.counts['device_authorization']} device "
        f"authorization, {oauth.counts['device_token']} token exchange, "
        f"{len(prompts)} prompt, {oauth.counts['device_poll']} polls"
    )


def _notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def test_headless_nbclient_fails_at_once_and_refresh_token_works(
    oauth: OAuthServer, isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    device_client, rt_client = "headless-device", "headless-rt"
    oauth.add_client(device_client, public=True)
    oauth.add_client(rt_client, public=True)
    refresh = oauth.issue_refresh_token(rt_client)
    write_device(isolated_nbcreds, oauth, device_client)
    with (isolated_nbcreds / "nbcreds.toml").open("a") as f:
        f.write(
            "[credentials.robot]\n"
            'type = "oauth2_refresh_token"\n'
            f"token_endpoint = {json.dumps(oauth.token_endpoint)}\n"
            f"client_id = {json.dumps(rt_client)}\n"
            'refresh_token = "secret:ROBOT_REFRESH_TOKEN"\n'
        )
    monkeypatch.setenv("SECRET_ROBOT_REFRESH_TOKEN", base64.b64encode(refresh.encode()).decode())
    resources = {"metadata": {"path": str(isolated_nbcreds)}}
    ok = nbformat.read(
        _notebook(
            isolated_nbcreds / "robot.ipynb",
            "%load_ext nbcreds\nimport nbcreds as nc\ntok = nc.credential('robot')\n"
            "print(repr(tok)); print(tok)",
        ),
        as_version=4,
    )
    NotebookClient(ok, timeout=120, kernel_name="python3", resources=resources).execute()
    text = "".join(o.get("text", "") for o in ok.cells[0].outputs)
    assert text.splitlines() == ["<Secret robot ****>", "****"]
    assert_no_leak(json.dumps(ok), [refresh, *oauth.issued_values(rt_client)])

    bad = nbformat.read(
        _notebook(
            isolated_nbcreds / "device.ipynb",
            "import nbcreds as nc\ntok = nc.credential('me')",
        ),
        as_version=4,
    )
    with pytest.raises(CellExecutionError) as info:
        NotebookClient(bad, timeout=120, kernel_name="python3", resources=resources).execute()
    text = str(info.value)
    assert "LoginRequired" in text
    assert "'me'" in text
    assert "oauth2_refresh_token" in text
    assert oauth.counts["device_authorization"] == 0  # failed at once, nothing started

"""The sidebar in a real JupyterLab, driven by Playwright in Debian's headless Chromium.

One journey, like a user's: open a notebook; open the panel from the command
palette; it says the kernel has not loaded nbcreds and offers to load it;
``%load_ext nbcreds`` in a cell brings it alive; bind a secret in a cell and
see its name appear; Test a credential against a local OAuth server and see
success; use it and see its status and time to expiry; edit a KV value in the
panel and read it back from the kernel; add a key and delete it from the panel;
``%unload_ext`` and load again with the panel's button; switch the namespace
from the panel. A screenshot goes to ``test-artifacts/sidebar.png``; no secret
value is ever in the page.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.oauth import OAuthServer

from .lab_server import LabServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# axe-core (npm, a devDependency of the lab extension: installed with its node modules)
AXE = ROOT / "labextension" / "node_modules" / "axe-core" / "axe.min.js"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
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
# Generous bounds for a loaded 2-core CI machine; every wait is on a condition.
LONG = 180_000
STEP = 90_000

CLIENT_SECRET = "ui-client-secret: +/=% Zq81"
API_KEY_VALUE = "ui-api-key-value-5d2c9b7e"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)",
    ),
]


@pytest.fixture(autouse=True)
def _axe_installed() -> None:
    # not a skip: without axe the accessibility check would silently not run
    assert AXE.exists(), f"{AXE} is missing: run `jlpm install` in labextension/"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[LabServer, OAuthServer]]:
    pytest.importorskip("jupyterlab")
    with OAuthServer(token_lifetime=3600) as oauth:
        oauth.add_client("ui-app", client_secret=CLIENT_SECRET)
        server = LabServer(
            tmp_path,
            env={
                "UI_CLIENT_SECRET": CLIENT_SECRET,
                "UI_API_KEY_VALUE": API_KEY_VALUE,
                # the kernels' KV store (SQLite) in this test's own dir, shared by the
                # second kernel below
                "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            },
            log=ARTIFACTS / "sidebar-jupyterlab.log",
        )
        (server.root / "nbcreds.toml").write_text(
            "[credentials.idp]\n"
            'type = "oauth2_client_credentials"\n'
            f'token_endpoint = "{oauth.token_endpoint}"\n'
            'client_id = "ui-app"\n'
            'client_secret = "env:UI_CLIENT_SECRET"\n'
        )
        (server.root / "sidebar.ipynb").write_text(
            json.dumps(
                {
                    "cells": [],
                    "metadata": {
                        "kernelspec": {
                            "name": "python3",
                            "display_name": "Python 3 (ipykernel)",
                            "language": "python",
                        }
                    },
                    "nbformat": 4,
                    "nbformat_minor": 5,
                }
            )
        )
        with server:
            yield server, oauth


def _take_default_kernel(page: Any) -> None:
    """Lab sometimes asks which kernel to start (the session had none yet): take the
    preselected Python 3."""
    chooser = page.locator(".jp-Dialog", has_text="Select Kernel")
    if chooser.count():
        chooser.get_by_role("button", name="Select").click()
        chooser.wait_for(state="detached", timeout=STEP)


def _click_past_dialogs(page: Any, target: Any) -> None:
    """Click ``target``; when a dialog (Lab's kernel chooser, which may appear seconds
    after the notebook opened) intercepts the click, take its default and click again."""
    deadline = time.monotonic() + LONG / 1000
    while True:
        _take_default_kernel(page)
        try:
            target.click(timeout=10_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def _warm_up(page: Any) -> None:
    """Run ``print(40 + 2)`` in the first cell until the kernel takes it.

    The notebook can look idle before its kernel's websocket is connected, and a
    cell run in that moment is silently dropped; so run in place (Ctrl+Enter)
    until the prompt shows the kernel got it, within a bound.
    """
    cell = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first
    _click_past_dialogs(page, cell.locator(".cm-content"))
    page.keyboard.insert_text("print(40 + 2)")
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + LONG / 1000
    while time.monotonic() < deadline:
        _click_past_dialogs(page, cell.locator(".cm-content"))
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=15_000)
            break
        except AssertionError:
            continue
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=LONG)
    expect(cell.locator(".jp-OutputArea")).to_have_text("42", timeout=STEP)
    # a fresh cell below for the next steps
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")).to_have_count(2)


def _run_cell(page: Any, code: str) -> str:
    """Type ``code`` into the last cell, run it, wait for it to finish; its output text."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    cell = cells.nth(cells.count() - 1)  # pinned: running it appends a new last cell
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(code)  # no key events: no auto-closed brackets
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=LONG)
    return str(cell.locator(".jp-OutputArea").inner_text(timeout=STEP))


def _open_palette_command(page: Any, label: str) -> None:
    page.keyboard.press("Escape")
    for _ in range(3):
        page.keyboard.press("Control+Shift+C")
        try:
            page.locator(".lm-CommandPalette-input").wait_for(state="visible", timeout=20_000)
            break
        except Exception:
            page.locator(".jp-NotebookPanel").click()
    palette_input = page.locator(".lm-CommandPalette-input")
    palette_input.fill(label)
    page.locator(".lm-CommandPalette-item", has_text=label).first.click(timeout=STEP)


def _second_kernel_sets(server: LabServer, key: str, value: int) -> None:
    """Another kernel (same user, same working dir and data dir as Lab's) writes a KV key."""
    import os

    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(server.root), env={**os.environ, **server.extra_env})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=LONG / 1000)
        reply = kc.execute_interactive(
            f"import nbcreds as nc; nc.use_namespace('acme.team'); nc.set_kv({key!r}, {value})",
            timeout=LONG / 1000,
            output_hook=lambda msg: None,
        )
        assert reply["content"]["status"] == "ok", reply["content"].get("evalue")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _axe_problems(page: Any, selector: str) -> list[str]:
    """axe-core's serious and critical violations inside ``selector`` (rule, impact, nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (selector) => {
            const r = await axe.run(document.querySelector(selector),
                                    {resultTypes: ['violations']});
            return r.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => `${v.id} (${v.impact}): ${v.help} -- ` +
                   v.nodes.map(n => n.target.join(' ')).join(', '));
        }""",
        selector,
    )
    return list(found)


def _views_in_theme(page: Any, theme: str, views: dict[str, str]) -> list[Path]:
    """Switch Lab's theme, then screenshot and axe-check each view; the files written."""
    _open_palette_command(page, f"Use Theme: {THEMES[theme]}")
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", THEMES[theme], timeout=STEP
    )
    page.wait_for_timeout(500)  # let the theme's stylesheet apply before the pixels
    written = []
    problems: dict[str, list[str]] = {}
    for name, selector in views.items():
        path = ARTIFACTS / f"{name}-{theme}.png"
        page.locator(selector).first.screenshot(path=str(path))
        written.append(path)
        found = _axe_problems(page, selector)
        if found:
            problems[name] = found
    assert problems == {}, f"axe-core in the {theme} theme: {problems}"
    return written


def test_sidebar_end_to_end(
    lab: tuple[LabServer, OAuthServer], capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import sync_playwright

    server, oauth = lab
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "sidebar.png"
    screenshot.unlink(missing_ok=True)
    expect.set_options(timeout=STEP)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.set_default_timeout(STEP)
            page.goto(server.url("lab/tree/sidebar.ipynb"), timeout=LONG)
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=LONG)

            # A first cell proves the kernel is up (and nbcreds not loaded yet).
            _warm_up(page)

            # The palette opens the panel; it says plainly that nbcreds is not loaded.
            _open_palette_command(page, "nbcreds: Show Secrets")
            panel = page.locator("#nbcreds-sidebar")
            expect(panel).to_be_visible()
            status = panel.locator(".nbc-status")
            expect(status).to_have_attribute("data-status", "not-loaded", timeout=LONG)
            expect(status).to_contain_text("has not loaded nbcreds")

            expect(panel.locator(".nbc-load")).to_be_visible()

            # %load_ext in a cell: the kernel announces itself, the panel comes alive.
            _run_cell(page, "%load_ext nbcreds")
            expect(status).to_have_attribute("data-status", "ready", timeout=LONG)

            # A cell binds a secret and a KV value: the panel refreshes by itself.
            _run_cell(
                page,
                "import nbcreds as nc; nc.use_namespace('acme.team'); "
                "nc.bind_secret('UI_API_KEY', env='UI_API_KEY_VALUE'); "
                "nc.set_kv('cursor', 41);",
            )
            secret_row = panel.locator('.nbc-secret-row[data-name="UI_API_KEY"]')
            expect(secret_row).to_be_visible(timeout=LONG)
            expect(secret_row).to_contain_text("acme.team")
            expect(status).to_contain_text("acme.team")

            # Test a credential against the local OAuth server.
            cred = panel.locator('.nbc-credential-row[data-name="idp"]')
            expect(cred).to_contain_text("oauth2_client_credentials")
            requests_before = oauth.token_requests
            cred.locator(".nbc-test").click()
            result = cred.locator(".nbc-test-result")
            expect(result).to_have_attribute("data-success", "true", timeout=LONG)
            expect(result).to_contain_text("token")
            assert oauth.token_requests > requests_before
            expect(cred.locator(".nbc-cred-status")).to_have_text("not fetched yet")

            # Once the notebook uses the credential, its status and time to expiry show.
            _run_cell(page, "tok = nc.credential('idp')")
            expect(cred.locator(".nbc-cred-status")).to_have_attribute(
                "data-status", "valid", timeout=LONG
            )
            # one vocabulary with the kernel: "valid · expires in 59 min"
            expect(cred.locator(".nbc-cred-status")).to_have_text(
                re.compile(r"valid · expires in \d+ min")
            )

            # Edit a KV value in the panel, read it back from the kernel.
            kv_row = panel.locator('.nbc-kv-row[data-key="cursor"]')
            expect(kv_row).to_contain_text("NUMBER")
            kv_row.locator(".nbc-kv-edit").click()
            text = panel.locator(".nbc-kv-editor .nbc-kv-text")
            expect(text).to_have_value("41")
            text.fill("42")
            panel.locator(".nbc-kv-editor .nbc-kv-save").click()
            expect(panel.locator(".nbc-kv-editor")).to_be_hidden()
            expect(panel.locator(".nbc-message")).to_contain_text("saved cursor")
            assert _run_cell(page, "print(nc.kv('cursor') + 1)").strip() == "43"

            # A new key typed in the panel, read by the kernel, then deleted (confirmed).
            panel.locator(".nbc-kv-new").click()
            editor = panel.locator(".nbc-kv-editor")
            editor.locator(".nbc-kv-key").fill("report")
            editor.locator(".nbc-kv-type").select_option("JSON")
            editor.locator(".nbc-kv-text").fill('{"pages": [1, 2]}')
            editor.locator(".nbc-kv-save").click()
            report_row = panel.locator('.nbc-kv-row[data-key="report"]')
            expect(report_row).to_contain_text("JSON")
            assert _run_cell(page, "print(nc.kv('report')['pages'][1])").strip() == "2"

            # Live state: no Refresh and no cell ending brings these in.
            # (1) code: a cell starts a timer; its write lands after the cell ended.
            _run_cell(
                page,
                "import threading; threading.Timer(3.0, lambda: nc.set_kv('live_code', 5)).start()",
            )
            expect(panel.locator('.nbc-kv-row[data-key="live_code"]')).to_contain_text("NUMBER")
            # (2) a widget: kv_editor's Save (a widget message, not a cell).
            _run_cell(page, "from nbcreds.widgets import kv_editor; kv_editor()")
            cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
            widget = cells.nth(cells.count() - 2).locator(".jp-OutputArea")
            widget.get_by_role("button", name="Add key").click()
            widget.locator(".widget-text", has_text="Key").locator("input").fill("from_widget")
            widget.locator(".widget-textarea textarea").first.fill("typed in a widget")
            widget.get_by_role("button", name="Save").click()
            expect(panel.locator('.nbc-kv-row[data-key="from_widget"]')).to_contain_text("STRING")
            # (3) a second kernel writing the same SQLite store (PRAGMA data_version).
            _second_kernel_sets(server, "from_kernel_two", 2)
            expect(panel.locator('.nbc-kv-row[data-key="from_kernel_two"]')).to_be_visible()

            page.screenshot(path=str(screenshot), full_page=True)

            # Every view in both themes: a screenshot each, and no serious or critical
            # axe-core violation (the sidebar, the credential form, %%http's output).
            _run_cell(page, "from nbcreds.widgets import credential_setup; credential_setup()")
            cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
            cells.nth(cells.count() - 2).locator(".jp-OutputArea-output").first.evaluate(
                "n => n.closest('.jp-Cell').classList.add('nbc-test-form-cell')"
            )
            _run_cell(
                page, f"%%http --auth idp\nGET {oauth.resource_url}\nAccept: application/json"
            )
            http_cell = cells.nth(cells.count() - 2)
            expect(http_cell.locator(".jp-OutputArea")).to_contain_text("GET")
            http_cell.evaluate("n => n.classList.add('nbc-test-http-cell')")
            views = {
                "sidebar": "#nbcreds-sidebar",
                "credential-form": ".nbc-test-form-cell .jp-OutputArea-output",
                "http": ".nbc-test-http-cell .jp-OutputArea-output",
            }
            written = []
            for theme in ("light", "dark"):
                written += _views_in_theme(page, theme, views)
            _open_palette_command(page, "Use Theme: JupyterLab Light")
            with capsys.disabled():
                print("\nscreenshots:", ", ".join(str(p.relative_to(ROOT)) for p in written))
            for path in written:
                assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            report_row.locator(".nbc-kv-delete").click()
            page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
            expect(report_row).to_have_count(0)
            assert _run_cell(page, "print(nc.kv('report', default='gone'))").strip() == "gone"

            # %unload_ext closes the channel; the panel's button loads nbcreds again.
            _run_cell(page, "%unload_ext nbcreds")
            expect(status).to_have_attribute("data-status", "not-loaded", timeout=LONG)
            panel.locator(".nbc-load").click()
            expect(status).to_have_attribute("data-status", "ready", timeout=LONG)
            expect(secret_row).to_be_visible(timeout=LONG)

            # Switch the namespace from the panel; the kernel follows.
            panel.locator(".nbc-namespace-select").select_option("acme")
            expect(status).to_contain_text(re.compile(r"^acme:"))
            assert _run_cell(page, "print(nc.current_namespace())").strip() == "acme"

            assert_no_leak(page.content(), [API_KEY_VALUE, CLIENT_SECRET])
        except Exception:
            if not screenshot.exists():
                page.screenshot(path=str(ARTIFACTS / "sidebar-failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


#: imported by the running cell: waits until the test creates a gate file (bounded), so
#: the kernel is busy -- its shell channel blocked -- for as long as the test looks
GATES = """\
import pathlib, time


def wait(gate: str) -> None:
    end = time.monotonic() + 300
    while not pathlib.Path(gate).exists() and time.monotonic() < end:
        time.sleep(0.05)
"""


def _start_cell(page: Any, code: str) -> Any:
    """Type ``code`` into the last cell and run it without waiting for it to end; its
    input prompt (``[*]:`` while it runs)."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    cell = cells.nth(cells.count() - 1)
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    expect(prompt).to_have_text("[*]:", timeout=LONG)
    return prompt


def test_sidebar_follows_a_cell_while_it_runs(lab: tuple[LabServer, OAuthServer]) -> None:
    """Issue 15: what a long-running cell changes -- a KV key, a secret binding, the
    namespace -- and what a second kernel writes to the same SQLite store show in the
    sidebar while the cell still runs (before, they showed only when it ended: the
    panel asked for the state over the shell channel, queued behind the cell)."""
    from playwright.sync_api import sync_playwright

    import nbcreds.kvstore

    server, _oauth = lab
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "sidebar-live-busy.png"
    screenshot.unlink(missing_ok=True)
    expect.set_options(timeout=STEP)
    (server.root / "gates.py").write_text(GATES)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.set_default_timeout(STEP)
            page.goto(server.url("lab/tree/sidebar.ipynb"), timeout=LONG)
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=LONG)
            _warm_up(page)
            _open_palette_command(page, "nbcreds: Show Secrets")
            panel = page.locator("#nbcreds-sidebar")
            status = panel.locator(".nbc-status")
            _run_cell(
                page,
                "%load_ext nbcreds\nimport nbcreds as nc, gates; nc.use_namespace('acme.team')",
            )
            expect(status).to_have_attribute("data-status", "ready", timeout=LONG)
            expect(status).to_contain_text(re.compile(r"^acme\.team:"))

            running = _start_cell(
                page,
                "nc.set_kv('busy_kv', 1); gates.wait('go1'); "
                "nc.bind_secret('BUSY_SECRET', env='UI_API_KEY_VALUE'); gates.wait('go2'); "
                "gates.wait('go3'); nc.use_namespace('acme.busy'); gates.wait('go4'); "
                "print('cell done')",
            )
            kernel_busy = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first

            def still_running() -> None:
                expect(running).to_have_text("[*]:")
                expect(kernel_busy).to_have_attribute("data-status", "busy")

            # a KV key set by the running cell
            expect(panel.locator('.nbc-kv-row[data-key="busy_kv"]')).to_contain_text("NUMBER")
            still_running()
            (server.root / "go1").touch()
            # a secret bound by it
            expect(panel.locator('.nbc-secret-row[data-name="BUSY_SECRET"]')).to_contain_text(
                "acme.team"
            )
            still_running()
            (server.root / "go2").touch()
            # a second kernel writes the same SQLite store meanwhile
            _second_kernel_sets(server, "from_kernel_two", 2)
            expect(panel.locator('.nbc-kv-row[data-key="from_kernel_two"]')).to_be_visible()
            still_running()
            page.screenshot(path=str(screenshot), full_page=True)  # all three, cell running
            (server.root / "go3").touch()
            # the namespace switched by it (its KV list is that namespace's: empty)
            expect(status).to_contain_text(re.compile(r"^acme\.busy:"))
            expect(panel.locator('.nbc-kv-row[data-key="busy_kv"]')).to_have_count(0)
            still_running()
            (server.root / "go4").touch()
            expect(running).to_have_text(re.compile(r"\[\d+\]"), timeout=LONG)

            # the KV editor offers the kernel's types (nbcreds.kvstore.KVType), no others
            panel.locator(".nbc-kv-new").click()
            options = panel.locator(".nbc-kv-editor .nbc-kv-type option").all_inner_texts()
            assert options == [t.value for t in nbcreds.kvstore.KVType]
            assert_no_leak(page.content(), [API_KEY_VALUE])
        except Exception:
            if not screenshot.exists():
                page.screenshot(
                    path=str(ARTIFACTS / "sidebar-live-busy-failure.png"), full_page=True
                )
            raise
        finally:
            browser.close()

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

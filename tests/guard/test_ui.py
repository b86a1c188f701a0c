"""A JupyterLab autosave through the save guard, driven by Playwright in Debian's
headless Chromium: the kernel (which never loaded nbcreds) prints a GitHub token;
the autosave writes it masked; a notification says where, what and what to do.
A screenshot goes to ``test-artifacts/guard-notification.png``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from nbcreds.testing.leaks import assert_no_leak

from ..labextension.lab_server import LabServer
from ..labextension.test_ui import CHROMIUM, CHROMIUM_ARGS, LONG, STEP, _warm_up
from .conftest import ARTIFACTS, github_token

TOKEN = github_token()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)",
    ),
]


# A JupyterLab of its own, not the sidebar test's (tests/labextension/test_ui.py): this
# one starts with a 2 s autosave in its user settings and the token in its environment
# (the kernel never loads nbcreds, so the token must come from outside the notebook).
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    pytest.importorskip("jupyterlab")
    base = tmp_path_factory.mktemp("guard-lab")
    server = LabServer(
        base,
        env={"UI_GUARD_TOKEN": TOKEN, "XDG_CONFIG_HOME": str(base / "xdg-config")},
        log=ARTIFACTS / "guard-jupyterlab.log",
    )
    # autosave every 2 s (JupyterLab's default is 120 s)
    settings = server.config_dir / "lab-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosaveInterval": 2}))
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        }
    )
    nbformat.write(nb, server.root / "guard.ipynb")
    with server:
        _warm_the_guard(server)
        yield server


def _warm_the_guard(server: LabServer) -> None:
    """Pay the guard's first-save cost (imports, rule compilation) before the page opens.
    JupyterLab's autosave waits 10x as long as the last save took before the next one: a
    cold first save on a loaded machine pushed the next autosave past the test's wait."""
    import httpx

    warm = nbformat.v4.new_notebook()
    warm.cells.append(nbformat.v4.new_code_cell("print('warm')"))
    warm.cells[0].outputs.append(nbformat.v4.new_output("stream", text=f"token {TOKEN}\n"))
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=120) as client:
        body = {"type": "notebook", "format": "json", "content": warm}
        client.put("/api/contents/warm.ipynb", json=body).raise_for_status()
    assert_no_leak((server.root / "warm.ipynb").read_text(), [TOKEN])  # masked on the way in


def test_autosave_masks_the_output_and_notifies(lab: LabServer) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "guard-notification.png"
    screenshot.unlink(missing_ok=True)
    expect.set_options(timeout=STEP)
    saved = lab.root / "guard.ipynb"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.set_default_timeout(STEP)
            # with a 2 s autosave JupyterLab may ask for the kernel while it starts
            page.add_locator_handler(
                page.locator(".jp-Dialog", has_text="Select Kernel"),
                lambda: page.locator(".jp-Dialog .jp-mod-accept").click(),
            )
            page.goto(lab.url("lab/tree/guard.ipynb"), timeout=LONG)
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=LONG)
            _warm_up(page)
            cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
            cell = cells.nth(cells.count() - 1)
            cell.locator(".cm-content").click()
            page.keyboard.insert_text("import os; print('token', os.environ['UI_GUARD_TOKEN'])")
            page.keyboard.press("Shift+Enter")
            # the kernel never loaded nbcreds: the page shows the token
            expect(cell.locator(".jp-OutputArea")).to_contain_text("token ghp_", timeout=LONG)

            # no Ctrl+S: the autosave writes the file, the guard masks it and says so
            toast = page.locator(".Toastify__toast", has_text="nbcreds masked")
            expect(toast).to_be_visible(timeout=LONG)
            expect(toast).to_contain_text("cell 2 output (GitHub token)")
            deadline = time.monotonic() + 60
            while "token ****" not in saved.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            on_disk = saved.read_text()
            assert "token ****" in on_disk
            assert_no_leak(on_disk, [TOKEN])
            assert_no_leak(toast.inner_text(), [TOKEN])

            # Details: each place, kind, rule, what was done and how to configure
            toast.get_by_role("button", name="Details").click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_contain_text(
                "cell 2:output 1 (stream stdout): GitHub token [github-token]"
            )
            expect(dialog).to_contain_text("masked in the saved file")
            expect(dialog).to_contain_text('[guard] mode = "scrub"')
            assert_no_leak(dialog.inner_text(), [TOKEN])
            page.screenshot(path=str(screenshot), full_page=True)

            # "Reload from disk" shows the masked file in the page too
            dialog.get_by_role("button", name="Reload from disk").click()
            expect(cells.nth(1).locator(".jp-OutputArea")).to_contain_text(
                "token ****", timeout=LONG
            )
            assert_no_leak(page.content(), [TOKEN])
        except Exception:
            if not screenshot.exists():
                page.screenshot(path=str(ARTIFACTS / "guard-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""The documentation site builds strictly: every page of docs/, the API reference of the
facade's ``__all__`` from the docstrings, the example notebooks with their saved outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import nbcreds

from .conftest import REPO, run

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    # -W: a warning fails the build; -n: every cross-reference must resolve
    strict = ["-W", "--keep-going", "-n", "-q", "-b", "html", "-d", out.parent / "doctrees"]
    run([sys.executable, "-m", "sphinx", *strict, REPO / "docs", out])
    return out


def test_every_page_and_notebook_is_built(site: Path) -> None:
    pages = sorted(p.stem for p in (REPO / "docs").glob("*.md"))
    assert {"index", "api", "changelog", "doctor", "vault", "masking"} <= set(pages)
    for page in pages:
        assert (site / f"{page}.html").is_file(), page
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        html = (site / "notebooks" / f"{notebook}.html").read_text()
        assert "cell_output" in html, notebook  # rendered with its saved outputs


def test_api_reference_covers_the_facade(site: Path) -> None:
    html = (site / "api.html").read_text()
    missing = [
        name
        for name in nbcreds.__all__
        if name not in ("__version__", "plugins") and f'id="nbcreds.{name}"' not in html
    ]
    assert missing == []
    assert 'id="nbcreds.plugins.SourceType"' in html or 'id="module-nbcreds.plugins"' in html
    assert 'id="nbcreds.plugins.SecretSource.health"' in html


def test_the_quickstart_outputs_are_masked(site: Path) -> None:
    html = (site / "notebooks" / "quickstart.html").read_text()
    assert "****" in html

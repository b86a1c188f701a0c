"""Docs derived from code stay current."""

from __future__ import annotations

from pathlib import Path

from nbcreds import plugins

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_plugin_tables_match_the_registries() -> None:
    text = (DOCS / "plugins.md").read_text()
    begin, end = "<!-- registry:begin -->\n", "<!-- registry:end -->"
    block = text[text.index(begin) + len(begin) : text.index(end)]
    assert block == plugins.markdown("nbcreds"), (
        "docs/plugins.md is stale: regenerate its registry block with "
        "python -c \"import nbcreds.plugins as p; print(p.markdown('nbcreds'), end='')\""
    )

"""Sphinx configuration of the nbcreds documentation site.

Why Sphinx + MyST (not MkDocs): the docstrings are reStructuredText (``:class:``,
``:func:`` roles), which autodoc resolves and, with ``nitpicky`` and ``-W``, fails on
when a reference points nowhere; the pages stay Markdown (MyST) and the notebooks are
rendered by myst-nb with their saved, masked outputs (never executed here).

Build: ``sphinx-build -W -n -b html docs docs/_build/html`` (tests/release/test_docs.py).
"""

from __future__ import annotations

from importlib.metadata import version as _version

project = "nbcreds"
author = "nbcreds developers"
copyright = "nbcreds developers"
release = _version("nbcreds")

extensions = ["myst_nb", "sphinx.ext.autodoc"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints"]
nb_execution_mode = "off"  # the notebooks' saved outputs are shown (they are masked)
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"nbcreds {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = True
# a %%http cell is not Python: pygments falls back to plain text, which is fine
suppress_warnings = ["misc.highlighting_failure"]
# No network here (no intersphinx): names from Python and third-party libraries
# cannot be resolved; nbcreds' own references must all resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(?!nbcreds\b).*"),
]

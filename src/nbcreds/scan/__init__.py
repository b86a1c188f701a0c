"""``nbcreds scan`` / ``scrub``: find secrets in notebooks and files, and mask them.

Two kinds of secrets are looked for: the values the config can resolve (every
encoded form of them, through the masking engine's variants) and well-known
token shapes (GitHub, JWT, AWS, PEM, Slack, Google, keyword assignments with
high entropy), also inside JSON-escaped, percent-encoded and base64 text.
Notebooks are parsed, so every output, attachment, metadata and widget state
is read as the string it is, not as escaped JSON.

>>> from nbcreds.scan import Scanner
>>> Scanner().scan(["notebooks/"])        # doctest: +SKIP
"""

from __future__ import annotations

from ._command import Options, run
from ._detector import Detector, Hit
from ._rules import RULES, Rule, RuleSet, shannon_entropy
from ._scan import MASK, FileResult, Finding, Scanner, atomic_write
from ._values import ConfiguredValue, ValueMatcher, collect_configured_values
from ._walk import Field, iter_files, notebook_fields

__all__ = [
    "MASK",
    "RULES",
    "ConfiguredValue",
    "Detector",
    "Field",
    "FileResult",
    "Finding",
    "Hit",
    "Options",
    "Rule",
    "RuleSet",
    "Scanner",
    "ValueMatcher",
    "atomic_write",
    "collect_configured_values",
    "iter_files",
    "notebook_fields",
    "run",
    "shannon_entropy",
]

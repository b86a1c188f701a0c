"""Token shapes: the well-known forms of credentials, found without any config.

Each rule has a Python regex (exact spans, used for reporting and scrubbing)
and a Hyperscan prefilter (one compiled database for every rule, so a field is
read once whatever the number of rules). Hyperscan only says *which* rules may
match; the Python regex of those rules then finds the spans and the validators
(entropy, placeholders) decide. Without Hyperscan every rule's regex runs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["RULES", "Rule", "RuleSet", "shannon_entropy"]


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for an empty string)."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@dataclass(frozen=True)
class Rule:
    """One token shape. ``group`` names the regex group holding the secret part."""

    id: str
    kind: str
    regex: re.Pattern[str]
    prefilter: bytes
    group: str | int = 0
    validate: Callable[[str], bool] | None = field(default=None, compare=False)
    priority: int = 1
    #: ``skip(text, start)``: no match may start at ``start`` (as a negative lookahead
    #: would say, for conditions known only at run time: the installed schemes)
    skip: Callable[[str, int], bool] | None = field(default=None, compare=False)


_PLACEHOLDER = re.compile(
    r"^(?:[*xX.•-]+|<[^>]*>?|\$\{?.*|\{\{.*|%\(.*|"
    r".*(?:\*\*\*|xxxx|example|changeme|placeholder|your[_-]|redacted|dummy).*)$",
    re.IGNORECASE,
)


def _is_reference(value: str) -> bool:
    """A reference of an installed source (``env:X``, ``vault:p#f``, ``secret:N``...)."""
    from ..plugins import is_reference

    scheme, colon, rest = value.partition(":")
    return bool(colon) and is_reference(f"{scheme.lower()}:{rest}")


_CODE_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _generic_ok(value: str) -> bool:
    """A keyword assignment is a finding when its value looks random, not like code
    (``os.environ``), a reference (``env:X``, ``${X}``), a URL without a password or
    a placeholder (``****``)."""
    if _PLACEHOLDER.match(value) or _CODE_LIKE.match(value) or _PLAIN_URL.match(value):
        return False
    if _is_reference(value):
        return False
    if not (re.search(r"[0-9]", value) or re.search(r"[^A-Za-z0-9]", value)):
        # a single word such as "password" / "secret" / "none"
        return shannon_entropy(value) >= 3.5
    return shannon_entropy(value) >= 3.0


_PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^@/]+(?:/.*)?$", re.IGNORECASE)
#: Names that mention a keyword but hold no secret (``token_url``, ``password_file``).
_NOT_SECRET_NAME = (
    r"(?<![A-Za-z0-9])(?![A-Za-z0-9_.-]*(?:url|uri|endpoint|path|file|name|type|length|count|"
    r"prefix)[\"']?[ \t]*(?::=|=>|:|=))"
)


_KEYWORDS = (
    r"password|passwd|passphrase|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|"
    r"access[_-]?token|refresh[_-]?token|client[_-]?secret|private[_-]?key|token|credentials?"
)
_SCHEME_AT = re.compile(r"([A-Za-z][A-Za-z0-9+._-]*):[A-Za-z_]")


def _reference_at(text: str, start: int) -> bool:
    """``secret:API_TOKEN`` is a reference (a scheme, a colon, a name), not
    ``secret: <value>``: true when an installed source's scheme (``env``, ``vault``, a
    plugin's...) or ``secret`` starts a reference at ``start``."""
    from ..plugins import reference_schemes

    found = _SCHEME_AT.match(text, start)
    return found is not None and found.group(1).lower() in reference_schemes()


_GENERIC = re.compile(
    r"(?ai)"
    + _NOT_SECRET_NAME
    + r"(?P<key>[A-Za-z0-9_.-]*(?:"
    + _KEYWORDS
    + r")[A-Za-z0-9_.-]*)[\"']?[ \t]*"
    r"(?::=|=>|:|=)[ \t]*(?P<q>[\"']?)(?P<value>[^\s\"'`,;()\[\]{}<>]{8,200})"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "github-token",
        "GitHub token",
        re.compile(r"(?a)\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        rb"\b(?:gh[pousr]_[A-Za-z0-9]{30}|github_pat_[A-Za-z0-9_]{22})",
    ),
    Rule(
        "jwt",
        "JSON Web Token",
        re.compile(r"(?a)\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        rb"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8}",
    ),
    Rule(
        "aws-access-key",
        "AWS access key id",
        re.compile(r"(?a)\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),
        rb"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b",
    ),
    Rule(
        "private-key",
        "PEM private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:[A-Za-z0-9+/=:\s-]|\\[nr])*)",
            re.DOTALL,
        ),
        rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    Rule(
        "slack-token",
        "Slack token",
        re.compile(r"(?a)\bxox[abposrec]-[A-Za-z0-9-]{10,250}"),
        rb"\bxox[abposrec]-[A-Za-z0-9-]{10}",
    ),
    Rule(
        "slack-webhook",
        "Slack webhook URL",
        re.compile(r"(?a)https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}"),
        rb"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20}",
    ),
    Rule(
        "google-api-key",
        "Google API key",
        re.compile(r"(?a)\bAIza[0-9A-Za-z_-]{35}"),
        rb"\bAIza[0-9A-Za-z_-]{35}",
    ),
    Rule(
        "generic-assignment",
        "high-entropy value assigned to a secret-like name",
        _GENERIC,
        rb"(?:" + _KEYWORDS.encode() + rb")[A-Za-z0-9_.-]*[\"']?[ \t]*(?::=|=>|:|=)[ \t]*[\"']?"
        rb"[^\s\"'`,;()\[\]{}<>]{8}",
        group="value",
        validate=_generic_ok,
        priority=2,
        skip=_reference_at,
    ),
)


#: Cheap facts about a text, found in the same Hyperscan pass as the rules, that
#: tell the detector which decodings are worth trying.
MARKERS: dict[str, bytes] = {
    "base64": rb"[A-Za-z0-9+/]{20}",
    "json-escape": rb"\\(?:u[0-9a-fA-F]{4}|[\"\\/bfnrt])",
    "percent": rb"%[0-9A-Fa-f]{2}",
}
ALL_MARKERS = frozenset(MARKERS)


def _matches(rule: Rule, text: str) -> Iterator[re.Match[str]]:
    """``rule.regex.finditer(text)``, no match starting where ``rule.skip`` says."""
    if rule.skip is None:
        yield from rule.regex.finditer(text)
        return
    pos = 0
    while pos <= len(text):
        m = rule.regex.search(text, pos)
        if m is None:
            return
        if rule.skip(text, m.start()):
            pos = m.start() + 1  # a lookahead failing here: try the next start
            continue
        yield m
        pos = m.end() if m.end() > m.start() else m.end() + 1


@dataclass(frozen=True)
class ShapeMatch:
    start: int
    end: int
    rule: Rule


class RuleSet:
    """The rules compiled for one backend: ``"hyperscan"``, ``"regex"`` or ``"auto"``."""

    def __init__(self, rules: Sequence[Rule] = RULES, backend: str = "auto") -> None:
        if backend not in ("auto", "hyperscan", "regex"):
            raise ValueError("backend must be 'auto', 'hyperscan' or 'regex'")
        self.rules = tuple(rules)
        self._db: object | None = None
        if backend != "regex":
            try:
                self._db = self._compile()
            except ImportError:
                if backend == "hyperscan":
                    from .._exceptions import ScanError

                    raise ScanError(
                        "the hyperscan backend was asked for but hyperscan is not installed; "
                        "pip install hyperscan or use --backend regex"
                    ) from None
        self.backend = "hyperscan" if self._db is not None else "regex"

    def _compile(self) -> object:
        import hyperscan

        db = hyperscan.Database()
        expressions = [r.prefilter for r in self.rules] + list(MARKERS.values())
        flags = [hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions)
        for i, rule in enumerate(self.rules):
            if rule.regex.flags & re.IGNORECASE:
                flags[i] |= hyperscan.HS_FLAG_CASELESS
        db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=flags,
        )
        return db

    def scan(self, data: bytes) -> tuple[list[Rule], frozenset[str]]:
        """The rules that may match ``data`` and the markers present in it (all of
        them without Hyperscan)."""
        if self._db is None:
            return list(self.rules), ALL_MARKERS
        hit: set[int] = set()

        def on_match(rule_id: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
            hit.add(rule_id)

        self._db.scan(data, match_event_handler=on_match)  # type: ignore[attr-defined]
        n = len(self.rules)
        names = list(MARKERS)
        rules = [self.rules[i] for i in sorted(hit) if i < n]
        return rules, frozenset(names[i - n] for i in hit if i >= n)

    def candidates(self, data: bytes) -> list[Rule]:
        """Rules that may match ``data`` (all of them without Hyperscan)."""
        return self.scan(data)[0]

    def match(self, text: str, rules: Sequence[Rule]) -> list[ShapeMatch]:
        """Validated matches of ``rules`` in ``text``."""
        found: list[ShapeMatch] = []
        for rule in rules:
            for m in _matches(rule, text):
                value = m.group(rule.group)
                if rule.validate is not None and not rule.validate(value):
                    continue
                found.append(ShapeMatch(m.start(rule.group), m.end(rule.group), rule))
        return found

    def find(self, text: str, data: bytes | None = None) -> list[ShapeMatch]:
        """Validated matches in ``text``; ``data`` is its bytes when the caller has them."""
        if data is None:
            data = text.encode("utf-8", "surrogatepass")
        return self.match(text, self.candidates(data))

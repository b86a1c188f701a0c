"""Token shapes: each is found raw and under JSON-escaping, percent-encoding and
base64, by both engines; placeholders and code are not findings."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import quote

import pytest

from nbcreds.scan import RULES, Detector, Hit, RuleSet, shannon_entropy

BACKENDS = ["hyperscan", "regex"]


def rules_found(detector: Detector, text: str) -> set[str]:
    return {h.rule for h in detector.find(text)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_shape_is_found_raw_with_its_span(backend: str, tokens: dict[str, str]) -> None:
    detector = Detector(backend=backend)
    assert detector.rules is not None
    assert detector.rules.backend == backend
    for rule, token in tokens.items():
        text = f"before {token} after"
        hits = [h for h in detector.find(text) if h.rule == rule]
        assert hits, rule
        # the reported span covers the secret part of the token
        secret_part = token.split("'")[1] if rule == "generic-assignment" else token
        start = text.index(secret_part)
        assert any(h.start <= start and h.end >= start + len(secret_part) for h in hits), rule
        assert all(h.encoding == "raw" for h in hits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_are_found_base64_encoded(backend: str, tokens: dict[str, str]) -> None:
    detector = Detector(backend=backend)
    for rule, token in tokens.items():
        blob = base64.b64encode(f"user:{token}".encode()).decode()
        text = f"Authorization: Basic {blob}\n"
        hits = [h for h in detector.find(text) if h.rule == rule]
        assert hits, rule
        assert hits[0].encoding == "base64"
        assert text[hits[0].start : hits[0].end] == blob


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_are_found_json_escaped_twice(backend: str, tokens: dict[str, str]) -> None:
    """A JSON document saved inside a JSON string: the PEM key's newlines become
    ``\\\\n`` and the assignment's quotes ``\\\\\\"``."""
    detector = Detector(backend=backend)
    for rule in ("private-key", "generic-assignment"):
        inner = json.dumps({"note": tokens[rule].replace("'", '"')})
        text = json.dumps({"doc": inner})
        hits = [h for h in detector.find(text) if h.rule == rule]
        assert hits, rule
        assert any("JSON-escaped" in h.encoding for h in hits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_are_found_url_encoded(backend: str, tokens: dict[str, str]) -> None:
    detector = Detector(backend=backend)
    for rule in ("private-key", "generic-assignment"):
        encoded = quote(tokens[rule], safe="")
        assert encoded != tokens[rule]
        text = f"https://example.invalid/hook?payload={encoded}&x=1"
        hits = [h for h in detector.find(text) if h.rule == rule]
        assert hits, rule
        assert hits[0].encoding == "URL-encoded"
        # the span maps back onto the encoded text
        assert text[hits[0].start : hits[0].end] in encoded


@pytest.mark.parametrize(
    "line",
    [
        'password = "****"',
        'password = "changeme"',
        "token = os.environ",
        'api_key = "${API_KEY}"',
        'secret = "env:DB_PASSWORD"',
        'token_endpoint = "https://auth.example.invalid/token"',
        "password = getpass()",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit",
    ],
)
def test_placeholders_and_code_are_not_findings(line: str) -> None:
    assert rules_found(Detector(), line) == set()


def test_generic_assignment_needs_entropy(rand_str: Callable[..., str]) -> None:
    low = "aaaabbbbaaaabbbb"
    assert shannon_entropy(low) < 3.0
    assert rules_found(Detector(), f'password = "{low}"') == set()
    assert rules_found(Detector(), f'password = "{rand_str(20)}"') == {"generic-assignment"}


def test_backends_agree_on_a_mixed_text(tokens: dict[str, str]) -> None:
    text = "\n".join(f"line {i}: {t}" for i, t in enumerate(tokens.values()))
    text += "\n" + base64.b64encode(text.encode()).decode()
    found = {
        b: sorted((h.start, h.end, h.rule) for h in Detector(backend=b).find(text))
        for b in BACKENDS
    }
    assert found["hyperscan"] == found["regex"]
    assert {r for _, _, r in found["regex"]} == {r.id for r in RULES}


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        RuleSet(backend="nope")


def test_overlapping_hits_keep_the_most_specific() -> None:
    from nbcreds.scan._detector import report_hits

    def hit(start: int, end: int, priority: int, rule: str) -> Hit:
        return Hit(start, end, rule, rule, "raw", priority)

    hits = [
        hit(0, 50, 2, "generic"),  # overlaps the configured one: dropped
        hit(10, 20, 0, "configured"),
        hit(18, 30, 1, "shape-a"),  # overlaps the configured one: dropped
        hit(60, 70, 1, "shape-b"),
        hit(70, 80, 2, "generic-2"),  # touches shape-b, does not overlap: kept
    ]
    assert [h.rule for h in report_hits(hits)] == ["configured", "shape-b", "generic-2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_references_of_every_installed_scheme_are_not_findings(
    backend: str, rand_str: Callable[..., str]
) -> None:
    """The schemes come from the source registry: the example plugin's (installed from
    tests/plugin_example) and one added at run time are references like env:/vault:."""
    from nbcreds import plugins

    assert plugins.reference_schemes()["example"] == "example"
    detector = Detector(backend=backend)
    name = "K" + rand_str(20)
    assert rules_found(detector, f'api_key = "example:{name}"') == set()
    assert rules_found(detector, f'api_key = "nosuchscheme:{name}"') == {"generic-assignment"}
    # a scheme holding a keyword: "apikeys:NAME" is a reference, not `apikeys: <value>`
    line = f"apikeys:{name}"
    assert rules_found(detector, line) == {"generic-assignment"}  # not installed yet
    plugins.register_source_type(
        plugins.SourceType(name="apikeys", schemes=("apikeys",), build=lambda ctx: None)  # type: ignore[arg-type,return-value]
    )
    try:
        assert rules_found(Detector(backend=backend), line) == set()
        assert rules_found(Detector(backend=backend), f"APIKEYS:{name}") == set()
        # a real assignment after a reference is still found (the match starts later)
        found = rules_found(Detector(backend=backend), f'apikeys:X token = "{rand_str(20)}"')
        assert found == {"generic-assignment"}
    finally:
        plugins.unregister("apikeys")

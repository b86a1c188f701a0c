"""Matcher: both backends find the same spans, merge overlaps, handle unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbcreds import MaskingError
from nbcreds.masking import Matcher, available_backends

BACKENDS = available_backends()
pytestmark = pytest.mark.skipif(len(BACKENDS) < 1, reason="no matcher backend")


@pytest.mark.parametrize("backend", BACKENDS)
def test_overlapping_and_nested_matches_mask_their_union(backend: str) -> None:
    m = Matcher([("abcdef", "A"), ("defghi", "B"), ("cd", "C")], backend=backend)  # type: ignore[arg-type]
    assert m.backend == backend
    assert m.spans("xxabcdefghiyy") == [(2, 11, "A")]
    assert m.sub("xxabcdefghiyy", "*") == "xx*yy"


@pytest.mark.parametrize("backend", BACKENDS)
def test_touching_matches_merge_and_boundaries(backend: str) -> None:
    m = Matcher([("secret", None)], backend=backend)  # type: ignore[arg-type]
    assert m.sub("secretsecret", "#") == "#"
    assert m.sub("secret", "#") == "#"
    assert m.sub("a secret b secret", "#") == "a # b #"
    assert m.sub("", "#") == ""
    assert m.spans("nothing here") == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_unicode_offsets_are_character_offsets(backend: str) -> None:
    m = Matcher([("clé€secrète", "K"), ("😀x😀", None)], backend=backend)  # type: ignore[arg-type]
    text = "é😀 clé€secrète 😀x😀!"
    assert m.sub(text, "*") == "é😀 * *!"
    assert m.spans(text)[0] == (3, 14, "K")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bytes_are_matched_as_utf8(backend: str) -> None:
    m = Matcher([("clé-secrète", None)], backend=backend)  # type: ignore[arg-type]
    data = "x clé-secrète y".encode()
    assert m.sub_bytes(data, b"*") == b"x * y"
    assert m.search(data)


@pytest.mark.parametrize("backend", BACKENDS)
def test_callable_replacement_gets_the_label(backend: str) -> None:
    m = Matcher([("token-123456", "TOK")], backend=backend)  # type: ignore[arg-type]
    assert m.sub("a token-123456", lambda label: f"[{label}]") == "a [TOK]"


def test_unknown_backend_is_a_masking_error() -> None:
    with pytest.raises(MaskingError, match="unknown matcher backend"):
        Matcher([("abcdef", None)], backend="regex")  # type: ignore[arg-type]


def test_empty_matcher() -> None:
    m = Matcher([("", None)])
    assert len(m) == 0
    assert m.sub("anything", "*") == "anything"


def _naive_sub(text: str, patterns: list[str], replacement: str) -> str:
    """The reference: mark every character covered by any occurrence."""
    covered = [False] * len(text)
    for pattern in patterns:
        if not pattern:
            continue
        start = text.find(pattern)
        while start != -1:
            for i in range(start, start + len(pattern)):
                covered[i] = True
            start = text.find(pattern, start + 1)
    out = []
    i = 0
    while i < len(text):
        if covered[i]:
            # touching runs merge into one replacement, like the matcher
            while i < len(text) and covered[i]:
                i += 1
            out.append(replacement)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


ALPHABET = st.sampled_from(list("abAB\n é€😀\x00\ud800"))
PATTERNS = st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(patterns=PATTERNS, data=st.data())
def test_backends_agree_with_each_other_and_the_reference(
    patterns: list[str], data: st.DataObject
) -> None:
    # texts built from pieces of the patterns: overlaps, nesting, matches at both ends
    pieces = st.one_of(st.sampled_from(patterns), st.text(ALPHABET, max_size=3))
    text = "".join(data.draw(st.lists(pieces, max_size=8)))
    expected = _naive_sub(text, patterns, "<>")
    results = {
        backend: Matcher([(p, None) for p in patterns], backend=backend).sub(text, "<>")  # type: ignore[arg-type]
        for backend in BACKENDS
    }
    for backend, result in results.items():
        assert result == expected, backend


@settings(max_examples=100, deadline=None)
@given(patterns=PATTERNS, text=st.text(ALPHABET, max_size=30))
def test_backends_agree_on_spans_and_labels(patterns: list[str], text: str) -> None:
    labelled = [(p, f"L{i}") for i, p in enumerate(patterns)]
    spans = [Matcher(labelled, backend=b).spans(text) for b in BACKENDS]  # type: ignore[arg-type]
    assert all(s == spans[0] for s in spans)


@pytest.mark.parametrize("backend", BACKENDS)
def test_padding_literals_never_match(backend: str) -> None:
    m = Matcher([("real-secret", None)], backend=backend)  # type: ignore[arg-type]
    data = b"\xffnbcreds-pad-0001\xfe real-secret"
    assert m.spans(data) == [(19, 30, None)]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _windows_sub(
    text: str, patterns: list[tuple[str, bool]], fragment: int, replacement: str
) -> str:
    """The reference for windows and case folding: every window of ``fragment``
    characters of a longer pattern, and every shorter pattern whole, found by
    ``str.find`` (on ASCII-lowered text for caseless patterns)."""
    literals: list[tuple[str, bool]] = []
    for pattern, caseless in patterns:
        if fragment and len(pattern) > fragment:
            pieces = {pattern[i : i + fragment] for i in range(len(pattern) - fragment + 1)}
        else:
            pieces = {pattern}
        literals.extend((piece, caseless) for piece in pieces)
    covered = [False] * len(text)
    lowered = text.translate(_ASCII_LOWER)
    for piece, caseless in literals:
        haystack, needle = (lowered, piece.translate(_ASCII_LOWER)) if caseless else (text, piece)
        start = haystack.find(needle)
        while start != -1:
            for i in range(start, start + len(needle)):
                covered[i] = True
            start = haystack.find(needle, start + 1)
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(replacement)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


WINDOW_ALPHABET = st.sampled_from(list("abAB-é€\x00"))


@settings(max_examples=300, deadline=None)
@given(
    patterns=st.lists(
        st.tuples(st.text(WINDOW_ALPHABET, min_size=1, max_size=30), st.booleans()),
        min_size=1,
        max_size=4,
    ),
    fragment=st.sampled_from([0, 8, 10]),
    data=st.data(),
)
def test_windows_and_case_folding_match_the_reference(
    patterns: list[tuple[str, bool]], fragment: int, data: st.DataObject
) -> None:
    def slices(pattern: str) -> st.SearchStrategy[str]:
        return st.tuples(
            st.integers(0, len(pattern)), st.integers(0, len(pattern)), st.booleans()
        ).map(lambda t: pattern[t[0] : t[1]].upper() if t[2] else pattern[t[0] : t[1]])

    # texts made of slices of the patterns (some upper-cased) and noise
    pieces = st.one_of(*(slices(p) for p, _ in patterns), st.text(WINDOW_ALPHABET, max_size=3))
    text = "".join(data.draw(st.lists(pieces, max_size=6)))
    expected = _windows_sub(text, patterns, fragment, "<>")
    for backend in BACKENDS:
        matcher = Matcher(
            [(p, None, c) for p, c in patterns],
            backend=backend,  # type: ignore[arg-type]
            fragment_length=fragment,
        )
        assert matcher.sub(text, "<>") == expected, backend
        assert matcher.sub_bytes(text.encode("utf-8", "surrogatepass"), b"<>") == expected.encode(
            "utf-8", "surrogatepass"
        ), backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pattern_longer_than_any_literal_limit_is_matched_whole(backend: str) -> None:
    value = "".join(chr(0x41 + (i * 7919) % 26) + str(i % 10) for i in range(20_000))
    m = Matcher([(value, "BIG")], backend=backend)  # type: ignore[arg-type]
    assert m.sub(f"<{value}>", "*") == "<*>"
    assert m.sub(f"<{value[:-1]}>", "*") == f"<{value[:-1]}>"


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_pattern_windows_at_the_edges_and_long_slices_in_the_middle(
    backend: str, periodic: bool
) -> None:
    from nbcreds.masking._matcher import HUGE_EDGE, HUGE_PATTERN

    rng = __import__("random").Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789+/"
    if periodic:  # a repeated unit with a random tail: every position is an anchor hit
        unit = "".join(rng.choices(alphabet, k=64))
        value = (unit * (HUGE_PATTERN * 3 // 64))[:-16] + "".join(rng.choices(alphabet, k=16))
    else:
        value = "".join(rng.choices(alphabet, k=HUGE_PATTERN * 3))
    m = Matcher([(value, None)], backend=backend, fragment_length=16)  # type: ignore[arg-type]
    assert m.sub(f"[{value}]", "*") == "[*]"
    for start in (0, 5, HUGE_EDGE - 40, len(value) - HUGE_EDGE + 3, len(value) - 16):
        piece = value[start : start + 16]
        assert m.sub(f"[{piece}]", "*") == "[*]", start
    middle = len(value) // 2
    long_slice = value[middle : middle + 4096]
    assert m.sub(f"[{long_slice}]", "*") == "[*]"


@settings(max_examples=150, deadline=None)
@given(
    periods=st.lists(
        st.tuples(st.text(WINDOW_ALPHABET, min_size=1, max_size=5), st.integers(3, 60)),
        min_size=1,
        max_size=3,
    ),
    caseless=st.booleans(),
    fragment=st.sampled_from([8, 16]),
    chunk=st.sampled_from([8, 64, 1 << 16]),
    data=st.data(),
)
def test_periodic_values_in_chunked_texts_match_the_reference(
    periods: list[tuple[str, int]], caseless: bool, fragment: int, chunk: int, data: st.DataObject
) -> None:
    """Periodic values (every position an anchor hit: the run skipping and the
    extension along an alignment) in texts scanned in small chunks (the jump over
    covered runs) are masked exactly like the reference."""
    from unittest import mock

    from nbcreds.masking import _matcher

    patterns = [(unit * repeat, caseless) for unit, repeat in periods]

    def slices(pattern: str) -> st.SearchStrategy[str]:
        return st.tuples(st.integers(0, len(pattern)), st.integers(0, len(pattern))).map(
            lambda t: pattern[t[0] : t[1]]
        )

    pieces = st.one_of(*(slices(p) for p, _ in patterns), st.text(WINDOW_ALPHABET, max_size=3))
    text = "".join(data.draw(st.lists(pieces, max_size=8)))
    expected = _windows_sub(text, patterns, fragment, "<>")
    with mock.patch.object(_matcher, "_CHUNK", chunk):
        for backend in BACKENDS:
            matcher = Matcher(
                [(p, None, c) for p, c in patterns],
                backend=backend,  # type: ignore[arg-type]
                fragment_length=fragment,
            )
            assert matcher.sub(text, "<>") == expected, backend
            assert matcher.search(text) == (expected != text), backend

"""Scale: tiers (a new value does not recompile the others) and values up to 10 MB."""

from __future__ import annotations

import itertools
import json
import random
import string
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbcreds
from nbcreds._session import session
from nbcreds.masking import MaskingSettings, _engine, configure, masked, registry


@pytest.fixture(autouse=True, params=nbcreds.masking.available_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    # load the (empty) config now: a lazy load later would push the default
    # [masking] settings over those a test configures
    session().config  # noqa: B018
    _engine._reset_for_tests()
    _engine.force_backend(request.param)
    yield request.param
    _engine.force_backend(None)
    _engine._reset_for_tests()


def _values(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(string.ascii_letters + string.digits, k=24)) for _ in range(count)]


def test_a_new_value_gets_its_own_tier_and_old_tiers_are_kept() -> None:
    values = _values(40)
    for value in values[:32]:
        registry.register(value)
    base = _engine.compiled()
    assert len(base.tiers) == 1
    registry.register(values[32])
    state = _engine.compiled()
    assert len(state.tiers) == 2
    assert state.tiers[0] is base.tiers[0]  # not recompiled
    assert list(state.tiers[1].values) == [values[32]]
    # values in the base tier and in the new one are both masked, in one text too
    assert masked(f"{values[0]} {values[32]}") == "**** ****"
    assert masked(f"{values[0]}{values[32]}") == "****"


def test_tiers_stay_few_and_merge_geometrically() -> None:
    values = _values(150)
    for value in values:
        registry.register(value)
        masked("x" * 30)  # an output after each registration
    state = _engine.compiled()
    sizes = [len(t.values) for t in state.tiers]
    assert sum(sizes) == 150
    assert len(sizes) <= _engine.MAX_TIERS
    assert all(newer * _engine.MERGE_RATIO < older for older, newer in itertools.pairwise(sizes))
    text = " ".join(values)
    assert masked(text) == " ".join(["****"] * 150)


def test_unregister_works_in_every_tier() -> None:
    values = _values(20)
    for value in values[:16]:
        registry.register(value)
    masked("x")
    for value in values[16:]:
        registry.register(value)
        masked("x")
    state = _engine.compiled()
    assert len(state.tiers) >= 2
    in_base, in_newest = values[3], next(iter(state.tiers[-1].values))
    assert registry.unregister(in_base)
    assert registry.unregister(in_newest)
    after = _engine.compiled()
    assert masked(in_base) == in_base
    assert masked(in_newest) == in_newest
    for value in values:
        if value not in (in_base, in_newest):
            assert masked(value) == "****"
    # re-registering a removed value masks it again
    registry.register(in_base)
    assert masked(in_base) == "****"
    assert after is not _engine.compiled()


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.booleans(), st.integers(0, 11), st.sampled_from(["A", "B", None])),
        max_size=25,
    )
)
def test_tiered_state_masks_like_a_fresh_build(ops: list[tuple[bool, int, str | None]]) -> None:
    pool = _values(12, seed=7)
    registry.clear()
    configure(MaskingSettings(label=True))
    try:
        for add, index, label in ops:
            if add:
                registry.register(pool[index], label)
            else:
                registry.unregister(pool[index])
            _engine.compiled()
        state = _engine.compiled()
        fresh = _engine._build(state.version, registry.values(), state.settings)
        text = " | ".join(pool) + " " + "".join(pool[::-1]) + " " + pool[0][3:22]
        assert state.sub(text) == fresh.sub(text)
        assert state.values == registry.values()
    finally:
        configure(MaskingSettings())


def _big_value(size: int) -> str:
    rng = random.Random(size)
    line = string.ascii_letters + string.digits + "+/"
    body = "".join(rng.choices(line, k=size))
    # a certificate chain's shape: base64 lines of 64
    return "\n".join(body[i : i + 64] for i in range(0, size, 64))


@pytest.mark.parametrize(("fragment_length", "size"), [(16, 10_000_000), (0, 1_000_000)])
def test_a_10_mb_value_registers_and_masks(fragment_length: int, size: int) -> None:
    configure(MaskingSettings(fragment_length=fragment_length))
    try:
        value = _big_value(size)
        registry.register(value, "CHAIN")
        assert masked(f"<{value}>") == "<****>"
        assert masked(json.dumps({"v": value})) == '{"v": "****"}'
        if fragment_length:
            head, tail = value[:25], value[-25:]
            assert masked(f"{head}...{tail}") == "****...****"
            middle = value[5_000_000 : 5_000_000 + 20_000]
            assert masked(f"[{middle}]") == "[****]"
        assert masked("nothing to see") == "nothing to see"
    finally:
        configure(MaskingSettings())


def test_a_value_longer_than_a_hyperscan_literal_with_fragments_off() -> None:
    configure(MaskingSettings(fragment_length=0))
    try:
        value = _big_value(13_000)  # today's hyperscan.error
        nbcreds.mask(value)
        assert masked(f"a {value} b") == "a **** b"
        # its lines are masked whole too; with fragments off a piece of a line is not
        assert masked(value[:150]) == "****\n****\n" + value[130:150]
        assert masked("unrelated text, 0123456789") == "unrelated text, 0123456789"
    finally:
        configure(MaskingSettings())

"""The one session object: config, sources, namespace selection, generation."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

import nbcreds as nc
from nbcreds._session import session
from nbcreds.masking import current_settings, masked


def test_every_change_bumps_the_generation(write_config: Any) -> None:
    state = session()
    before = state.generation
    nc.use_namespace("a.b")
    after_ns = state.generation
    write_config('namespace = "x"\n')
    after_load = state.generation
    assert before < after_ns < after_load
    nc.use_namespace("a.b")  # the same selection again is still a change of state
    assert state.generation > after_load


def test_masking_settings_are_pushed_on_load(write_config: Any) -> None:
    write_config('[masking]\nreplacement = "[gone]"\n')
    assert current_settings().replacement == "[gone]"
    value = "pushed-" + secrets.token_hex(8)
    nc.mask(value)
    assert masked(f"x {value} y") == "x [gone] y"
    write_config("")
    assert current_settings().replacement == "****"
    assert masked(f"x {value} y") == "x **** y"


def test_the_first_registered_value_loads_the_settings(isolated_nbcreds: Path) -> None:
    """A notebook that only calls nc.mask() still gets its [masking] settings."""
    (isolated_nbcreds / "nbcreds.toml").write_text('[masking]\nreplacement = "<hidden>"\n')
    value = "first-" + secrets.token_hex(8)
    nc.mask(value)
    assert masked(value) == "<hidden>"


def test_sources_are_built_once_per_config(write_config: Any) -> None:
    write_config("")
    env = session().source("env")
    assert session().source("env") is env
    assert [s.name for s in session().sources()] == ["session", "env"]
    write_config('[sources.env]\nprefix = "MY_"\n')
    assert session().source("env") is not env
    # the session source survives reloads (its secrets are kept)
    store = session().source("session")
    write_config("")
    assert session().source("session") is store


def test_bind_secret_with_any_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "bound-" + secrets.token_hex(8)
    monkeypatch.setenv("SOME_VAR", value)
    assert nc.bind_secret("A", ref="env:SOME_VAR") == "A bound to env:SOME_VAR at tenant"
    assert nc.secret("A").reveal() == value
    nc.bind_secret("B", ref="secret:A")
    assert nc.secret("B").reveal() == value
    with pytest.raises(nc.SecretError, match="not a reference"):
        nc.bind_secret("C", ref="nosuch:x")
    with pytest.raises(nc.SecretError, match="exactly one of"):
        nc.bind_secret("C", "v", ref="env:X")

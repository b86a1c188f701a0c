"""The guard's decisions without a server: config lookup, [guard] validation, what
each mode does to a notebook model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nbcreds
from nbcreds import ConfigError
from nbcreds.guard import Guard, GuardSettings, parse_guard
from nbcreds.testing.leaks import assert_no_leak

from .conftest import github_token, notebook, printed


def _model(nb: dict[str, Any]) -> dict[str, Any]:
    return {"type": "notebook", "format": "json", "content": nb}


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[guard]\nmod = "scrub"\n', "mod", "unknown key (did you mean 'mode'?)"),
        ('[guard]\nmode = "scrubb"\n', "mode", "must be one of"),
        ("[guard]\nmode = 1\n", "mode", "must be a string"),
        ('[guard]\nresolve = "yes"\n', "resolve", "true or false"),
    ],
)
def test_bad_guard_tables_fail_at_load_naming_file_table_and_key(
    isolated_nbcreds: Path, text: str, key: str, words: str
) -> None:
    import tomllib

    path = isolated_nbcreds / "nbcreds.toml"
    path.write_text(text)
    # at load, in any process (a kernel too), and again when the guard parses the table
    with pytest.raises(ConfigError) as at_load:
        nbcreds.load_config(path)
    with pytest.raises(ConfigError) as parsed:
        parse_guard(tomllib.loads(text)["guard"], str(path))
    for err in (at_load, parsed):
        message = str(err.value)
        assert str(path) in message
        assert "[guard]" in message
        assert f"key '{key}'" in message
        assert words in message
        assert "scrubb" not in message  # the bad value is not repeated
        assert "yes" not in message


def test_a_good_guard_table_loads(isolated_nbcreds: Path) -> None:
    path = isolated_nbcreds / "nbcreds.toml"
    path.write_text('[guard]\nmode = "block"\nresolve = true\n')
    config = nbcreds.load_config(path)
    assert parse_guard(config.data["guard"], config.where) == GuardSettings("block", True)


def test_defaults() -> None:
    assert parse_guard(None, "x") == GuardSettings("scrub", False)
    assert parse_guard({"mode": "block", "resolve": True}, "x") == GuardSettings("block", True)


def test_config_found_like_the_kernel(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = isolated_nbcreds / "project" / "notebooks"
    root.mkdir(parents=True)
    guard = Guard(root)
    assert guard.refresh() == GuardSettings()  # none anywhere: defaults
    # a parent of the root
    (isolated_nbcreds / "project" / "nbcreds.toml").write_text('[guard]\nmode = "warn"\n')
    assert guard.refresh().mode == "warn"
    # the root itself wins over its parents
    (root / "nbcreds.toml").write_text('[guard]\nmode = "block"\n')
    assert guard.refresh().mode == "block"
    # $NBCREDS_CONFIG wins over both
    other = isolated_nbcreds / "elsewhere.toml"
    other.write_text('[guard]\nmode = "off"\n')
    monkeypatch.setenv("NBCREDS_CONFIG", str(other))
    assert guard.refresh().mode == "off"
    monkeypatch.delenv("NBCREDS_CONFIG")
    # the user config dir, when nothing is found above the root
    (root / "nbcreds.toml").unlink()
    (isolated_nbcreds / "project" / "nbcreds.toml").unlink()
    import platformdirs

    user = Path(platformdirs.user_config_dir("nbcreds"))
    user.mkdir(parents=True)
    (user / "nbcreds.toml").write_text('[guard]\nmode = "warn"\n')
    assert guard.refresh().mode == "warn"


def test_scrub_touches_outputs_metadata_and_widget_state_never_sources(
    isolated_nbcreds: Path,
) -> None:
    t1, t2, t3, t4 = (github_token() for _ in range(4))
    nb = notebook(printed(f"t = '{t1}'", f"{t2}\n"))
    nb["metadata"]["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {"m": {"v": t3}}}
    }
    nb["cells"][0]["metadata"]["note"] = t4
    model = _model(nb)
    report = Guard(isolated_nbcreds).check_model(model, "nb.ipynb")
    parts = {(f.part, f.action) for f in report.findings}
    assert parts == {
        ("source", "kept"),
        ("output", "masked"),
        ("widget state", "masked"),
        ("metadata", "masked"),
    }
    text = str(model["content"])
    assert t1 in text
    assert_no_leak(text.replace(t1, ""), [t2, t3, t4])
    assert report.action == "masked"


def test_block_refusal_message(isolated_nbcreds: Path) -> None:
    (isolated_nbcreds / "nbcreds.toml").write_text('[guard]\nmode = "block"\n')
    token = github_token()
    model = _model(notebook(printed("x", "clean\n"), printed("y", f"100% {token}\n")))
    report = Guard(isolated_nbcreds).check_model(model, "dir/nb.ipynb")
    assert report.action == "refused"
    message = report.refusal()
    assert message.startswith("nbcreds refused to save dir/nb.ipynb")
    assert "cell 2:output 1 (stream stdout): GitHub token [github-token]" in message
    assert "%" not in message
    assert token in str(model["content"])  # nothing changed: the server writes nothing
    assert_no_leak(message, [token])


def test_base64_text_files_are_read(isolated_nbcreds: Path) -> None:
    import base64

    token = github_token()
    model = {
        "type": "file",
        "format": "base64",
        "content": base64.b64encode(f"token={token}\n".encode()).decode(),
    }
    report = Guard(isolated_nbcreds).check_model(model, "x.env")
    assert [(f.part, f.action, f.rule) for f in report.findings] == [
        ("file", "kept", "github-token")
    ]
    image = {
        "type": "file",
        "format": "base64",
        "content": base64.b64encode(b"\x89PNG\xff").decode(),
    }
    assert Guard(isolated_nbcreds).check_model(image, "x.png").findings == []


def test_references_are_not_secrets(isolated_nbcreds: Path) -> None:
    """What the papermill engine injects, and references in code, are not findings."""
    from nbcreds.guard._params import reference_lines

    source = "\n".join(reference_lines({"token": "secret:API_TOKEN", "pw": "vault:db/prod#pw"}))
    source += "\nnc.bind_secret('X', env='MY_VAR')  # secret:OTHER_NAME"
    nb = notebook(printed(source, "ok\n"))
    assert Guard(isolated_nbcreds).check_model(_model(nb), "nb.ipynb").findings == []


def test_parameter_references_resolve_to_registered_secrets(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from nbcreds.guard import parameter
    from nbcreds.masking import registry

    monkeypatch.setenv("RAW_PARAM_VALUE", "raw-param-value-123")
    monkeypatch.setenv("SECRET_API_TOKEN", base64.b64encode(b"api-token-value-456").decode())
    from_env = parameter("tok", "env:RAW_PARAM_VALUE")
    from_secret = parameter("api", "secret:API_TOKEN")
    assert isinstance(from_env, nbcreds.Secret)
    assert isinstance(from_secret, nbcreds.Secret)
    assert from_env.reveal() == "raw-param-value-123"
    assert from_secret.reveal() == "api-token-value-456"
    assert {"raw-param-value-123", "api-token-value-456"} <= set(registry.values())
    with pytest.raises(nbcreds.NbcredsError, match="parameter x"):
        parameter("x", "not-a-reference")

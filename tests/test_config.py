from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

import nbcreds
from nbcreds.config import find_config, is_reference, load_config, parse_reference
from nbcreds.testing.leaks import assert_no_leak


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_no_config_means_embedded_defaults(isolated_nbcreds: Path) -> None:
    config = load_config()
    assert config.path is None
    assert config.source_order() == ["session", "env"]


def test_found_in_working_directory_upwards(isolated_nbcreds: Path) -> None:
    top = _write(isolated_nbcreds / "nbcreds.toml", 'namespace = "a"\n')
    deep = isolated_nbcreds / "x" / "y"
    deep.mkdir(parents=True)
    assert find_config(deep) == top


def test_env_var_wins(isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(isolated_nbcreds / "nbcreds.toml", 'namespace = "a"\n')
    other = _write(isolated_nbcreds / "other.toml", 'namespace = "b"\n')
    monkeypatch.setenv("NBCREDS_CONFIG", str(other))
    assert find_config() == other
    assert nbcreds.current_namespace() == "b"


def test_env_var_to_missing_file_is_an_error(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBCREDS_CONFIG", str(isolated_nbcreds / "missing.toml"))
    with pytest.raises(nbcreds.ConfigError, match=r"missing\.toml"):
        find_config()


def test_user_config_dir(isolated_nbcreds: Path) -> None:
    import platformdirs

    user = Path(platformdirs.user_config_dir("nbcreds"))
    user.mkdir(parents=True)
    path = _write(user / "nbcreds.toml", 'namespace = "from.user"\n')
    assert find_config() == path


def test_invalid_toml_names_the_file(isolated_nbcreds: Path) -> None:
    path = _write(isolated_nbcreds / "nbcreds.toml", "namespace = \n")
    with pytest.raises(nbcreds.ConfigError, match="invalid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "table", "key"),
    [
        ("bogus = 1\n", "top-level table", "bogus"),
        ('namespace = "Bad"\n', "top-level table", "namespace"),
        ('[namespaces."Bad.NS"]\n', "table [namespaces]", "Bad.NS"),
        ('[namespaces."a"]\nfoo = 1\n', 'table [namespaces."a"]', "foo"),
        ('[secrets]\nDB = "plain"\n', "table [secrets]", "DB"),
        ('[namespaces."a".secrets]\nDB = "http://x"\n', 'table [namespaces."a".secrets]', "DB"),
        ('[credentials.x]\ntoken_endpoint = "http://h/t"\n', "table [credentials.x]", "type"),
        ('[sources]\norder = ["env", "carrier-pigeon"]\n', "table [sources]", "order"),
        # the typos: each one fails at load, naming file, table and key
        ("tenant = 5\n", "top-level table", "tenant"),
        ('[sources.env]\nraw = "yes"\n', "table [sources.env]", "raw"),
        ('[sources]\nordr = ["env"]\n', "table [sources]", "ordr"),
        ('[sources.env]\nprefx = "X_"\n', "table [sources.env]", "prefx"),
        ("[sources.env]\nprefix = 5\n", "table [sources.env]", "prefix"),
        ('[kv]\nbackend = "sqlite"\npaht = "kv.db"\n', "table [kv]", "paht"),
        ("[masking]\nmin_lenght = 4\n", "table [masking]", "min_lenght"),
        ('[masking]\nlabel = "yes"\n', "table [masking]", "label"),
        ("[sources.carrier-pigeon]\nspeed = 1\n", "table [sources]", "carrier-pigeon"),
        ('[sources]\norder = ["session", "vault"]\n', "table [sources]", "order"),
        ("[kvv]\nbackend = 1\n", "top-level table", "kvv"),
        ('[credentials.x]\ntype = "oauth3"\n', "table [credentials.x]", "type"),
        (
            '[credentials.x]\ntype = "oauth2_client_credentials"\ntoken_endpoint = "https://h/t"\n'
            'client_id = "c"\nclient_secret = "secret:S"\nscope = "a"\n',
            "table [credentials.x]",
            "scope",
        ),
    ],
)
def test_config_errors_name_file_table_and_key(
    isolated_nbcreds: Path, text: str, table: str, key: str
) -> None:
    path = _write(isolated_nbcreds / "nbcreds.toml", text)
    with pytest.raises((nbcreds.ConfigError, nbcreds.CredentialConfigError)) as info:
        nbcreds.load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert info.value.key == key
    if isinstance(info.value, nbcreds.ConfigError):
        assert table in message
        assert f"key '{key}'" in message
    else:  # a credential definition: named by its table, level and key
        assert f"table [{info.value.table}]" == table
        assert f"key '{key}'" in message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('[sources]\nordr = ["env"]\n', "did you mean 'order'?"),
        ('[sources.env]\nprefx = "X_"\n', "did you mean 'prefix'?"),
        ("[masking]\nmin_lenght = 4\n", "did you mean 'min_length'?"),
        ("[kv]\nbakend = 'sqlite'\n", "did you mean 'backend'?"),
        ('[sources]\norder = ["sesion"]\n', "did you mean 'session'?"),
        ('[credentials.x]\ntype = "github_ap"\n', "did you mean 'github_app'?"),
        ("namespce = 'a'\n", "did you mean 'namespace'?"),
    ],
)
def test_typos_say_did_you_mean(isolated_nbcreds: Path, text: str, hint: str) -> None:
    path = _write(isolated_nbcreds / "nbcreds.toml", text)
    with pytest.raises((nbcreds.ConfigError, nbcreds.CredentialConfigError)) as info:
        nbcreds.load_config(path)
    assert hint in str(info.value)


def test_a_bad_file_leaves_the_loaded_one_in_force(isolated_nbcreds: Path) -> None:
    good = _write(isolated_nbcreds / "nbcreds.toml", 'namespace = "a"\n')
    nbcreds.load_config(good)
    bad = _write(isolated_nbcreds / "bad.toml", "tenant = 5\n")
    with pytest.raises(nbcreds.ConfigError):
        nbcreds.load_config(bad)
    assert nbcreds.current_namespace() == "a"


@pytest.mark.parametrize(
    ("table", "key", "literal"),
    [
        ("credentials.gh", "client_secret", "{value}"),
        ("sources.vault", "token", "{value}"),
        ("kv", "url", "postgresql://user:{value}@db.example:5432/kv"),
        ("credentials.gh", "description", "ghp_{value}"),
        ("credentials.gh", "note", "-----BEGIN RSA PRIVATE KEY-----"),
    ],
)
def test_literal_secrets_are_rejected_without_echoing_them(
    isolated_nbcreds: Path, table: str, key: str, literal: str
) -> None:
    value = secrets.token_hex(16)
    text = literal.format(value=value)
    extra = 'type = "oauth2_client_credentials"\n' if table.startswith("credentials") else ""
    path = _write(isolated_nbcreds / "nbcreds.toml", f'[{table}]\n{extra}{key} = "{text}"\n')
    with pytest.raises(nbcreds.ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"table [{table}]" in message
    assert f"key '{key}'" in message
    assert "reference" in message
    assert_no_leak(message, [value])


def test_references_are_accepted(isolated_nbcreds: Path) -> None:
    path = _write(
        isolated_nbcreds / "nbcreds.toml",
        """
[sources.vault]
url = "http://127.0.0.1:8200"
token = "env:VAULT_TOKEN"
[secrets]
A = "env:A_VAR"
B = "vault:app/db#password"
[namespaces."x.y".secrets]
C = "secret:A"
[credentials.gh]
type = "github_app"
app_id = 1
installation_id = 2
private_key = "secret:GH_KEY"
""",
    )
    config = load_config(path)
    assert config.secrets_at(None) == {"A": "env:A_VAR", "B": "vault:app/db#password"}
    assert config.secrets_at("x.y") == {"C": "secret:A"}
    assert set(config.credentials_at(None)) == {"gh"}
    assert config.source_order() == ["session", "env", "vault"]


def test_reference_parsing() -> None:
    ref = parse_reference("vault:app/db#password")
    assert (ref.scheme, ref.target, ref.field) == ("vault", "app/db", "password")
    assert str(ref) == "vault:app/db#password"
    assert is_reference("env:X")
    assert not is_reference("https://x")
    assert not is_reference("plain")
    with pytest.raises(ValueError, match="not a reference"):
        parse_reference("nope")


def test_secret_ref_through_env_base64(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    value = secrets.token_urlsafe(18)
    monkeypatch.setenv("SECRET_BASE", base64.b64encode(value.encode()).decode())
    write_config('[namespaces."a".secrets]\nALIAS = "secret:BASE"\n')
    assert nbcreds.secret("ALIAS", namespace="a.b").reveal() == value


def test_secret_reference_cycle_is_reported(write_config) -> None:  # type: ignore[no-untyped-def]
    write_config('[secrets]\nA = "secret:B"\nB = "secret:A"\n')
    with pytest.raises(nbcreds.ConfigError, match="cycle"):
        nbcreds.secret("A")

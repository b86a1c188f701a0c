"""``nbcreds doctor`` against a running OpenBao, a sealed and a stopped one, broken config,
an unreachable PostgreSQL KV, and Jupyter configs that disable the extensions."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from nbcreds import _doctor
from nbcreds._doctor import Check
from nbcreds.masking import registry
from nbcreds.secrets import SecretSource, SourceHealth
from nbcreds.testing._net import free_port
from nbcreds.testing.leaks import assert_no_leak
from nbcreds.testing.openbao import OpenBaoLab, OpenBaoServer

BIN = Path(sys.executable).parent


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``nbcreds doctor --format json`` in-process: (exit code, report)."""
    from nbcreds.cli import main

    code = main(["doctor", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def check(report: dict[str, Any], section: str, name: str = "") -> dict[str, Any]:
    found = [c for c in report["checks"] if c["section"] == section and c["name"] == name]
    assert len(found) == 1, [(c["section"], c["name"]) for c in report["checks"]]
    return found[0]


def vault_config(work: Path, url: str, extra: str = "") -> Path:
    path = work / "nbcreds.toml"
    path.write_text(
        f"""
namespace = "company.team"

[sources]
order = ["session", "env", "vault"]

[sources.vault]
url = "{url}"
auth = "token"
token = "env:DOCTOR_VAULT_TOKEN"
{extra}
"""
    )
    return path


def test_embedded_defaults(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_ONE", "b25l")
    code, report = doctor(capsys)
    config = check(report, "config")
    assert config["status"] == "info"
    assert config["data"]["path"] is None
    assert "embedded defaults" in config["detail"]
    assert check(report, "namespace")["data"] == {"namespace": None, "tenant": "main"}
    assert [c["name"] for c in report["checks"] if c["section"] == "source"] == ["session", "env"]
    env = check(report, "source", "env")
    assert env["status"] == "ok"
    assert "1 SECRET_* variable" in env["detail"]
    kv = check(report, "kv", "sqlite")
    assert kv["status"] == "ok"
    db = Path(kv["data"]["location"])
    assert db.is_relative_to(Path(os.environ["XDG_DATA_HOME"]))
    assert "created on first use" in kv["detail"]
    assert not db.exists()  # the doctor looks, it does not create
    masking = check(report, "masking")
    assert masking["status"] == "ok"
    assert masking["detail"].startswith("Hyperscan")  # scripts/test installs it (x86-64 Linux)
    lab = check(report, "extension", "lab")
    assert lab["status"] == "ok"
    assert lab["data"]["version"] == version("nbcreds")
    assert code == 0, [c for c in report["checks"] if c["status"] == "error"]
    assert report["nbcreds"] == version("nbcreds")


def test_running_openbao(
    isolated_nbcreds: Path,
    openbao_lab: OpenBaoLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCTOR_VAULT_TOKEN", openbao_lab.reader_token)
    path = vault_config(isolated_nbcreds, openbao_lab.url)
    code, report = doctor(capsys)
    assert check(report, "config")["data"]["path"] == str(path)
    assert check(report, "namespace")["data"]["namespace"] == "company.team"
    vault = check(report, "source", "vault")
    assert vault["status"] == "ok", vault
    assert "is up and unsealed; token auth ok" in vault["detail"]
    assert "nbcreds-read" in vault["detail"]
    assert openbao_lab.url in vault["data"]["describe"]
    assert [c["name"] for c in report["checks"] if c["section"] == "source"] == [
        "session",
        "env",
        "vault",
    ]
    assert code == 0, [c for c in report["checks"] if c["status"] == "error"]
    # the token was looked up and registered, and never printed
    assert openbao_lab.reader_token in registry
    assert_no_leak(json.dumps(report), openbao_lab.sensitive())


def test_running_openbao_text_is_one_screen(
    isolated_nbcreds: Path,
    openbao_lab: OpenBaoLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nbcreds.cli import main

    monkeypatch.setenv("DOCTOR_VAULT_TOKEN", openbao_lab.reader_token)
    vault_config(isolated_nbcreds, openbao_lab.url)
    main(["doctor"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"nbcreds {version('nbcreds')} doctor")
    assert len(lines) <= 24
    assert any(line.split()[:3] == ["ok", "source", "vault"] for line in lines), out
    assert_no_leak(out, openbao_lab.sensitive())


def test_refused_token(
    isolated_nbcreds: Path,
    openbao_lab: OpenBaoLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "s." + secrets.token_urlsafe(18)
    registry.register(wrong, "wrong token")
    monkeypatch.setenv("DOCTOR_VAULT_TOKEN", wrong)
    path = vault_config(isolated_nbcreds, openbao_lab.url)
    code, report = doctor(capsys)
    vault = check(report, "source", "vault")
    assert vault["status"] == "error"
    assert "is up and unsealed; token auth failed" in vault["detail"]
    assert "403" in vault["detail"]
    assert vault["hint"] == f"check [sources.vault] auth and token in {path}"
    assert code == 1
    assert report["ok"] is False
    assert_no_leak(json.dumps(report), [wrong, *openbao_lab.sensitive()])


def test_approle_login(
    isolated_nbcreds: Path,
    openbao_lab: OpenBaoLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCTOR_ROLE_ID", openbao_lab.role_id)
    monkeypatch.setenv("DOCTOR_SECRET_ID", openbao_lab.secret_id)
    (isolated_nbcreds / "nbcreds.toml").write_text(
        f"""
[sources.vault]
url = "{openbao_lab.url}"
auth = "approle"
role_id = "env:DOCTOR_ROLE_ID"
secret_id = "env:DOCTOR_SECRET_ID"
"""
    )
    _, report = doctor(capsys)
    vault = check(report, "source", "vault")
    assert vault["status"] == "ok", vault
    assert "approle auth ok" in vault["detail"]
    assert_no_leak(json.dumps(report), openbao_lab.sensitive())


def test_sealed_then_stopped_openbao(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a server of this test's own: it is sealed and stopped (the session's lab stays up)
    with OpenBaoServer() as server:
        monkeypatch.setenv("DOCTOR_VAULT_TOKEN", server.root_token)
        registry.register(server.root_token, "root")
        vault_config(isolated_nbcreds, server.url)
        code, report = doctor(capsys)
        assert check(report, "source", "vault")["status"] == "ok"

        server.seal()
        code, report = doctor(capsys)
        vault = check(report, "source", "vault")
        assert vault["status"] == "error"
        assert vault["detail"].endswith(f"at {server.url} is up but sealed")
        assert "operator unseal" in vault["hint"]
        assert code == 1

        server.stop()
        code, report = doctor(capsys)
        vault = check(report, "source", "vault")
        assert vault["status"] == "error"
        assert f"cannot reach Vault at {server.url}: is it running?" in vault["detail"]
        assert vault["hint"].startswith("start the server, or fix [sources.vault] url")
        assert code == 1
        # the other checks still ran
        assert check(report, "kv", "sqlite")["status"] == "ok"
        assert_no_leak(json.dumps(report), [server.root_token])


def test_broken_config_names_file_table_and_key(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nbcreds.cli import main

    path = isolated_nbcreds / "nbcreds.toml"
    path.write_text('[sources]\norder = ["session", "vualt"]\n')
    code, report = doctor(capsys)
    config = check(report, "config")
    assert config["status"] == "error"
    assert config["data"] == {"path": str(path), "table": "sources", "key": "order"}
    assert "the secret source 'vualt' (did you mean 'vault'?)" in config["detail"]
    assert code == 1
    # nothing that needs the config ran; the rest did
    assert {c["section"] for c in report["checks"]} == {"config", "masking", "extension"}

    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"file {path}, table [sources], key 'order'" in out
    assert "-> fix that key in that file" in out
    assert "1 problem(s): config." in out


def test_config_with_a_literal_secret(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    literal = "hvs." + secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    (isolated_nbcreds / "nbcreds.toml").write_text(
        f'[sources.vault]\nurl = "http://127.0.0.1:1"\ntoken = "{literal}"\n'
    )
    code, report = doctor(capsys)
    config = check(report, "config")
    assert config["data"]["table"] == "sources.vault"
    assert config["data"]["key"] == "token"
    assert code == 1
    assert_no_leak(json.dumps(report), [literal])


def test_postgres_kv_shows_host_never_password(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = secrets.token_urlsafe(12)
    port = free_port()  # nothing listens there: the doctor says it cannot connect
    monkeypatch.setenv("DOCTOR_KV_URL", f"postgresql://etl:{password}@127.0.0.1:{port}/state")
    (isolated_nbcreds / "nbcreds.toml").write_text(
        '[kv]\nbackend = "postgres"\nurl = "env:DOCTOR_KV_URL"\nconnect_timeout = 2\n'
    )
    code, report = doctor(capsys)
    kv = check(report, "kv", "postgres")
    assert kv["data"] == {"backend": "postgres", "location": f"127.0.0.1:{port}/state"}
    assert kv["status"] == "error"
    assert f"Cannot connect to the PostgreSQL KV store at 127.0.0.1:{port}/state" in kv["detail"]
    assert "[kv]" in kv["hint"]
    assert code == 1
    assert_no_leak(json.dumps(report), [password])


def jupyter_config_dir(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """A Jupyter config dir of this test's own: the highest-priority config path."""
    path = root / "jupyter-config"
    path.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(path))
    return path


def test_disabled_lab_extension(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = jupyter_config_dir(monkeypatch, isolated_nbcreds)
    (conf / "labconfig").mkdir()
    page = conf / "labconfig" / "page_config.json"
    page.write_text(json.dumps({"disabledExtensions": {"nbcreds": True}}))
    code, report = doctor(capsys)
    lab = check(report, "extension", "lab")
    assert lab["status"] == "error"
    assert lab["detail"].endswith(f"is installed but disabled by {page}")
    assert lab["hint"] == "jupyter labextension enable nbcreds"
    assert code == 1

    page.write_text(json.dumps({"disabledExtensions": {"nbcreds": False}}))
    _, report = doctor(capsys)
    assert check(report, "extension", "lab")["status"] == "ok"


def server_check(name: str) -> Check:
    found: list[Check] = []
    _doctor._check_server_extension(found.append, name)
    (result,) = found
    return result


def test_server_extension_state_follows_jupyter_config(
    isolated_nbcreds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an importable module stands for the extension, so that the test does not depend on
    # which server extensions this environment enables
    name = "json"
    conf = jupyter_config_dir(monkeypatch, isolated_nbcreds)
    result = server_check(name)
    assert result.status == "error"
    assert "not enabled in any Jupyter config path" in result.detail
    assert result.hint == f"jupyter server extension enable {name}"

    (conf / "jupyter_server_config.d").mkdir()
    enable = conf / "jupyter_server_config.d" / "x.json"
    enable.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {name: True}}}))
    result = server_check(name)
    assert result.status == "ok"
    assert result.data["config"] == str(enable)

    # jupyter_server_config.json of the same dir is read after its .d folder: it wins
    disable = conf / "jupyter_server_config.json"
    disable.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {name: False}}}))
    result = server_check(name)
    assert result.status == "error"
    assert f"disabled by {disable}" in result.detail

    result = server_check("no_such_module_for_nbcreds")
    assert result.status == "warn"
    assert "is not part of this nbcreds" in result.detail


def test_cli_json_and_version(isolated_nbcreds: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBCREDS_", "SECRET_"))}
    out = subprocess.run(
        [str(BIN / "nbcreds"), "--version"], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == f"nbcreds {version('nbcreds')}"
    run = subprocess.run(
        [str(BIN / "nbcreds"), "doctor", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=isolated_nbcreds,
        env=env,
        timeout=120,
    )
    report = json.loads(run.stdout)
    assert run.returncode == (0 if report["ok"] else 1), run.stderr
    assert report["nbcreds"] == version("nbcreds")
    sections = [c["section"] for c in report["checks"]]
    assert sections[:2] == ["config", "namespace"]
    assert {"source", "kv", "masking", "extension"} <= set(sections)


class LeakySource(SecretSource):
    """A plugin whose health message quotes a value (fault injection)."""

    name = "leaky"

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, namespace: str | None, name: str) -> str | None:
        return None

    def names(self, namespace: str | None) -> list[str]:
        return []

    def health(self) -> SourceHealth:
        return SourceHealth(ok=False, detail=f"refused {self.value}", hint=self.value)


def test_output_is_masked_even_when_a_source_quotes_a_value(
    isolated_nbcreds: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    value = secrets.token_urlsafe(16)
    registry.register(value, "plugin value")
    monkeypatch.setattr(_doctor, "_built_sources", lambda: [LeakySource(value)])
    code, report = doctor(capsys)
    leaky = check(report, "source", "leaky")
    assert leaky["detail"] == "refused ****"
    assert code == 1
    from nbcreds.cli import main

    main(["doctor"])
    out = capsys.readouterr().out
    assert "XX source leaky" in out
    assert_no_leak(out, [value])

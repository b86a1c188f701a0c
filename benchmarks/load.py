"""Load cost: ``%load_ext nbcreds`` in a process that already has ipykernel imported
(as every kernel has), next to ``import IPython`` measured the same way.

Each sample is a fresh interpreter: the baseline imports ipykernel and creates an
InteractiveShell; one contender then does ``import IPython``-level work
(``import IPython`` in a process where only the stdlib is loaded), the other runs
``%load_ext nbcreds``. Rounds alternate; the best (least disturbed) of each is kept.

    python benchmarks/load.py             # about 30 s
    python benchmarks/load.py --rounds 15
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

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


def sample(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    load: list[float] = []
    ipy: list[float] = []
    for _ in range(args.rounds):
        load.append(sample(LOAD_EXT))
        ipy.append(sample(IMPORT_IPYTHON))
    best_load, best_ipy = min(load), min(ipy)
    print(f"import IPython               {best_ipy * 1000:8.1f} ms (best of {args.rounds})")
    print(f"%load_ext nbcreds (ipykernel) {best_load * 1000:8.1f} ms (best of {args.rounds})")
    print(f"ratio load_ext / import IPython: {best_load / best_ipy:.2f}x (target <= 0.25x)")


if __name__ == "__main__":
    main()

"""Execute a notebook headless in a scratch directory and print its outputs.

The outputs printed are exactly what the kernel sent, i.e. already masked by
nbcreds; the notebook file in the repository is left untouched.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = args.notebook.resolve()
    with tempfile.TemporaryDirectory(prefix="nbcreds-demo-") as scratch:
        work = Path(scratch) / source.name
        shutil.copy(source, work)
        nb = nbformat.read(work, as_version=4)
        from jupyter_client.manager import KernelManager

        # ipc transport: the kernel's sockets are files in the scratch dir, not TCP ports
        manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(scratch) / "k"))
        client = NotebookClient(
            nb,
            km=manager,
            timeout=args.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(source.parent)}},
        )
        print(f"== executing {args.notebook} (headless)", file=sys.stderr)
        failed = False
        try:
            client.execute()
        except CellExecutionError as exc:
            failed = True
            print(f"== a cell failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        for index, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "markdown":
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                print(f"\n## {first.lstrip('# ')}")
                continue
            if cell.cell_type != "code":
                continue
            print(f"\n[{index}] " + "\n    ".join(cell.source.splitlines()))
            for output in cell.get("outputs", []):
                text = _text(output)
                if text:
                    print("  > " + "\n  > ".join(text.rstrip("\n").splitlines()))
        return 1 if failed else 0


def _text(output: dict) -> str:  # type: ignore[type-arg]
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data", {})
    return str(data.get("text/plain", ""))


if __name__ == "__main__":
    sys.exit(main())

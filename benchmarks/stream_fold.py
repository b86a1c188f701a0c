"""Per-message cost of the kernel stream hold-back and its fold carry, side by side.

    python benchmarks/stream_fold.py [--messages 500] [--batches 31]

A stream message goes through :class:`KernelStreamHold` (the hold-back, the
carry of a piece released by time and the *fold carry* that masks a value
printed line by line) and the masked ``Session.send``. Timed alternately in one
run, per backend, with 100 registered values:

* unmasked: ``Session.send`` alone, as ipykernel's ``OutStream`` sends it;
* masked, no fold carry: the hold-back with the fold carry switched off;
* masked: all of it.

for a 1 KB message of whole lines and for a 40-character line (``print`` in a
loop: every message ends in a line break, so the fold carry looks at each
break). CPU time of this process, best of alternating batches; prints
microseconds per message and ratios, no thresholds.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from masking import make_log, make_values, side_by_side
from nbcreds.masking import (
    MaskingSettings,
    _egress,
    _engine,
    _stream,
    available_backends,
    configure,
    registry,
)


class _Stream:
    """What :class:`KernelStreamHold` needs of an ``OutStream`` (no pub thread)."""

    pub_thread = None


def _bodies(values: list[str], rng: random.Random) -> dict[str, str]:
    lines = make_log(4096, values, rng).splitlines()
    body = ""
    while len(body) + len(lines[0]) + 1 <= 1024:
        body += lines.pop(0) + "\n"
    return {
        "1 KB of lines": body.ljust(1023, "-")[:1023] + "\n",
        "40-char line": lines[0][:39] + "\n",
    }


def run(args: argparse.Namespace) -> None:
    import zmq
    from jupyter_client.session import Session

    rng = random.Random(7)
    values = make_values(100, rng)
    bodies = _bodies(values, rng)
    context = zmq.Context.instance()
    socket = context.socket(zmq.PUB)
    socket.bind("inproc://nbcreds-bench-fold")
    session = Session(key=b"benchmark-key", username="bench")
    plain_send = session.send
    masked_send = _egress._wrap_send(plain_send)
    parent = {"msg_id": "m", "msg_type": "execute_request"}
    n = args.messages
    header = (
        f"{'backend':>12} {'message':>14} {'unmasked':>9} {'no fold':>8} {'masked':>8}"
        f" {'fold carry':>11} {'masked/unmasked':>16}"
    )
    print(f"100 registered values, us per message, best of {args.batches} alternating batches")
    print(header)
    print("-" * len(header))
    for backend in available_backends():
        registry.clear()
        _engine.force_backend(backend)
        for value in values:
            registry.register(value)
        _engine.compiled()
        for name, body in bodies.items():

            def unmasked(body: str = body) -> None:
                for _ in range(n):
                    msg = session.msg("stream", {"name": "stdout", "text": body})
                    plain_send(socket, msg, ident=b"stream.stdout")

            def masked_with(fold: bool, body: str = body) -> Callable[[], None]:
                hold = _stream.KernelStreamHold(_Stream())
                if not fold:
                    off: Any = _NoFold()
                    hold._fold = off
                fresh = [(parent, body)]

                def send() -> None:
                    for _ in range(n):
                        for _parent, text in hold._process(fresh):
                            msg = session.msg("stream", {"name": "stdout", "text": text})
                            masked_send(socket, msg, ident=b"stream.stdout")

                return send

            base, no_fold = side_by_side(unmasked, masked_with(False), args.batches)
            no_fold2, full = side_by_side(masked_with(False), masked_with(True), args.batches)
            base2, full2 = side_by_side(unmasked, masked_with(True), args.batches)
            us = 1e6 / n
            print(
                f"{backend:>12} {name:>14} {base * us:>9.1f} {no_fold * us:>8.1f}"
                f" {full * us:>8.1f} {(full - no_fold2) * us:>+10.1f} {full2 / base2:>15.2f}x"
            )
    registry.clear()
    socket.close(linger=0)


class _NoFold:
    """A fold carry that does nothing: the cost of the hold-back without it."""

    def mask_start(self, text: str, state: object) -> str:
        return text

    def went_out(self, sent: str, state: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="messages per timing batch")
    parser.add_argument("--batches", type=int, default=31, help="alternating batches per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty:
        config = Path(empty, "nbcreds.toml")
        config.write_text("")
        os.environ["NBCREDS_CONFIG"] = str(config)
        configure(MaskingSettings())
        try:
            run(args)
        finally:
            _engine.force_backend(None)


if __name__ == "__main__":
    main()

"""Masking throughput, registration cost, per-message cost and value size, side by side.

    python benchmarks/masking.py [--mb 8] [--repeat 3]

Ends with the four target ratios of Masking v2 in one table: (i) 1,000 values
with fragments on vs one ``str.replace`` pass, per backend; (ii) registering
value #1,001 and masking the next message vs compiling all 1,001 from scratch;
(iii) the added cost of a masked 1 KB stream message with 100 values; (iv) a
10 MB value's register + mask time vs a 1 MB value's.

On one 8 MB log-like text (a few registered values sprinkled in):

* the engine (every value with all its variants, one automaton) with 10, 100
  and 1,000 registered values, for each backend, against
* one plain ``str.replace`` pass of a single value -- the practical ceiling --
  and the naive loop of one ``str.replace`` per variant (what most code does);

and the added cost of masking a 1 KB stream message with 100 registered values
(the stream hold-back check plus the masked ``Session.send``) relative to
sending it unmasked on a PUB socket, as the kernel's iopub does.

Times are CPU time of this process (``time.process_time``), so that other
processes on a shared machine do not count; each pair being compared is timed
alternately and the best of several runs is kept. Prints ratios (higher =
faster for throughput); no thresholds.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbcreds.masking import (
    MaskingSettings,
    _egress,
    _engine,
    _stream,
    available_backends,
    configure,
    registry,
)

RESULTS: dict[str, str] = {}

ALPHABET = string.ascii_letters + string.digits + "-_/+=.:@!"


def make_values(count: int, rng: random.Random) -> list[str]:
    return ["".join(rng.choices(ALPHABET, k=rng.randint(20, 48))) for _ in range(count)]


def make_log(size: int, values: list[str], rng: random.Random) -> str:
    """Log-like lines; one line in 2,000 carries one of the first values."""
    services = ["api", "worker", "scheduler", "auth", "billing"]
    paths = ["/v1/items", "/v1/users/42", "/healthz", "/v2/orders?page=3", "/login"]
    lines: list[str] = []
    total = 0
    n = 0
    while total < size:
        n += 1
        line = (
            f"2026-11-27T01:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z "
            f"{rng.choice(['INFO', 'DEBUG', 'WARN'])} service={rng.choice(services)} "
            f"request_id={rng.getrandbits(64):016x} path={rng.choice(paths)} "
            f"status={rng.choice([200, 200, 200, 404, 500])} duration_ms={rng.randint(1, 900)}"
        )
        if n % 2000 == 0:
            line += f" token={values[n // 2000 % 10]}"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def side_by_side(
    a: Callable[[], object], b: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best times of ``a`` and ``b``, run alternately so that both see the same load."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(best(a, 1))
        tb.append(best(b, 1))
    return min(ta), min(tb)


def naive_loop_time(
    text: str, patterns: list[str], repeat: int, cap: int = 150
) -> tuple[float, bool]:
    """One ``str.replace`` per pattern. Above ``cap`` patterns the passes are timed
    for the first ``cap`` and scaled (each pass costs the same)."""
    sample = patterns[:cap]

    def loop() -> None:
        out = text
        for pattern in sample:
            out = out.replace(pattern, "****")

    elapsed = best(loop, max(1, repeat - 1))
    return elapsed * len(patterns) / len(sample), len(patterns) > cap


def throughput(args: argparse.Namespace) -> None:
    rng = random.Random(20261127)
    all_values = make_values(1000, rng)
    text = make_log(args.mb * 1_000_000, all_values, rng)
    mb = len(text) / 1e6
    single = best(lambda: text.replace(all_values[0], "****"), args.repeat)
    print(f"text: {mb:.1f} MB log-like; one str.replace pass: {mb / single:,.0f} MB/s")
    print("(each engine row is timed alternately with that pass; ratios use the pair)\n")
    header = (
        f"{'values':>11} {'patterns':>9} {'literals':>9} {'backend':>12} {'MB/s':>8} "
        f"{'vs 1 str.replace':>17} {'naive loop MB/s':>16} {'engine vs naive':>16}"
    )
    print(header)
    print("-" * len(header))
    rows: list[tuple[int, int]] = [(10, 0), (100, 0), (1000, 0), (1000, 16)]
    for count, fragment_length in rows:
        values = all_values[:count]
        settings = MaskingSettings(fragment_length=fragment_length)
        label = f"{count}+frag{fragment_length}" if fragment_length else str(count)
        for backend in available_backends():
            _engine.force_backend(backend)
            state = _engine._build(0, dict.fromkeys(values), settings)
            matcher = state.tiers[0].matcher
            patterns = sorted(matcher.patterns)
            naive, scaled = naive_loop_time(text, patterns, args.repeat)
            single, elapsed = side_by_side(
                lambda: text.replace(all_values[0], "****"),
                lambda state=state: state.sub(text),
                args.repeat,
            )
            print(
                f"{label:>11} {len(patterns):>9} {len(matcher._roots):>9} {backend:>12} "
                f"{mb / elapsed:>8,.0f} {single / elapsed:>16.2f}x "
                f"{mb / naive:>15,.1f}{'*' if scaled else ' '} {naive / elapsed:>15,.0f}x"
            )
            if count == 1000 and fragment_length:
                RESULTS[f"(i) 1,000 values + fragments, {backend}"] = (
                    f"{single / elapsed:.2f}x one str.replace pass"
                    f" (target >= {'0.5' if backend == 'hyperscan' else '0.05'}x)"
                )
    print("\n* naive loop timed on its first 150 str.replace passes and scaled to all patterns")
    print("1000+frag16: [masking] fragment_length = 16 (the default); patterns = every")
    print("encoded form, literals = what the automaton holds (anchors, roots)")


def registration_cost(args: argparse.Namespace) -> None:
    """(ii): register value #1,001 (then mask a message) against compiling 1,001 at once."""
    rng = random.Random(11)
    values = make_values(1000 + args.extra, rng)
    message = "2026-11-27T01:00:00Z INFO service=api path=/v1/items status=200\n"
    print(f"\nregistering one more value after 1,000 (mean of values #1,001-#{1000 + args.extra})")
    header = (
        f"{'backend':>12} {'from scratch s':>15} {'one more ms':>12} {'max ms':>8} {'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for backend in available_backends():
        registry.clear()
        _engine.force_backend(backend)
        for value in values[:1000]:
            registry.register(value)
        _engine.compiled().sub(message)
        costs = []
        for value in values[1000:]:
            start = time.process_time()
            registry.register(value)
            _engine.compiled().sub(message)
            costs.append(time.process_time() - start)
        _engine._reset_for_tests()
        snapshot = dict.fromkeys(values[:1001])
        scratch = best(
            lambda snapshot=snapshot: _engine._build(0, snapshot, MaskingSettings()).sub(message),
            max(1, args.repeat // 3),
        )
        mean = sum(costs) / len(costs)
        print(
            f"{backend:>12} {scratch:>15.2f} {mean * 1e3:>12.1f} {max(costs) * 1e3:>8.0f} "
            f"{mean / scratch:>7.3f}x"
        )
        RESULTS[f"(ii) value #1,001 + next message, {backend}"] = (
            f"{mean / scratch:.3f}x compiling 1,001 (target <= 0.05x; worst single "
            f"registration {max(costs) / scratch:.2f}x, a tier merge)"
        )


def value_size(args: argparse.Namespace) -> None:
    """(iv): a 10 MB value registered and masked vs a 1 MB one."""
    print("\none huge value (base64 lines, a certificate chain's shape): register + mask")
    header = f"{'backend':>12} {'1 MB s':>8} {'10 MB s':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for backend in available_backends():
        _engine.force_backend(backend)
        times = {}
        for size in (1_000_000, 10_000_000):
            rng = random.Random(size)
            body = "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=size))
            value = "\n".join(body[i : i + 64] for i in range(0, size, 64))
            text = f"kubeconfig: {value}\nhead: {value[:25]}...{value[-25:]}\n"

            def run(value: str = value, text: str = text) -> None:
                _engine._reset_for_tests()  # compile from nothing each time
                registry.clear()
                registry.register(value)
                assert "****" in _engine.compiled().sub(text)

            times[size] = best(run, 2)
        ratio = times[10_000_000] / times[1_000_000]
        print(f"{backend:>12} {times[1_000_000]:>8.2f} {times[10_000_000]:>8.2f} {ratio:>6.1f}x")
        RESULTS[f"(iv) 10 MB vs 1 MB value, {backend}"] = (
            f"{ratio:.1f}x (linear would be ~10x; {times[10_000_000]:.1f} s for 10 MB)"
        )
    registry.clear()


def message_cost(args: argparse.Namespace) -> None:
    """(iii): what a kernel does for one stream message -- ipykernel's
    ``OutStream._flush`` (take the buffered text, build the message, send it on
    the iopub PUB socket) -- with and without nbcreds' hold-back in
    ``_flush_buffers`` and its wrapped ``Session.send`` / ``serialize``."""
    import zmq
    from ipykernel.iostream import IOPubThread, OutStream
    from jupyter_client.session import Session

    rng = random.Random(7)
    values = make_values(100, rng)
    # a 1 KB stream message: whole log lines, ending in a newline like print() output
    lines = make_log(4096, values, rng).splitlines()
    body = ""
    while len(body) + len(lines[0]) + 1 <= 1024:
        body += lines.pop(0) + "\n"
    body = body.ljust(1023, "-")[:1023] + "\n"
    context = zmq.Context.instance()
    socket = context.socket(zmq.PUB)  # iopub: a PUB socket
    socket.bind("inproc://nbcreds-bench")
    # not started: the stream's sends then happen in the calling thread, so this
    # process's CPU time is all of the work (the kernel hands it to that thread)
    pub_thread = IOPubThread(socket)
    parent = Session(username="bench").msg("execute_request", {"code": "print(log)"})["header"]

    def make_stream(masked: bool) -> Any:
        session = Session(key=b"benchmark-key", username="bench")
        stream = OutStream(session, pub_thread, "stdout", watchfd=False)
        stream.parent_header = parent
        if masked:  # what _egress.install does to a kernel's session and streams
            session.send = _egress._wrap_send(session.send)  # type: ignore[method-assign]
            session.serialize = _egress._wrap_serialize(session.serialize)  # type: ignore[method-assign]
            hold = _stream.KernelStreamHold(stream)
            stream._flush_buffers = hold.wrap(stream._flush_buffers)  # type: ignore[method-assign]
        return stream

    n = args.messages
    key = frozenset(parent.items())

    def send_all(stream: Any) -> None:
        for _ in range(n):
            # what OutStream.write leaves for the flush (its buffer), then the flush
            stream._buffers[key].write(body)
            stream._flush()

    print(
        f"\n1 KB stream message, 100 registered values: ipykernel OutStream._flush, best of "
        f"{args.batches} alternating batches of {n:,} messages"
    )
    header = f"{'backend':>12} {'unmasked us/msg':>16} {'masked us/msg':>14} {'added cost':>11}"
    print(header)
    print("-" * len(header))
    plain = make_stream(masked=False)
    for backend in available_backends():
        registry.clear()
        _engine.force_backend(backend)
        for value in values:
            registry.register(value)
        _engine.compiled()
        masked = make_stream(masked=True)
        # many short alternating batches: the best of each side is taken from the
        # quietest moments of a shared machine
        base, cost = side_by_side(
            lambda: send_all(plain), lambda masked=masked: send_all(masked), args.batches
        )
        print(
            f"{backend:>12} {base / n * 1e6:>16.1f} {cost / n * 1e6:>14.1f} "
            f"{(cost - base) / base * 100:>10.1f}%"
        )
        RESULTS[f"(iii) 1 KB stream message, 100 values, {backend}"] = (
            f"{(cost - base) / base * 100:+.1f} % over unmasked (target <= +15 %)"
        )
        masked.close()
    plain.close()
    socket.close(linger=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=8, help="size of the text in MB")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs (best is kept)")
    parser.add_argument("--messages", type=int, default=500, help="messages per timing batch")
    parser.add_argument("--batches", type=int, default=31, help="alternating batches per side")
    parser.add_argument("--extra", type=int, default=30, help="values registered after 1,000")
    parser.add_argument("--skip-huge", action="store_true", help="skip the 10 MB value row")
    parser.add_argument(
        "--only",
        choices=["i", "ii", "iii", "iv"],
        action="append",
        help="run only this target's part (repeatable)",
    )
    args = parser.parse_args()
    # the default [masking] settings, whatever nbcreds.toml the working directory has
    with tempfile.TemporaryDirectory() as empty:
        config = Path(empty, "nbcreds.toml")
        config.write_text("")
        os.environ["NBCREDS_CONFIG"] = str(config)
        _run(args)


def _run(args: argparse.Namespace) -> None:
    configure(MaskingSettings())
    try:
        parts = args.only or ["i", "ii", "iii", "iv"]
        if "i" in parts:
            throughput(args)
        if "ii" in parts:
            registration_cost(args)
        if "iii" in parts:
            message_cost(args)
        if "iv" in parts and not args.skip_huge:
            value_size(args)
    finally:
        _engine.force_backend(None)
        registry.clear()
    print("\nMasking v2 targets, measured in this run:")
    width = max(len(k) for k in RESULTS)
    for key, value in RESULTS.items():
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()

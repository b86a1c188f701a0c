"""The hold-back: values split across writes are still masked."""

from __future__ import annotations

import itertools
import re
import textwrap
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

import nbcreds
from nbcreds.masking import _engine, _stream, registry
from nbcreds.testing.leaks import assert_no_leak

VALUE = "split-secret-VALUE-99"


def _collector() -> tuple[list[str], _stream.HoldBack]:
    out: list[str] = []
    return out, _stream.HoldBack(out.append)


def test_two_halves_are_masked() -> None:
    nbcreds.mask(VALUE)
    out, hold = _collector()
    hold.write("before " + VALUE[:7])
    assert "".join(out) == "before "
    assert hold.holding
    hold.write(VALUE[7:] + " after\n")
    assert "".join(out) == "before **** after\n"
    assert not hold.holding


def test_character_by_character() -> None:
    nbcreds.mask(VALUE)
    out, hold = _collector()
    for char in f"<{VALUE}>\n":
        hold.write(char)
    hold.release()
    assert "".join(out) == "<****>\n"


def test_two_overlapping_values_across_writes_mask_their_union() -> None:
    nbcreds.mask("AAAAAAAA")
    nbcreds.mask("AAAABBBBCC")
    out, hold = _collector()
    hold.write("x AAAAAAAABB")
    hold.write("BBCC y")
    hold.release()
    joined = "".join(out)
    assert joined == "x **** y"


def test_released_at_cell_end_and_masked() -> None:
    nbcreds.mask(VALUE)
    out, hold = _collector()
    hold.write("tail " + VALUE[:4])
    _stream.release_all()
    assert "".join(out) == "tail " + VALUE[:4]  # a fragment alone is not the value
    assert not hold.holding


def test_released_by_the_timer() -> None:
    nbcreds.mask(VALUE)
    out, hold = _collector()
    released = threading.Event()
    hold._emit = lambda text: (out.append(text), released.set())  # type: ignore[assignment]
    hold.write(VALUE[:3])
    assert out == []
    assert released.wait(5 * _stream.HOLD_SECONDS)
    assert "".join(out) == VALUE[:3]


def test_nothing_held_when_nothing_is_registered() -> None:
    out, hold = _collector()
    hold.write("abc")
    assert out == ["abc"]


def test_split_moves_the_cut_before_a_crossing_match() -> None:
    nbcreds.mask("AAAAAAAA")
    nbcreds.mask("AAAABBBBCC")
    state = _engine.compiled()
    head, tail = _stream.split("x AAAAAAAABB", state)
    assert head == "x "
    assert tail == "AAAAAAAABB"


def test_threads_writing_concurrently_never_leak() -> None:
    nbcreds.mask(VALUE)
    out, hold = _collector()

    def writer() -> None:
        for _ in range(20):
            hold.write(VALUE + "\n")
            time.sleep(0)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hold.release()
    assert_no_leak("".join(out), [VALUE])
    assert "".join(out).count("****") == 80


@settings(max_examples=150, deadline=None)
@given(
    value=st.text(st.sampled_from("ab\nc=é/"), min_size=6, max_size=12),
    before=st.text(st.sampled_from("ab\n xé"), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_any_chunking_never_leaks(value: str, before: str, cuts: list[int]) -> None:
    registry.clear()
    nbcreds.mask(value)
    text = f"{before}{value}{before}"
    out, hold = _collector()
    points = sorted({c for c in cuts if c < len(text)} | {0, len(text)})
    for start, end in itertools.pairwise(points):
        hold.write(text[start:end])
    hold.release()
    assert_no_leak("".join(out), [value])
    assert "****" in "".join(out)


@settings(max_examples=200, deadline=None)
@given(
    patterns=st.lists(st.text(st.sampled_from("abc\n"), min_size=6, max_size=9), min_size=1),
    text=st.text(st.sampled_from("abc\n"), max_size=20),
)
def test_hold_from_matches_brute_force(patterns: list[str], text: str) -> None:
    registry.clear()
    for pattern in patterns:
        registry.register(pattern)
    state = _engine.compiled()
    forms = state.sorted_patterns
    expected = next(
        (
            i
            for i in range(len(text))
            if any(p.startswith(text[i:]) and len(p) > len(text) - i for p in forms)
        ),
        len(text),
    )
    assert state.hold_from(text) == expected


# -- the kernel stream: what nbformat joins ----------------------------------------


class _Stream:  # stands for an OutStream: only flush() is used on release
    pub_thread = None


def _joined(pieces: list[tuple[dict[str, str], str]], parent: dict[str, str]) -> str:
    """A cell's stream as nbformat stores it (masked as the session would)."""
    state = _engine.compiled()
    return "".join(state.sub(text) for p, text in pieces if p == parent)


def _windows(value: str, size: int = 16) -> list[str]:
    return [value[i : i + size] for i in range(len(value) - size + 1)]


def test_a_piece_released_by_time_and_its_continuation_never_join_into_the_value() -> None:
    nbcreds.mask(VALUE)
    hold = _stream.KernelStreamHold(_Stream())
    parent = {"msg_id": "cell-1"}
    sent = hold._process([(parent, "half: " + VALUE[:10])])
    hold._release_pending = True  # the hold time is over
    sent += hold._process([])
    sent += hold._process([(parent, VALUE[10:] + " end\n")])
    joined = _joined(sent, parent)
    assert VALUE not in joined
    assert VALUE[10:] not in joined  # the continuation is masked too
    assert joined == "half: ******** end\n"  # the piece, then its continuation


def test_a_thread_writing_after_its_cell_ended_continues_the_carry() -> None:
    nbcreds.mask(VALUE)
    hold = _stream.KernelStreamHold(_Stream())
    cell, next_cell = {"msg_id": "cell-1"}, {"msg_id": "cell-2"}
    sent = hold._process([(cell, VALUE[:5])])
    hold._release_pending = True  # post_run_cell
    sent += hold._process([])
    later = hold._process([(next_cell, VALUE[5:] + "\n")])
    assert VALUE[:5] in _joined(sent, cell)  # five characters say nothing
    assert later == [(next_cell, "****\n")]


def test_one_character_per_hold_period_never_shows_a_window() -> None:
    nbcreds.mask(VALUE)
    hold = _stream.KernelStreamHold(_Stream())
    parent = {"msg_id": "cell-1"}
    sent: list[tuple[dict[str, str], str]] = []
    for char in VALUE + "\n":
        sent += hold._process([(parent, char)])
        hold._release_pending = True
        sent += hold._process([])
    joined = _joined(sent, parent)
    assert len(joined.replace("****", "")) < _stream.TAIL_MASK_LENGTH + 1
    assert not any(window in joined for window in _windows(VALUE, _stream.TAIL_MASK_LENGTH))


@given(
    cuts=st.lists(st.integers(min_value=0, max_value=len(VALUE)), max_size=4),
    timeouts=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_any_split_and_any_timing_keeps_the_value_out_of_the_joined_stream(
    cuts: list[int], timeouts: list[bool]
) -> None:
    registry.clear()
    nbcreds.mask(VALUE)
    hold = _stream.KernelStreamHold(_Stream())
    parent = {"msg_id": "cell-1"}
    text = f"start {VALUE} end\n"
    points = [0, *sorted({c + 6 for c in cuts}), len(text)]
    sent: list[tuple[dict[str, str], str]] = []
    for (a, b), timeout in zip(itertools.pairwise(points), timeouts, strict=False):
        sent += hold._process([(parent, text[a:b])])
        if timeout:
            hold._release_pending = True
            sent += hold._process([])
    hold._release_pending = True
    sent += hold._process([])
    joined = _joined(sent, parent)
    assert not any(window in joined for window in _windows(VALUE, _stream.TAIL_MASK_LENGTH))
    assert joined.startswith("start ")
    assert joined.endswith(" end\n")


def test_a_line_end_is_never_held_back() -> None:
    """A slice window of a multi-line value may start with a newline: the newline
    of an ordinary line must still go out at once (nbval, readers waiting for it)."""
    nbcreds.mask("first-line-of-it\nsecond-line-of-it\nthird-line-of-it")
    out, hold = _collector()
    hold.write("an ordinary line\n")
    assert "".join(out) == "an ordinary line\n"
    assert not hold.holding
    kernel = _stream.KernelStreamHold(_Stream())
    parent = {"msg_id": "cell-1"}
    assert kernel._process([(parent, "NBCREDS-LEAKS {}\n")]) == [(parent, "NBCREDS-LEAKS {}\n")]
    assert not kernel.holding


# -- a value folded across writes (the fold carry) ------------------------------------

LONG = "lvAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyzQ"
PHRASE = "horse abc123 battery def456 staple 987fed ok"
_FOLDS = re.compile(r"[ \t]*\n[ \t]*")


def _no_window(joined: str, value: str) -> None:
    """No 16-character slice of ``value`` in ``joined`` read with its breaks dropped
    or read as spaces (what a reader pieces together)."""
    for reading in (_FOLDS.sub("", joined), _FOLDS.sub(" ", joined)):
        windows = {value[i : i + 16] for i in range(len(value) - 15)}
        assert not [w for w in windows if w in reading]


@given(width=st.integers(4, 15), indent=st.sampled_from(["", "  ", "\t"]))
@settings(max_examples=40, deadline=None)
def test_a_value_written_line_by_line_shows_no_window(width: int, indent: str) -> None:
    nbcreds.mask(LONG)
    out, hold = _collector()
    hold.write("key:\n")
    for i in range(0, len(LONG), width):
        hold.write(indent + LONG[i : i + width])
        hold.write("\n")
    hold.write("done\n")
    hold.release()
    joined = "".join(out)
    assert "****" in joined
    assert joined.endswith("done\n")
    assert joined.count("\n") == 2 + -(-len(LONG) // width)  # lines stay lines
    _no_window(joined, LONG)


def test_a_value_wrapped_at_its_spaces_line_by_line_is_masked() -> None:
    nbcreds.mask(PHRASE)
    out, hold = _collector()
    for line in textwrap.wrap(f"words first {PHRASE} and after", width=14):
        hold.write(line + "\n")
    hold.release()
    joined = "".join(out)
    assert joined.startswith("words first\n")
    assert joined.endswith("and after\n")
    _no_window(joined, PHRASE)


def test_ordinary_lines_after_a_value_go_out_unchanged() -> None:
    nbcreds.mask(LONG)
    out, hold = _collector()
    for line in ("first line of text\n", "second line\n", LONG[:10] + "\n", "third\n"):
        hold.write(line)
    hold.release()
    assert "".join(out) == "first line of text\nsecond line\n" + LONG[:10] + "\nthird\n"


def test_a_value_wrapped_at_a_space_in_one_write_is_masked() -> None:
    from nbcreds.masking._markup import masked_text

    nbcreds.mask(PHRASE)
    state = _engine.compiled()
    for text in (
        textwrap.fill(f"the phrase is {PHRASE} and some more words", width=20),
        textwrap.fill(f"phrase: {PHRASE}", width=26, subsequent_indent="    "),
    ):
        masked = masked_text(text, state)
        assert masked.count("\n") == text.count("\n")
        _no_window(masked, PHRASE)


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(
        st.lists(
            st.sampled_from(["log line ", "\n", VALUE[:3], VALUE[:9], VALUE, "x" * 20, ""]),
            max_size=4,
        ).map("".join),
        max_size=3,
    )
)
def test_the_pass_through_sends_what_the_full_path_sends(chunks: list[str]) -> None:
    """The common flush (nothing held or carried) skips the bookkeeping: whenever
    it answers, it is what the full hold-back path sends, and that path would
    have held and carried nothing."""
    registry.clear()
    nbcreds.mask(VALUE)
    parents = [{"msg_id": f"cell-{i % 2}"} for i in range(len(chunks))]
    fresh = list(zip(parents, chunks, strict=True))
    quick_hold = _stream.KernelStreamHold(_Stream())
    quick = quick_hold._pass_through(list(fresh))
    full_hold = _stream.KernelStreamHold(_Stream())
    full = full_hold._process_full(list(fresh))
    if quick is not None:
        assert quick == full
        assert not full_hold.holding
        assert not full_hold._carry
        # both leave the stream's fold carry the same for the next write
        assert (quick_hold._fold.tail, quick_hold._fold.folded) == (
            full_hold._fold.tail,
            full_hold._fold.folded,
        )
    elif any(text.endswith(VALUE[:9]) for text in chunks):
        assert full_hold.holding  # what made it step aside: a piece to hold
    if quick is None:  # stepping aside leaves the fold carry as it was
        assert (quick_hold._fold.tail, quick_hold._fold.folded) == ("", False)

"""Masking a text stream written in pieces: the hold-back.

A value printed in two halves, or one character at a time, is never whole in a
single write, so masking each piece alone would let it through. The hold-back
masks what it can and keeps back the trailing piece of the text that could
still grow into a registered value (or a variant of it). That piece is released
with the next output, when the cell ends, or after at most :data:`HOLD_SECONDS`
without new output, so ordinary output is not visibly delayed.

Two users:

* :class:`HoldBack` sits in front of a plain stream's ``write`` (terminal
  IPython's ``sys.stdout``);
* :class:`KernelStreamHold` sits in an ipykernel ``OutStream``'s flush, where
  every write ends up -- ``print``, threads, and what ipykernel captures from
  file descriptors 1 and 2 (subprocesses, C code) -- whatever patches
  ``write`` on the way (IPython 9 swaps it at every cell to record outputs).
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from . import _engine
from ._engine import HOLD_DEPTH, Compiled
from ._markup import has_spaces, masked_closer, masked_spaced, masked_text, masked_view

__all__ = [
    "HOLD_SECONDS",
    "TAIL_MASK_LENGTH",
    "HoldBack",
    "KernelStreamHold",
    "release_all",
    "split",
]

_Piece = tuple[dict[str, Any], str]

#: The longest a held-back piece waits for more output.
HOLD_SECONDS = 0.5

#: A held piece released without its continuation (time is up, the cell ended)
#: goes out masked from this many characters on: shorter, it says nothing
#: usable (and masking every short held piece would blank ordinary output).
TAIL_MASK_LENGTH = 8


def split(text: str, state: Compiled, *, mask: bool = True) -> tuple[str, str]:
    """Split ``text`` into (the part that can go now, the raw piece to hold back).

    The held piece is the longest suffix that could still become a registered
    pattern, within the last line (a line end is never held back); if a
    complete match crosses that point, the cut moves back to the match's start
    so the match is masked whole (with whatever overlaps it) later.
    The part that goes is masked unless ``mask=False`` (the kernel's session
    masks it anyway).
    """
    if state.empty or not text:
        return text, ""
    cut = state.hold_from(text)
    if cut < len(text) and "\n" in text[cut:]:
        # A held piece never holds a line end: ordinary lines go out at once (a
        # slice window of a multi-line value can start with a newline; each line
        # of such a value is a pattern of its own).
        line_start = text.rindex("\n") + 1
        cut = line_start + state.hold_from(text[line_start:])
    if cut == len(text):
        return (masked_text(text, state) if mask else text), ""
    spans = state.matcher.spans(text)
    for start, end, _ in spans:
        if start < cut < end:
            cut = start
            break
    head = text[:cut]
    if mask:
        spaced = masked_spaced(head, state)  # a value wrapped at one of its spaces
        if spaced is not head:
            head = masked_closer(spaced, state)
        else:
            head = masked_view(state.sub_spans(head, [s for s in spans if s[1] <= cut]), state)
    return head, text[cut:]


def mask_continuation(carry: str, text: str, state: Compiled) -> str:
    """``text`` with its start masked where it completes a pattern begun in ``carry``
    (the raw end of what already went out)."""
    size = len(carry)
    spans = state.matcher.spans(carry + text)
    crossing = [span for span in spans if span[0] < size < span[1]]
    if not crossing:
        return text
    _start, end, label = crossing[0]
    replacement = state.replacement()
    mask = replacement(label) if callable(replacement) else replacement
    return mask + text[end - size :]


def let_go(carry: str, rest: str, state: Compiled) -> tuple[str, str]:
    """A held piece whose time is up: (what to send, the new carry).

    ``rest`` is a proper prefix of a pattern (after ``carry``, which already went
    out). It goes out masked from :data:`TAIL_MASK_LENGTH` characters on, and
    is remembered so that its continuation is masked when it comes."""
    tail = (carry + rest)[-max(state.max_length, 1) :]
    masked = state.sub(rest)
    if masked != rest:
        return masked, tail  # it holds a whole pattern (a match crossed the cut)
    if len(carry) + len(rest) < TAIL_MASK_LENGTH:
        return rest, tail  # a few characters say nothing about a value
    replacement = state.replacement()
    return (replacement(None) if callable(replacement) else replacement), tail


def next_carry(carry: str, raw: str, text: str, emit: str, rest: str, state: Compiled) -> str:
    """The carry after a chunk (``raw``; ``text`` once its continuation is masked)
    that went out as ``emit`` with ``rest`` held: it goes on while the chunk
    continued a pattern (a sliding slice window may continue further), or while
    all of the chunk is held; it ends once the chunk went out without continuing."""
    if text is not raw:  # a continuation was masked: the value may go on
        sent = raw[: len(raw) - len(rest)] if rest and raw.endswith(rest) else raw
        return (carry + sent)[-max(state.max_length, 1) :]
    if rest and not emit:
        return carry  # still growing: the held piece extends it
    return ""


def line_end_carry(text: str, rest: str, state: Compiled) -> str:
    """The piece :func:`split` would have held but for a line end in it, up to
    the ``rest`` it did hold: it went out (line ends are not held back), so it
    becomes the carry, and what continues it is masked when it comes."""
    cut = state.hold_from(text)
    piece = text[cut : len(text) - len(rest)]
    return piece[-max(state.max_length, 1) :] if "\n" in piece else ""


def split_after(carry: str, text: str, state: Compiled, *, mask: bool) -> tuple[str, str]:
    """:func:`split` of ``text``, holding all of it while it still continues
    ``carry`` towards a pattern."""
    if carry and "\n" not in text and state.hold_from(carry + text) < len(carry):
        return "", text
    return split(text, state, mask=mask)


# -- a value folded across writes: the fold carry -------------------------------------
#
# A value printed line by line (``for line in textwrap.wrap(...): print(line)``,
# a base64 blob written 64 columns at a time) is folded *between* writes: each
# write holds a line too short to be a slice on its own, and nbformat joins
# them. Line ends are never held back, so each stream keeps the last few
# visible characters that went out before a line break (its *fold carry*); the
# start of the next write is scanned joined to them -- a few dozen characters,
# never the whole write -- and what continues a value there is masked.

#: a line break with the blanks around it (collapsed to one newline in a carry)
_FOLD = re.compile(r"[ \t\r]*\n[ \t]*")
_BLANKS = " \t\r\n"


def fold_depth(state: Compiled) -> int:
    """How many characters on each side of a break can belong to a match that
    crosses it and is not masked on either side alone: a slice window's length
    less one, or (slices off) the longest pattern."""
    window = state.settings.fragment_length
    return window - 1 if window else max(min(state.max_length, HOLD_DEPTH), 1)


def _view_index(raw: str, sep: str, end: int) -> int:
    """The index in ``raw`` of the (exclusive) end ``end`` in ``raw`` read with
    each break (:data:`_FOLD`) as ``sep``; an end in or after a break's ``sep``
    maps to the break's start (the break itself stays)."""
    done = shown = 0
    for match in _FOLD.finditer(raw):
        run = match.start() - done
        if end <= shown + run:
            break
        shown += run
        if end <= shown + len(sep):
            return match.start()
        shown += len(sep)
        done = match.end()
    return done + end - shown


class FoldCarry:
    """One stream's fold carry: see the comment above."""

    __slots__ = ("folded", "tail")

    def __init__(self) -> None:
        #: the end of what went out (at most 3 * fold_depth characters), its breaks
        #: collapsed to one newline each and its trailing blanks dropped
        self.tail = ""
        #: what went out ended with a line break: the next write may continue a fold
        self.folded = False

    def mask_start(self, text: str, state: Compiled) -> str:
        """``text`` with its start masked where it continues a value that the end
        of the previous writes began before a line break (the break may be a
        few writes back, on the line these writes continue)."""
        tail = self.tail
        if not tail or not text:
            return text
        folded = self.folded
        depth = fold_depth(state)
        if not folded and "\n" not in tail[-depth:]:
            return text  # no break near: a same-line continuation is split()'s
        lead = len(text) - len(text.lstrip(_BLANKS)) if folded else 0
        if lead == len(text):
            return text
        head = text[lead : lead + 2 * depth]
        if "\n" in head or "\t" in head or "\r" in head:
            head = _FOLD.sub("", head)
        left = tail.replace("\n", "")[-depth:] if "\n" in tail else tail[-depth:]
        probe = left + head
        # the quick check (one scan, the blanks deleted) answers for most breaks
        if state.clean(probe):
            return text
        for sep in ("", " ") if has_spaces(state) else ("",):
            if sep:
                left = tail.replace("\n", sep)[-depth:] + (sep if folded else "")
                probe = left + _FOLD.sub(sep, text[lead : lead + 2 * depth])
            if not state.matcher.search(probe):
                continue
            end = self._crossing_end(probe, len(left), state)
            if end < 0:
                continue
            if end >= len(probe) and lead + 2 * depth < len(text):
                # the match reaches the end of the head: the value may go on
                probe = left + _FOLD.sub(sep, text[lead:])
                end = self._crossing_end(probe, len(left), state)
            at = lead + _view_index(text[lead:], sep, end - len(left))
            replacement = state.replacement()
            mask = replacement(None) if callable(replacement) else replacement
            return text[:lead] + mask + text[at:]
        return text

    @staticmethod
    def _crossing_end(probe: str, boundary: int, state: Compiled) -> int:
        for start, end, _label in state.matcher.spans(probe):
            if start < boundary < end:
                return end
        return -1

    def went_out(self, sent: str, state: Compiled) -> None:
        """Note ``sent`` (raw) as written after the previous write."""
        if not sent:
            return
        depth = fold_depth(state)
        stripped = sent.rstrip(_BLANKS)
        ends = len(stripped) < len(sent) and "\n" in sent[len(stripped) :]
        if not ends:
            stripped = sent
        elif (
            len(stripped) >= depth
            and stripped.find("\n", len(stripped) - depth) < 0
            and stripped.find("\t", len(stripped) - depth) < 0
            and stripped.find("\r", len(stripped) - depth) < 0
        ):
            # the common case: a line at least depth long ends the write
            self.tail = stripped[-depth:]
            self.folded = True
            return
        if not ends and not self.folded and "\n" not in sent and "\n" not in self.tail:
            self.tail = (self.tail + sent)[-depth:]  # a line written in pieces
            return
        keep = 3 * depth
        piece = stripped[-keep:]
        if self.tail:
            piece = self.tail + ("\n" if self.folded else "") + piece
        if "\n" in piece or "\t" in piece or "\r" in piece:
            piece = _FOLD.sub("\n", piece)
        self.tail = piece[-keep:]
        self.folded = ends


def _sent(raw: str, rest: str) -> str:
    """What of ``raw`` went out when ``rest`` (its end, maybe masked) is held."""
    if not rest:
        return raw
    return raw[: len(raw) - len(rest)] if raw.endswith(rest) else ""


class _Releasable:
    def release(self) -> None:
        raise NotImplementedError

    def release_due(self) -> None:
        raise NotImplementedError


_live: weakref.WeakSet[_Releasable] = weakref.WeakSet()


def release_all() -> None:
    """Release every held piece (the cell is over)."""
    for hold in list(_live):
        try:
            hold.release()
        except Exception:  # noqa: S112 - a closed stream must not stop the others
            continue


class HoldBack(_Releasable):
    """Masks text headed for ``emit`` (a plain stream's write), holding back a
    trailing piece that could start a registered value."""

    def __init__(self, emit: Callable[[str], object]) -> None:
        self._emit = emit
        self._lock = threading.RLock()
        self._held = ""
        self._carry = ""  # the raw end of a piece released by time (see let_go)
        self._fold = FoldCarry()
        _live.add(self)

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def write(self, text: str) -> int:
        """Accept ``text``; forward every part that can no longer become a value."""
        if not text:
            return 0
        with self._lock:
            combined = self._held + text
            self._held = ""
            try:
                state = _engine.compiled()
                carry, self._carry = self._carry, ""
                raw = combined
                combined = self._fold.mask_start(combined, state)
                if carry:
                    combined = mask_continuation(carry, combined, state)
                out, self._held = split_after(carry, combined, state, mask=True)
                if carry:
                    self._carry = next_carry(carry, raw, combined, out, self._held, state)
                if not self._carry:
                    self._carry = line_end_carry(carry + raw, self._held, state)
                self._fold.went_out(_sent(raw, self._held), state)
            except Exception:
                out = _engine.WITHHELD
            if out:
                self._emit(out)
            held = bool(self._held)
        if held:
            _timer.schedule(self, time.monotonic() + HOLD_SECONDS)
        return len(text)

    def release(self) -> None:
        """Forward the held piece now (masked)."""
        with self._lock:
            held, self._held = self._held, ""
            if held:
                try:
                    state = _engine.compiled()
                    out, self._carry = let_go(self._carry, held, state)
                    self._fold.went_out(held, state)
                except Exception:
                    out = _engine.WITHHELD
                self._emit(out)

    def release_due(self) -> None:
        self.release()

    def close(self) -> None:
        self.release()
        _live.discard(self)


class KernelStreamHold(_Releasable):
    """The hold-back inside an ipykernel ``OutStream``: wraps its ``_flush_buffers``.

    Held pieces are kept per parent message (so a piece goes out with the cell
    that wrote it) and go out with the next flush that has more text for the
    same parent, at the flush after the cell ends, or at a flush scheduled
    :data:`HOLD_SECONDS` after they were last extended.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = weakref.ref(stream)
        self._lock = threading.Lock()
        self._held: dict[frozenset[Any], tuple[dict[str, Any], str, float]] = {}
        #: per parent: the raw end of what went out that may still grow into a pattern
        self._carry: dict[frozenset[Any], str] = {}
        self._last: tuple[frozenset[Any], str] | None = None
        self._fold = FoldCarry()  # per stream: a cell's late thread output included
        self._release_pending = False
        _live.add(self)

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def wrap(
        self, original: Callable[[], Any]
    ) -> Callable[[], Iterator[tuple[dict[str, Any], str]]]:
        def flush_buffers() -> Iterator[tuple[dict[str, Any], str]]:
            yield from self._process(list(original()))

        flush_buffers._nbcreds_original = original  # type: ignore[attr-defined]
        flush_buffers._nbcreds_hold = self  # type: ignore[attr-defined]
        return flush_buffers

    def _process(self, fresh: list[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str]]:
        if not (self._held or self._carry or self._release_pending):
            passed = self._pass_through(fresh)
            if passed is not None:
                return passed
        return self._process_full(fresh)

    def _process_full(
        self, fresh: list[tuple[dict[str, Any], str]]
    ) -> list[tuple[dict[str, Any], str]]:
        now = time.monotonic()
        with self._lock:
            release, self._release_pending = self._release_pending, False
            pending, self._held = self._held, {}
        try:
            state = _engine.compiled()
        except Exception:
            state = None
        out: list[tuple[dict[str, Any], str]] = []
        kept: dict[frozenset[Any], tuple[dict[str, Any], str, float]] = {}
        for parent, data in fresh:
            key = frozenset(parent.items())
            previous = pending.pop(key, None)
            text = (previous[1] if previous else "") + data
            if not text:
                continue
            if state is None:
                out.append((parent, _engine.WITHHELD))
                continue
            carry = self._take_carry(key)
            raw = text
            text = self._fold.mask_start(text, state)
            if carry:
                text = mask_continuation(carry, text, state)
            emit, rest = split_after(carry, text, state, mask=False)
            self._fold.went_out(_sent(raw, rest), state)
            if emit:
                out.append((parent, emit))
            kept_carry = next_carry(carry, raw, text, emit, rest, state) if carry else ""
            if not kept_carry:
                kept_carry = line_end_carry(carry + raw, rest, state)
            if kept_carry:
                self._carry[key] = kept_carry
                self._last = (key, kept_carry)
            if rest and release:
                out.append((parent, self._let_go(key, self._carry.pop(key, ""), rest, state)))
                self._fold.went_out(rest, state)
            elif rest:
                kept[key] = (parent, rest, now + HOLD_SECONDS)
        for key, (parent, rest, due) in pending.items():
            if release or due <= now:
                carry = self._carry.pop(key, "") if state is not None else ""
                let_go = self._let_go(key, carry, rest, state) if state else _engine.WITHHELD
                out.append((parent, let_go))
                if state is not None:
                    self._fold.went_out(rest, state)
            else:
                kept[key] = (parent, rest, due)
        if kept:
            with self._lock:
                self._held.update(kept)
            _timer.schedule(self, min(due for _, _, due in kept.values()))
        return out

    def _pass_through(
        self,
        fresh: list[tuple[dict[str, Any], str]],
    ) -> list[tuple[dict[str, Any], str]] | None:
        """The common flush, answered without the bookkeeping: nothing held or
        carried, no chunk ends in a piece to hold back and none continues a value
        folded before it (the fold carry). Each chunk then goes out as it is --
        exactly what the full path would send -- or None: take the full path."""
        try:
            state = _engine.compiled()
        except Exception:
            return None
        if not state.empty:
            hold_from = state.hold_from
            fold = self._fold
            before = (fold.tail, fold.folded)
            for _parent, data in fresh:
                if not data:
                    continue
                if hold_from(data) != len(data) or fold.mask_start(data, state) != data:
                    fold.tail, fold.folded = before  # the full path starts from it
                    return None
                fold.went_out(data, state)
        if all(data for _parent, data in fresh):
            return fresh
        return [item for item in fresh if item[1]]

    # -- what went out before: the carry -------------------------------------------
    #
    # A piece held back for HOLD_SECONDS (or until the cell ended) has to go out
    # before the rest of the value may arrive. nbformat joins a cell's stream
    # chunks, so the pieces must not add up to a value there: the released piece
    # is masked when it is long enough to matter, and it is remembered (raw) as
    # the stream's *carry*, so the start of the next chunk -- of the same parent,
    # or of the next parent writing to this stream (a thread printing after its
    # cell ended) -- that completes a pattern with it is masked too.

    def _take_carry(self, key: frozenset[Any]) -> str:
        carry = self._carry.pop(key, "")
        if not carry and self._last is not None:
            last_key, last_carry = self._last
            if last_key != key and self._carry.get(last_key) == last_carry:
                carry = self._carry.pop(last_key)
        return carry

    def _let_go(self, key: frozenset[Any], carry: str, rest: str, state: Compiled) -> str:
        out, tail = let_go(carry, rest, state)
        self._carry[key] = tail
        self._last = (key, tail)
        return out

    def _flush_soon(self) -> None:
        stream = self._stream()
        pub_thread = getattr(stream, "pub_thread", None)
        if stream is None or pub_thread is None:
            return
        pub_thread.schedule(stream._flush)

    def release(self) -> None:
        """Send the held pieces (masked) with the next flush, and flush now."""
        with self._lock:
            if not self._held:
                return
            self._release_pending = True
        stream = self._stream()
        if stream is not None and getattr(stream, "pub_thread", None) is not None:
            stream.flush()

    def release_due(self) -> None:
        self._flush_soon()

    def close(self) -> None:
        self.release()
        _live.discard(self)


class _Timer:
    """One daemon thread releasing pieces whose hold time is over.

    One thread for all streams rather than a timer per write: a character-by-
    character writer would otherwise start a thread per character.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[_Releasable, float] = {}
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def schedule(self, hold: _Releasable, due: float) -> None:
        with self._cond:
            self._due[hold] = due
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="nbcreds-holdback", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due:
                    self._cond.wait()
                now = time.monotonic()
                ready = [hold for hold, due in self._due.items() if due <= now]
                for hold in ready:
                    del self._due[hold]
                if not ready:
                    self._cond.wait(min(self._due.values()) - now)
                    continue
            for hold in ready:
                try:
                    hold.release_due()
                except Exception:  # noqa: S112 - a closed stream must not kill the thread
                    continue


_timer = _Timer()

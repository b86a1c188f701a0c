"""Matching what a reader sees: markup removed, entities decoded, folded lines joined.

A renderer puts things *inside* a value: ``rich`` colours digit groups with ANSI
escapes (or ``<span>``s in HTML), pygments splits a string across token spans in
HTML and writes ``-`` as ``\\PYZhy{}`` in LaTeX, a console or ``textwrap.fill``
breaks a long value over lines (often indenting the continuation). The raw
matcher sees none of these as the value. Here a text is cut into *segments* --
plain runs, markup (tags, escape sequences, macros that render nothing, a line
break with the whitespace around it) and atoms (an entity or macro that renders
one character) -- and the *visible text* (runs and decoded atoms) is matched.
Each match is mapped back to the original's runs and atoms: the first piece is
replaced by the mask, the other pieces are dropped, and every markup segment is
kept, so tags stay balanced, escapes stay well formed and lines stay lines.

Cost: a text is first masked as is (:meth:`Compiled.sub`). Only when it can hold
markup or a line break is the visible text built -- with one C-level
``re.sub`` for ANSI text and line breaks -- and scanned once more; the segment
map is built only when that scan finds something the first did not.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable
from typing import Literal

from ._engine import Compiled

__all__ = [
    "Kind",
    "has_spaces",
    "masked_closer",
    "masked_spaced",
    "masked_text",
    "masked_view",
    "visible",
]

Kind = Literal["plain", "html", "markdown", "latex"]

#: the MIME types whose text is matched through their markup
MIME_KINDS: dict[str, Kind] = {
    "text/html": "html",
    "text/markdown": "markdown",
    "text/latex": "latex",
}

# A line break with the padding after it: the newline, the next line's indent and
# an optional box-drawing border (rich panels and tables). It starts with its
# newline so that the regex engine only tries it there; the padding *before* the
# newline (trailing blanks, the right border) is taken off the preceding run.
_BREAK = r"\n[ \t]*[│┃║]?[ \t]*"
_BEFORE_BREAK = " \t\r│┃║"
#: a line break with the blanks around it, read as a space (see :func:`masked_spaced`)
_SPACED_BREAK = r"[ \t\r│┃║]*\n[ \t]*[│┃║]?[ \t]*"
# ANSI/VT escapes: CSI (colours, cursor), OSC (titles, rich's hyperlinks), 2-byte
_ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]"
_TAG = r"<!--.*?-->|<[A-Za-z/!?][^<>]*>"
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?"
_MD_ESCAPE = r"\\[!-/:-@\[-`{-~]"
# pygments' LaTeX escapes (\PYZhy{} is "-") and plain LaTeX ones (\_ is "_")
_PYGMENTS_CHARS = {
    "bs": "\\",
    "ob": "{",
    "cb": "}",
    "ca": "^",
    "us": "_",
    "am": "&",
    "lt": "<",
    "gt": ">",
    "sh": "#",
    "pc": "%",
    "dl": "$",
    "hy": "-",
    "sq": "'",
    "dq": '"',
    "ti": "~",
    "at": "@",
    "lb": "[",
    "rb": "]",
}
_LATEX_NAMED = {
    "textbackslash": "\\",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textunderscore": "_",
    "textless": "<",
    "textgreater": ">",
    "textbar": "|",
}
_LATEX = (
    r"(?P<pyz>\\PYZ(?P<pyzc>[a-z]{2})\{\})"
    r"|(?P<named>\\(?P<namedc>[a-z]+)\{\})"
    r"|(?P<esc>\\[_&%$#{}])"
    r"|\\PY\{[^{}]*\}\{"
    r"|\\[A-Za-z@]+\*?(?:\[[^\]]*\])?"
    r"|[{}]"
)

# The expressions are compiled on first use, not at import: compiling them is most of
# the cost of importing this module, which ``%load_ext nbcreds`` pays (masking is
# installed at load, but nothing needs them until a value is registered).
_SOURCES: dict[str, tuple[str, int]] = {
    "strip": (f"{_ANSI}|{_BREAK}", 0),  # what plain text's visible text drops
    "spaced": (_SPACED_BREAK, 0),  # a break read as a space (masked_spaced)
    "plain": (f"(?P<markup>{_ANSI}|{_BREAK})", 0),
    "html": (f"(?P<markup>{_TAG}|{_BREAK})|(?P<entity>{_ENTITY})", re.DOTALL),
    "markdown": (
        f"(?P<markup>{_TAG}|{_BREAK})|(?P<entity>{_ENTITY})|(?P<mdesc>{_MD_ESCAPE})",
        re.DOTALL,
    ),
    "latex": (f"(?P<markup>{_BREAK})|{_LATEX}", 0),
}
_compiled: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    """The expression ``name`` of :data:`_SOURCES`, compiled once."""
    found = _compiled.get(name)
    if found is None:
        found = _compiled[name] = re.compile(*_SOURCES[name])
    return found


def _decode(match: re.Match[str], group: str) -> str:
    """What one atom renders as."""
    if group == "entity":
        return html.unescape(match.group())
    if group == "pyz":
        return _PYGMENTS_CHARS.get(match.group("pyzc"), "")
    if group == "named":
        return _LATEX_NAMED.get(match.group("namedc"), "")
    return match.group()[1]  # a backslash escape (Markdown, LaTeX)


# (visible start, visible end, original start, original end, atomic)
_Segment = tuple[int, int, int, int, bool]


def visible(text: str, kind: Kind = "plain", fold: str = "") -> tuple[str, list[_Segment]]:
    """The text a reader sees in ``text`` and the segments mapping it back.

    Each segment is ``(vis_start, vis_end, orig_start, orig_end, atomic)``: a run
    of the original shown as is (``atomic`` false, same length on both sides) or
    one token (entity, macro) rendered as ``text[vis_start:vis_end]``. Markup
    has no segment: it is what lies between them in the original. A line break
    reads as ``fold``: nothing (a value broken anywhere), or a space (a value
    with spaces, wrapped at one of them); a break read as a space is an atom
    that :func:`_rewrite` keeps.
    """
    pieces: list[str] = []
    segments: list[_Segment] = []
    shown = 0
    position = 0
    for match in _pattern(kind).finditer(text):
        start, end = match.span()
        group = match.lastgroup
        if text[start] == "\n":  # a line break: also its trailing padding
            start = position + len(text[position:start].rstrip(_BEFORE_BREAK))
        if start > position:
            pieces.append(text[position:start])
            segments.append((shown, shown + start - position, position, start, False))
            shown += start - position
        if group is None or group == "markup":
            decoded = fold if fold and text[match.start()] == "\n" else ""
        else:
            decoded = _decode(match, group)
        if decoded:
            pieces.append(decoded)
            segments.append((shown, shown + len(decoded), start, end, True))
            shown += len(decoded)
        position = end
    if position < len(text):
        pieces.append(text[position:])
        segments.append((shown, shown + len(text) - position, position, len(text), False))
    return "".join(pieces), segments


def _quick_view(text: str, kind: Kind) -> str | None:
    """The visible text, cheaply, or None when it cannot differ from ``text``.

    Plain text without escapes or padded line breaks -- nearly every stream
    message -- costs two ``in`` tests and a ``str.replace``."""
    if kind == "plain":
        escapes = "\x1b" in text
        if "\n" not in text:
            return _pattern("strip").sub("", text) if escapes else None
        if not escapes and _plain_lines(text):
            return text.replace("\n", "")
        view = visible(text, kind)[0]
    elif kind == "latex":
        if "\\" not in text and "{" not in text and "\n" not in text:
            return None
        view = visible(text, kind)[0]
    else:
        if "<" not in text and "&" not in text and "\n" not in text and "\\" not in text:
            return None
        view = visible(text, kind)[0]
    return None if view == text else view


def masked_view(text: str, state: Compiled, kind: Kind = "plain") -> str:
    """``text`` (already masked as is) with every value hidden by markup or folding
    masked too. Returns ``text`` itself when there is nothing more to mask."""
    if len(text) < state.min_length:
        return text
    view = _quick_view(text, kind)
    if view is None or not state.matcher.search(view):
        return text
    shown, segments = visible(text, kind)
    spans = state.matcher.spans(shown)
    if not spans:
        return text
    return _rewrite(text, shown, segments, spans, state.replacement())


def masked_text(text: str, state: Compiled, kind: Kind = "plain") -> str:
    """``text`` masked as is, then through its markup and folds.

    Most stream text is answered by one scan (:meth:`Compiled.clean`). Other
    plain multi-line text is scanned as its joined lines (when no pattern holds
    a line break, a match in the text is one there too), or as the text and its
    lines joined side by side: when the joined part holds no match beyond the
    text's own, the text's part is the answer."""
    if len(text) < state.min_length:
        return text
    if kind == "plain" and state.clean(text):
        return text  # most stream text: one scan says there is nothing anywhere
    return masked_closer(text, state, kind)


def masked_closer(text: str, state: Compiled, kind: Kind = "plain") -> str:
    """:func:`masked_text` past its quick check (:meth:`Compiled.clean`), for a
    caller that made it already."""
    # folds at a space first: the other passes may mask a part of such a value
    # (a window on one line), and what is left of it would no longer match whole
    return _masked_closer(masked_spaced(text, state, kind), state, kind)


def masked_spaced(text: str, state: Compiled, kind: Kind = "plain") -> str:
    """``text`` with every value that has a space, wrapped at one of its spaces
    (``textwrap.fill``, rich), masked: its visible text read with each line
    break as one space. Only while some pattern holds a blank
    (:attr:`Compiled.blank_free`), and only for a text with a line break."""
    if state.blank_free or "\n" not in text or len(text) < state.min_length:
        return text
    if not has_spaces(state):
        return text  # the blanks are line breaks (a PEM key): nothing to wrap at a space
    quick = _pattern("spaced").sub(" ", text)
    if "\x1b" in quick:
        quick = _pattern("strip").sub("", quick)
    if kind == "plain" and not state.matcher.search(quick):
        return text
    shown, segments = visible(text, kind, fold=" ")
    spans = state.matcher.spans(shown)
    if not spans:
        return text
    return _rewrite(text, shown, segments, spans, state.replacement())


_spaces_of: tuple[Compiled | None, bool] = (None, False)


def has_spaces(state: Compiled) -> bool:
    """True when some pattern of ``state`` holds a space (computed once per state)."""
    global _spaces_of
    last, answer = _spaces_of
    if last is not state:
        answer = not state.blank_free and any(" " in p for p in state.matcher.patterns)
        _spaces_of = (state, answer)
    return answer


def _masked_closer(text: str, state: Compiled, kind: Kind) -> str:
    if kind == "plain" and "\n" in text and _plain_lines(text):
        if (
            state.newline_free
            and not state.blank_free  # else clean() has just scanned them
            and not state.matcher.search(text.replace("\n", ""))
        ):
            # no pattern spans a line break, so a match in the text is one in its
            # joined lines too: one scan of those says there is none in either
            return text
        combined = text + _SEPARATOR + text.replace("\n", "")
        both = state.sub(combined)
        if both is combined:
            return text  # nothing anywhere: the common case
        first, separator, second = both.partition(_SEPARATOR)
        if separator and second == first.replace("\n", "") and _SEPARATOR not in second:
            return first
    if kind == "plain" and "\x1b" in text:
        # escapes first: a raw match may run into an escape's own bytes (the
        # ``\\`` ending an OSC hyperlink reads as the JSON-escaped ``\\/`` of a
        # value starting with ``/``) and cut the sequence; the view keeps it whole
        return state.sub(masked_view(text, state, kind))
    return masked_view(state.sub(text), state, kind)


#: between a text and its joined lines in one scan (no pattern holds it: NUL)
_SEPARATOR = "\n\x00\x00\n"


def _plain_lines(text: str) -> bool:
    """True when joining ``text``'s lines is all its visible text needs: no
    escapes, no padding around its line breaks."""
    return (
        "\x1b" not in text
        and text.isascii()  # O(1); the box borders are not ASCII
        and "\n " not in text
        and " \n" not in text
        and "\t" not in text
        and "\r" not in text
    )


def _rewrite(
    text: str,
    shown: str,
    segments: list[_Segment],
    spans: list[tuple[int, int, str | None]],
    replacement: str | Callable[[str | None], str],
) -> str:
    starts = [segment[0] for segment in segments]
    edits: list[tuple[int, int, str]] = []
    for vis_start, vis_end, label in spans:
        mask = replacement(label) if callable(replacement) else replacement
        index = max(bisect.bisect_right(starts, vis_start) - 1, 0)
        first = True
        while index < len(segments) and segments[index][0] < vis_end:
            seg_vis_start, seg_vis_end, orig_start, orig_end, atomic = segments[index]
            index += 1
            if seg_vis_end <= vis_start:
                continue
            if atomic and "\n" in text[orig_start:orig_end]:
                continue  # a line break read as a space: the line stays a line
            if not atomic:
                lo = orig_start + max(vis_start, seg_vis_start) - seg_vis_start
                hi = orig_start + min(vis_end, seg_vis_end) - seg_vis_start
            else:
                lo, hi = orig_start, orig_end
            if edits and edits[-1][1] > lo:
                # an atom shared with the previous span: already hidden
                lo = edits[-1][1]
                if lo >= hi:
                    continue
            edits.append((lo, hi, mask if first else ""))
            first = False
    parts: list[str] = []
    position = 0
    for lo, hi, new in edits:
        parts.append(text[position:lo])
        parts.append(new)
        position = hi
    parts.append(text[position:])
    return "".join(parts)

"""Matching through markup (HTML, LaTeX, Markdown, ANSI) and folded lines."""

from __future__ import annotations

import base64
import html
import textwrap
from html.parser import HTMLParser

from hypothesis import example, given
from hypothesis import strategies as st

import nbcreds
from nbcreds.masking import _egress, _engine
from nbcreds.masking._markup import masked_text, visible

VALUE = "mk7Qz-Secret_Value-9x"
WINDOW = 16

_ALPHABET = st.characters(codec="ascii", categories=["L", "N"], include_characters="-_./+=~")


def _windows(value: str) -> list[str]:
    return [value[i : i + WINDOW] for i in range(max(len(value) - WINDOW + 1, 1))]


def _leaks(shown: str, value: str) -> bool:
    return any(window in shown for window in _windows(value))


class _Structure(HTMLParser):
    """The sequence of tags (with attributes) and the text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str, tuple[tuple[str, str | None], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("end", tag, ()))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(document: str) -> _Structure:
    parser = _Structure()
    parser.feed(document)
    parser.close()
    return parser


def _state() -> _engine.Compiled:
    return _engine.compiled()


# -- the visible text -------------------------------------------------------------


def test_visible_text_of_html_decodes_entities_and_drops_tags() -> None:
    shown, _ = visible('<p class="x">a&amp;b<span>c&#x41;</span></p>', "html")
    assert shown == "a&bcA"


def test_visible_text_of_pygments_latex() -> None:
    shown, _ = visible(
        r"\PY{n}{tok}\PY{o}{=}\PY{l+s+s2}{\PYZdq{}}\PY{n}{a\PYZhy{}b\PYZus{}c}", "latex"
    )
    assert shown == 'tok="a-b_c'


def test_visible_text_of_ansi_text() -> None:
    shown, _ = visible("\x1b[1;31mred\x1b[0m and \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "plain")
    assert shown == "red and link"


# -- masking through markup ---------------------------------------------------------


def test_pygments_html_and_latex_of_code_holding_the_value() -> None:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter, LatexFormatter
    from pygments.lexers import PythonLexer

    nbcreds.mask(VALUE)
    code = f'token = "{VALUE}"\nprint(token)\n'
    state = _state()
    for formatter, kind in ((HtmlFormatter(), "html"), (LatexFormatter(), "latex")):
        rendered = highlight(code, PythonLexer(), formatter)
        assert state.sub(rendered) == rendered or kind == "html"  # split: raw matching misses it
        shown = masked_text(rendered, state, kind)  # type: ignore[arg-type]
        assert not _leaks(visible(shown, kind)[0], VALUE)  # type: ignore[arg-type]
        assert "****" in shown


def test_rich_ansi_output_is_masked() -> None:
    import io

    from rich.console import Console

    nbcreds.mask(VALUE)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=12)
    console.print(f"key={VALUE} 12345 [bold]{VALUE}[/bold]")
    rendered = buffer.getvalue()
    assert "\x1b[" in rendered
    shown = masked_text(rendered, _state())
    assert not _leaks(visible(shown)[0].replace("\n", ""), VALUE)
    assert "****" in shown


def test_html_in_a_display_message_is_masked_through_its_tags() -> None:
    nbcreds.mask(VALUE)
    document = f"<b>{VALUE[:10]}</b><i>{html.escape(VALUE[10:])}</i>"  # halves < 16
    content = {"data": {"text/html": document, "text/plain": "x"}, "metadata": {}}
    masked = _egress.mask_message_part(content, _state())
    assert masked["data"]["text/html"] == "<b>****</b><i></i>"
    assert content["data"]["text/html"] == document  # the caller's object is untouched


def test_plain_strings_without_markup_are_returned_as_is() -> None:
    nbcreds.mask(VALUE)
    content = {"name": "stdout", "text": "nothing here, just a line\nand another\n"}
    assert _egress.mask_message_part(content, _state()) is content


@given(
    value=st.text(_ALPHABET, min_size=16, max_size=40),
    cuts=st.lists(st.integers(min_value=1, max_value=39), max_size=5),
    tags=st.lists(
        st.sampled_from(['<span class="mi">', "</span>", "<b>", "</b>", "<br/>", "<!-- c -->"]),
        min_size=5,
        max_size=5,
    ),
    before=st.text(_ALPHABET, max_size=10),
)
def test_tags_inserted_in_a_value_never_let_it_through(
    value: str, cuts: list[int], tags: list[str], before: str
) -> None:
    from nbcreds.masking import registry

    registry.clear()
    nbcreds.mask(value)
    positions = sorted({c for c in cuts if c < len(value)})
    pieces, last = [], 0
    for position, tag in zip(positions, tags, strict=False):
        pieces += [html.escape(value[last:position]), tag]
        last = position
    pieces.append(html.escape(value[last:]))
    document = f"<div>{html.escape(before)} {''.join(pieces)} end</div>"
    shown = masked_text(document, _state(), "html")
    original, masked = _parse(document), _parse(shown)
    assert masked.tags == original.tags  # the markup is intact
    assert not _leaks("".join(masked.text), value)
    assert "****" in "".join(masked.text)


@given(
    value=st.text(_ALPHABET, min_size=16, max_size=40),
    cuts=st.lists(st.integers(min_value=1, max_value=39), max_size=6),
    codes=st.lists(
        st.sampled_from(["\x1b[31m", "\x1b[0m", "\x1b[1;38;2;10;20;30m", "\x1b]8;;u\x1b\\"]),
        min_size=6,
        max_size=6,
    ),
)
# the ``\\`` ending an OSC hyperlink, then a value starting with ``/``: reads as ``\\/``
@example(value="00/00000000000000", cuts=[2], codes=["\x1b]8;;u\x1b\\"] + ["\x1b[31m"] * 5)
def test_ansi_codes_inserted_in_a_value_never_let_it_through(
    value: str, cuts: list[int], codes: list[str]
) -> None:
    from nbcreds.masking import registry

    registry.clear()
    nbcreds.mask(value)
    positions = sorted({c for c in cuts if c < len(value)})
    pieces, last = [], 0
    for position, code in zip(positions, codes, strict=False):
        pieces += [value[last:position], code]
        last = position
    pieces.append(value[last:])
    text = "out: " + "".join(pieces) + "\x1b[0m\n"
    shown = masked_text(text, _state())
    assert not _leaks(visible(shown)[0], value)
    # every escape sequence is still there, in order
    assert [c for c in codes[: len(positions)] if c in shown] == codes[: len(positions)]


# -- folded lines ----------------------------------------------------------------


def test_textwrap_fill_is_caught() -> None:
    value = "tw-" + "k9Zq" * 12  # 51 characters, no spaces: textwrap cuts it
    nbcreds.mask(value)
    text = textwrap.fill(f"the token is {value} and more words after it", width=20)
    assert "\n" in text
    assert value not in text
    shown = masked_text(text, _state())
    assert not _leaks(shown.replace("\n", ""), value)


def test_short_value_folded_with_indent_is_caught() -> None:
    nbcreds.mask(VALUE)  # 21 characters: neither half is a 16-character window
    text = f"    config:  {VALUE[:10]}\n        {VALUE[10:]}\n"
    shown = masked_text(text, _state())
    assert VALUE[:10] not in shown
    assert VALUE[10:] not in shown
    assert shown.count("\n") == 2  # lines stay lines


def test_base64_wrapped_at_64_and_76_columns_is_caught() -> None:
    value = "b64-value-" + "Qx7" * 20
    nbcreds.mask(value)
    blob = base64.b64encode(b"header:" + value.encode() + b":trailer").decode()
    for width in (64, 76):
        wrapped = "\n".join(blob[i : i + width] for i in range(0, len(blob), width))
        shown = masked_text(wrapped, _state())
        assert "****" in shown
        for form in nbcreds.masking.variants(value):
            if len(form) >= WINDOW:
                assert form not in shown.replace("\n", "")


def test_rich_panel_fold_is_caught() -> None:
    import io

    from rich.console import Console
    from rich.panel import Panel

    nbcreds.mask(VALUE)
    buffer = io.StringIO()
    Console(file=buffer, width=18, force_terminal=False).print(Panel(VALUE))
    rendered = buffer.getvalue()
    assert VALUE not in rendered
    shown = masked_text(rendered, _state())
    assert "****" in shown
    joined = "".join(
        line.strip(" │╭╮╰╯─") for line in shown.splitlines()
    )  # what a reader pieces together
    assert not _leaks(joined, VALUE)

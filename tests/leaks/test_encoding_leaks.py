"""The leak suite for encodings, folds and timing (Masking v2), through a real kernel.

``notebooks/encodings.ipynb`` makes each form with the real encoder in the
kernel: JSON inside JSON, ``\\/``, HTML-escaped JSON, a URL inside a
``redirect=`` parameter, Python bytes repr, shell and command-line quoting, CSV
and SQL quote doubling, XML (numeric character references included), YAML,
hex, letter case, a JSON-valued secret's leaf, lines folded by ``textwrap`` and
base64 wrapping, and values written in pieces over time and from a thread after
the cell ended. The same encoders run here on each value; every message, the
saved ``.ipynb`` (and each stream as nbformat joins it), the ``%logstart -o``
log and the kernel's console are scanned for the value, each encoded form and
any 16-character slice of them, as a reader would see them (markup and entities
decoded, folded lines joined).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import secrets
import shlex
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import nbformat
import pytest
import yaml

from .conftest import Run, dump, execute_notebook, joined_streams, no_leak, no_window

pytestmark = pytest.mark.slow


@dataclass(frozen=True, repr=False)
class EncodingSecrets:
    #: quotes, slashes, a backslash, '&<>', spaces and non-ASCII: every encoder changes it
    pw: str
    #: words and spaces: a fold replaces a space
    phrase: str
    #: 64 ASCII characters: letter case, hex, base64 wrapping
    long: str
    #: a JSON-valued secret and the leaf the notebook prints
    document: str
    leaf: str

    def __repr__(self) -> str:  # a failing test shows its arguments: never the values
        return "<EncodingSecrets>"

    def values(self) -> list[str]:
        return [self.pw, self.phrase, self.long, self.leaf]

    def env(self) -> dict[str, str]:
        return {
            "ENC_PW": self.pw,
            "ENC_PHRASE": self.phrase,
            "ENC_LONG": self.long,
            "ENC_JSON": self.document,
        }


@pytest.fixture(scope="module")
def enc_secrets() -> EncodingSecrets:
    hexed = secrets.token_hex
    leaf = f"pw-{secrets.token_urlsafe(12)}/é\"x'"
    document = json.dumps({"user": f"svc-{hexed(3)}", "password": leaf, "n": 3})
    return EncodingSecrets(
        # a character some encoder changes at least every 8 characters
        pw=f'P/{hexed(3)} é"{hexed(3)}\\x\'{hexed(3)}<&>{hexed(3)} ü/{hexed(3)}\\"~',
        phrase=f"horse {hexed(3)} battery {hexed(3)} staple {hexed(3)} ok",
        long="lv" + secrets.token_urlsafe(48)[:62],
        document=document,
        leaf=leaf,
    )


def _csv(value: str) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([value])
    return out.getvalue().strip()


def _xml(value: str, encoding: str, attribute: bool) -> str:
    element = ET.Element("t", key=value) if attribute else ET.Element("t")
    if not attribute:
        element.text = value
    out = ET.tostring(element, encoding=encoding)
    text = out.decode("ascii") if isinstance(out, bytes) else out
    return text.split("?>")[-1].strip()


def _yaml(dump: Callable[..., str], value: str, **options: Any) -> str:
    """The scalar ``dump`` writes for ``value`` as a mapping's value."""
    return dump({"t": value}, width=10**9, **options).split(": ", 1)[1].strip()


#: The encoders the notebook runs, applied here to a value alone (with at most a
#: short wrapper: a 16-character window of a form always holds some of the value).
ENCODERS: dict[str, Callable[[str], str]] = {
    "json-in-json ascii": lambda v: json.dumps(json.dumps(v)),
    "json-in-json unicode": lambda v: json.dumps(
        json.dumps(v, ensure_ascii=False), ensure_ascii=False
    ),
    "json-in-json mixed": lambda v: json.dumps(json.dumps(v, ensure_ascii=False)),
    "json string repr": lambda v: repr(json.dumps(v)),
    "json string repr unicode": lambda v: repr(json.dumps(v, ensure_ascii=False)),
    "json \\/": lambda v: json.dumps(v).replace("/", "\\/"),
    "html-escaped json": lambda v: html.escape(json.dumps(v)),
    "url twice": lambda v: quote(quote(v, safe=""), safe=""),
    "url plus twice": lambda v: quote_plus(quote_plus(v)),
    "bytes repr": lambda v: repr(v.encode()),
    "shlex.quote": shlex.quote,
    "shlex.join": lambda v: shlex.join([f"X-Token: {v}"]),
    "set -x quoting": lambda v: v.replace("'", "'\\''"),
    "list2cmdline": lambda v: subprocess.list2cmdline([v]),
    "list2cmdline option": lambda v: subprocess.list2cmdline([f"--token={v}"]),
    "csv": _csv,
    "sql": lambda v: v.replace("'", "''"),
    "xml text us-ascii": lambda v: _xml(v, "us-ascii", False),
    "xml attribute us-ascii": lambda v: _xml(v, "us-ascii", True),
    "xml text": lambda v: _xml(v, "unicode", False),
    "xml attribute": lambda v: _xml(v, "unicode", True),
    "yaml double-quoted": lambda v: _yaml(yaml.dump, v, default_style='"'),
    "yaml unicode": lambda v: _yaml(yaml.dump, v, default_style='"', allow_unicode=True),
    "yaml safe_dump": lambda v: _yaml(yaml.safe_dump, v),
    "hex": lambda v: v.encode().hex(),
    "HEX": lambda v: v.encode().hex().upper(),
    "upper": str.upper,
    "lower": str.lower,
}


def _forms(values: list[str]) -> list[str]:
    """Each value and every encoded form of it (deduplicated)."""
    found = dict.fromkeys(values)
    for value in values:
        for encode in ENCODERS.values():
            found[encode(value)] = None
    return list(found)


# What a reader pieces together from a display: colours and tags dropped,
# entities decoded, lines joined (with nothing, or with the space a fold took).
_ANSI = re.compile(r"(?:\x1b|\\u001b)\[[0-9;]*m")
_TAGS = re.compile(r"<[^<>]*>")
_FOLDS = re.compile(r"[ \t]*(?:\\n|\n)[ \t]*")


def _readings(haystack: str | bytes) -> list[str]:
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    plain = _ANSI.sub("", text)
    decoded = html.unescape(plain)
    untagged = html.unescape(_TAGS.sub("", plain))
    return [
        text,
        plain,
        decoded,
        _FOLDS.sub("", plain),
        _FOLDS.sub(" ", plain),
        untagged,
        _FOLDS.sub("", untagged),
    ]


def _scan(haystack: str | bytes, forms: list[str]) -> None:
    __tracebackhide__ = True
    for reading in _readings(haystack):
        no_leak(reading, forms)
        no_window(reading, forms)


@pytest.fixture(scope="module")
def run(kernel_name: str, enc_secrets: EncodingSecrets, tmp_path_factory: Any) -> Run:
    return execute_notebook(
        "encodings", kernel_name, enc_secrets.env(), Path(tmp_path_factory.mktemp("encodings"))
    )


def _code_cells(run: Run) -> list[Any]:
    return [c for c in run.notebook.cells if c.cell_type == "code"]


def test_the_encoders_change_the_values(enc_secrets: EncodingSecrets) -> None:
    """Each encoder makes a form that differs from the value (else its vector
    would test nothing the raw scan does not)."""
    for name, encode in ENCODERS.items():
        changed = [v for v in enc_secrets.values() if v not in encode(v)]
        assert changed, name
    assert "&#233;" in _xml(enc_secrets.pw, "us-ascii", False)
    assert '\\"' in subprocess.list2cmdline([enc_secrets.pw])


def test_no_value_encoding_or_slice_in_any_message(run: Run, enc_secrets: EncodingSecrets) -> None:
    forms = _forms(enc_secrets.values())
    assert len(run.messages) > 50
    for message in run.messages:
        _scan(dump(message), forms)


def test_no_value_encoding_or_slice_saved_or_on_disk(
    run: Run, enc_secrets: EncodingSecrets
) -> None:
    """The saved notebook, each stream of each cell as nbformat joins it, every
    output's data, the ``%logstart -o`` log and the kernel's console."""
    forms = _forms(enc_secrets.values())
    _scan(run.ipynb, forms)
    streams = joined_streams(run.ipynb)
    for joined in streams:
        _scan(joined, forms)
    assert len(streams) > 10
    saved = nbformat.reads(run.ipynb.decode(), as_version=4)
    for cell in (c for c in saved.cells if c.cell_type == "code"):
        for output in cell.outputs:
            for text in output.get("data", {}).values():
                _scan(text if isinstance(text, str) else json.dumps(text), forms)
    log = run.files["session.log"]
    assert b"#[Out]#" in log
    _scan(log, forms)
    for content in run.files.values():
        _scan(content, forms)
    _scan(run.kernel_output, forms)


def test_every_vector_produced_masked_output(run: Run) -> None:
    """Each tagged cell really showed a value (so the scans above can fail)."""
    tagged = [i for i, c in enumerate(_code_cells(run)) if "mask" in c.metadata.get("tags", [])]
    assert len(tagged) >= 15
    missing = [
        i for i, index in enumerate(tagged) if "****" not in run.text_for(run.cell_msg_ids[index])
    ]
    assert missing == []


def test_the_late_and_split_output_came_out(run: Run) -> None:
    saved = nbformat.reads(run.ipynb.decode(), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in saved.cells])
    for marker in ("first: ", "pw: ", "late: ", "after the thread", "words first"):
        assert marker in text


def test_json_valued_secret_masks_its_leaf_but_not_its_keys(
    run: Run, enc_secrets: EncodingSecrets
) -> None:
    saved = nbformat.reads(run.ipynb.decode(), as_version=4)
    cell = next(c for c in saved.cells if "password=" in json.dumps(c.get("outputs", [])))
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "password=****" in text
    assert enc_secrets.leaf not in text


def test_base64_of_the_values_is_what_the_folded_cells_print(enc_secrets: EncodingSecrets) -> None:
    """The fold vectors are real: the blob's joined lines hold the values' base64."""
    blob = base64.b64encode(("header-" * 5 + enc_secrets.pw + enc_secrets.phrase).encode())
    with pytest.raises(AssertionError):
        _scan(
            "\n".join(blob.decode()[i : i + 64] for i in range(0, len(blob), 64)), [enc_secrets.pw]
        )

"""The notebook reader agrees with nbformat, and the walker names every place."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbcreds.scan._walk import notebook_fields, read_notebook


def sample() -> nbformat.NotebookNode:
    code = new_code_cell("a = 1\nb = 2\nprint(a)\n")
    code.outputs = [
        new_output("stream", name="stderr", text="warn 1\nwarn 2\n"),
        new_output(
            "execute_result",
            execution_count=1,
            data={
                "text/plain": "line 1\nline 2",
                "text/html": "<b>x</b>\n<i>y</i>",
                "application/json": {"k": ["v1\n", "v2"]},
                "image/png": base64.b64encode(b"\x89PNG" * 40).decode(),
            },
        ),
        new_output("error", ename="E", evalue="bad", traceback=["t1", "t2"]),
    ]
    md = new_markdown_cell("# title\ntext\n")
    md.attachments = {"a.txt": {"text/plain": "x\ny\n"}}
    return new_notebook(
        cells=[code, md], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )


def test_reader_joins_lines_exactly_like_nbformat(tmp_path: Path) -> None:
    text = nbformat.writes(sample())
    saved = json.loads(text)
    assert isinstance(saved["cells"][0]["source"], list)  # the file really has split lines
    ours = read_notebook(tmp_path / "x.ipynb", text)
    theirs = nbformat.reader.reads(text)
    assert json.dumps(ours["cells"], sort_keys=True) == json.dumps(theirs["cells"], sort_keys=True)


def test_walker_names_every_place(tmp_path: Path) -> None:
    nb = read_notebook(tmp_path / "x.ipynb", nbformat.writes(sample()))
    places = {f.location for f in notebook_fields(nb)}
    for expected in (
        "cell 1:source",
        "cell 1:output 1 (stream stderr)",
        "cell 1:output 2 (text/plain)",
        "cell 1:output 2 (text/html)",
        "cell 1:output 2 (application/json)",
        "cell 1:output 2 (image/png)",
        "cell 1:output 3 (traceback)",
        "cell 1:output 3 (error evalue)",
        "cell 2:source",
        "cell 2:attachment a.txt (text/plain)",
        "notebook metadata:kernelspec",
    ):
        assert expected in places, expected
    binary = {f.location for f in notebook_fields(nb) if f.binary}
    assert binary == {"cell 1:output 2 (image/png)"}

"""Small display objects the magics return: a table that renders as HTML in
JupyterLab and as aligned text in a terminal.

They hold names and metadata only -- never a secret value -- so returning one
as a cell's result is safe.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["Message", "Table"]


class Table:
    """Rows of strings under column headers, with both text and HTML reprs."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        title: str | None = None,
        empty: str = "(none)",
    ) -> None:
        self.columns = list(columns)
        self._rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
        self.title = title
        self.empty = empty

    @property
    def rows(self) -> list[dict[str, str]]:
        """The rows as dicts (column -> text), for programmatic use."""
        return [dict(zip(self.columns, row, strict=True)) for row in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def text(self) -> str:
        """The table as aligned plain text."""
        lines = [self.title] if self.title else []
        if not self._rows:
            lines.append(self.empty)
            return "\n".join(lines)
        widths = [len(c) for c in self.columns]
        for row in self._rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        lines.append(fmt(self.columns))
        lines.append(fmt(["-" * w for w in widths]))
        lines.extend(fmt(row) for row in self._rows)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        if not self._rows:
            return f"{title}<p><i>{html.escape(self.empty)}</i></p>"
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(cell)}</td>" for cell in row)
            + "</tr>"
            for row in self._rows
        )
        return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Message:
    """A one-line status shown as a cell result (text in a terminal, HTML in Lab)."""

    def __init__(self, text: str, *, ok: bool | None = None) -> None:
        self.text = text
        self.ok = ok

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)

    def _repr_html_(self) -> str:
        # JupyterLab CSS variables: readable in light and dark themes
        colour = {
            True: "var(--jp-success-color0, inherit)",
            False: "var(--jp-error-color1, inherit)",
            None: "inherit",
        }[self.ok]
        return f"<span style='color:{colour}'>{html.escape(self.text)}</span>"

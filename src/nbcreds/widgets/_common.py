"""Pieces every widget shares: the secret input, status lines, level choices.

The one rule all widgets follow: no widget model ever *keeps* a secret. A
typed value arrives in a :class:`SecretInput`, is handed to the facade at once
and the field is cleared in the same notification, so the state a notebook
saves (and every later comm message) only ever holds ``""``.
"""

from __future__ import annotations

import functools
import html
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle
from traitlets import Unicode

import nbcreds as nc

from .._exceptions import NbcredsError
from ._live import HUB

__all__ = [
    "TENANT",
    "FieldError",
    "LevelChoice",
    "Markup",
    "Panel",
    "Parts",
    "QuietText",
    "QuietTextarea",
    "SecretInput",
    "close_tree",
    "countdown",
    "error_text",
    "holds_secret",
    "level_label",
    "level_options",
    "level_value",
    "locked",
    "masked_text",
    "remaining",
    "safe_call",
    "scrub",
    "status",
    "table_html",
]

# Dropdown value standing for the tenant level (ipywidgets treats None as "no selection").
TENANT = ""


class SecretInput(w.Password):  # type: ignore[misc]
    """A ``Password`` whose value is never echoed back to other frontends.

    ipywidgets 8 echoes every value a frontend sends to all frontends
    (``echo_update``); for a secret that would be one more copy on the wire,
    so the trait opts out. ``continuous_update`` is off: the value arrives
    once, on Enter or when the field loses focus, not keystroke by keystroke.
    """

    value = Unicode("", help="Typed secret; cleared as soon as it is bound").tag(
        sync=True, echo_update=False
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("continuous_update", False)
        super().__init__(**kwargs)


#: layout and style models shared by the widgets of one panel (closed with the panel)
_SHARED: weakref.WeakSet[Any] = weakref.WeakSet()

#: the width of the label column (every control's ``description``)
LABEL_WIDTH = "11em"


class QuietText(w.Text):  # type: ignore[misc]
    """A ``Text`` that does not echo typed values back to the frontends.

    A secret pasted into the wrong field is cleared by :func:`scrub` once the
    action runs; without echo, the kernel never sends that value back over
    the comm in the meantime.
    """

    value = Unicode("", help="String value").tag(sync=True, echo_update=False)


class QuietTextarea(w.Textarea):  # type: ignore[misc]
    """A ``Textarea`` that does not echo typed values (see :class:`QuietText`)."""

    value = Unicode("", help="String value").tag(sync=True, echo_update=False)


class Parts:
    """The layout and style models the widgets of every nbcreds panel share.

    Every ipywidgets control gets its own ``Layout`` and ``Style`` model by
    default: three models (and three entries in a saved notebook) per control.
    nbcreds' controls look alike, so they share one of each: the namespace picker,
    secret binder and credential form together then make a few dozen models, not
    hundreds. The shared ``TextStyle`` also sets the one label column
    (``description_width``) every control's ``description`` -- its accessible
    name -- is shown in. One set serves all open panels (:meth:`shared`); it is
    closed with the last of them.
    """

    _current: Parts | None = None

    def __init__(self) -> None:
        self.users = 0
        self.layout = self._keep(w.Layout())
        self.field = self._keep(w.Layout(width="100%", max_width="46em"))
        self.style = self._keep(TextStyle(description_width=LABEL_WIDTH))
        self.button_style = self._keep(w.ButtonStyle())
        self.html_style = self._keep(HTMLStyle())

    @classmethod
    def shared(cls) -> Parts:
        """The set the open panels use (a new one after they all closed, or close_all)."""
        current = cls._current
        if current is None or not current.alive:
            current = cls._current = cls()
        return current

    @property
    def models(self) -> tuple[Any, ...]:
        return (self.layout, self.field, self.style, self.button_style, self.html_style)

    @property
    def alive(self) -> bool:
        return all(model.comm is not None for model in self.models)

    @staticmethod
    def _keep(model: Any) -> Any:
        _SHARED.add(model)
        return model

    def text(self, description: str, *, cls: Any = None, **kwargs: Any) -> Any:
        """A text control (``QuietText`` unless ``cls``) labelled ``description``."""
        kind = QuietText if cls is None else cls
        return kind(description=description, layout=self.field, style=self.style, **kwargs)

    def dropdown(self, description: str, **kwargs: Any) -> Any:
        return w.Dropdown(description=description, layout=self.field, style=self.style, **kwargs)

    def button(self, description: str, **kwargs: Any) -> Any:
        return w.Button(
            description=description, layout=self.layout, style=self.button_style, **kwargs
        )

    def html(self, value: str = "") -> Any:
        return w.HTML(value, layout=self.layout, style=self.html_style)

    def row(self, children: list[Any]) -> Any:
        return w.HBox(children, layout=self.layout)

    def release(self) -> None:
        """One panel using these closed; the last one closes the shared models."""
        self.users -= 1
        if self.users <= 0:
            for model in self.models:
                _SHARED.discard(model)
                model.close()
            if Parts._current is self:
                Parts._current = None


F = TypeVar("F", bound=Callable[..., Any])


def locked(method: F) -> F:
    """Run a :class:`Panel` method under the panel's lock: a live update (on the hub's
    thread) and a click (on the kernel's shell thread) never interleave."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class Panel(w.VBox):  # type: ignore[misc]
    """The base of every nbcreds widget: closing it closes everything inside it,
    including the widgets it keeps off screen (:meth:`hidden`: the inputs of the other
    KV types...), and, with the last panel, the shared layout and style models.

    A panel is live: once built it follows the core's changes of the kinds in
    :attr:`LIVE` (``namespace``, ``config``, ``secret``, ``credential``, ``kv``) through
    the widgets' hub (:mod:`._live`), which calls :meth:`follow` on its thread."""

    #: the kinds of change this panel shows (empty: it follows nothing itself)
    LIVE: frozenset[str] = frozenset()

    def __init__(self, children: list[Any], parts: Parts | None = None) -> None:
        self.parts = parts if parts is not None else Parts.shared()
        self.parts.users += 1
        super().__init__(children, layout=self.parts.layout)

    @property
    def lock(self) -> threading.RLock:
        """The panel's lock (see :func:`locked`)."""
        found = self.__dict__.get("_nbc_lock")
        if found is None:
            found = self.__dict__.setdefault("_nbc_lock", threading.RLock())
        return found  # type: ignore[no-any-return]

    def go_live(self) -> None:
        """Follow changes from now on (each panel calls it at the end of its __init__)."""
        if self.LIVE and self.comm is not None:
            HUB.join(self)

    def follow(self, kinds: set[str]) -> None:
        """Something of ``kinds`` changed (called on the hub's thread): show it."""
        with self.lock:
            if self.comm is not None:
                self.refresh()

    def refresh(self) -> None:
        """Re-read what the panel shows (each panel says what)."""

    def hidden(self) -> list[Any]:
        return []

    def close(self) -> None:
        HUB.leave(self)
        with self.lock:  # not in the middle of a live update
            for child in [*self.children, *self.hidden()]:
                close_tree(child)
            was_open = self.comm is not None
            super().close()
        parts = getattr(self, "parts", None)  # None: closed before its __init__ finished
        if parts is not None and was_open:
            parts.release()


class FieldError:
    """The error line of one field, placed right below it. Its ``HTML`` model is made
    the first time there is something to say (most fields never have an error, so most
    never cost a model), kept off the layout while empty, and closed by :meth:`sweep`
    when an action ends with it still empty (not at every clear: a Save that fails
    again reuses it). ``value`` reads and writes like an ``HTML`` widget's."""

    def __init__(self, parts: Parts, relayout: Callable[[], None]) -> None:
        self._parts = parts
        self._relayout = relayout
        self.widget: Any = None

    @property
    def shown(self) -> Any:
        """The widget to lay out below the field, or None while there is no error."""
        return self.widget if self.widget is not None and self.widget.value else None

    @property
    def value(self) -> str:
        return str(self.widget.value) if self.widget is not None else ""

    @value.setter
    def value(self, text: str) -> None:
        if self.widget is None:
            if not text:
                return
            self.widget = self._parts.html(text)
        elif self.widget.value == text:
            return
        else:
            self.widget.value = text
        self._relayout()

    def sweep(self) -> None:
        """Close the line's model while it is empty (at the end of an action, once the
        errors are final): a saved notebook keeps only live models (JupyterLab), so an
        error that went away costs nothing there."""
        if self.widget is not None and not self.widget.value:
            self.widget.close()
            self.widget = None

    def close(self) -> None:
        if self.widget is not None:
            self.widget.close()


#: JupyterLab's theme variables (light and dark themes both define them): no colour of
#: our own anywhere in the widgets
_COLOURS = {
    "ok": "var(--jp-success-color1)",
    "error": "var(--jp-error-color1)",
    "warn": "var(--jp-warn-color1)",
    "info": "var(--jp-ui-font-color2)",
}
_MARKS = {"ok": "\u2714 ", "error": "\u2716 ", "warn": "\u26a0 "}


def status(widget: Any, kind: str, text: str) -> None:
    """Show ``text`` in an ``HTML`` widget: kind is ok, error, warn, info or "" (clear)."""
    if not text:
        widget.value = ""
        return
    color = _COLOURS.get(kind, _COLOURS["info"])
    mark = _MARKS.get(kind, "")
    text = masked_text(text)
    widget.value = (
        f'<span style="color:{color};font-size:var(--jp-ui-font-size1);'
        f'white-space:normal;overflow-wrap:anywhere">{mark}'
        f"{html.escape(text, quote=False)}</span>"
    )


def error_text(exc: BaseException) -> str:
    """What to tell the user about ``exc``.

    nbcreds' own errors are written never to contain a value, so their message
    is shown; anything else shows only its type (its text could hold anything).
    """
    if isinstance(exc, NbcredsError):
        return str(exc)
    return f"unexpected {type(exc).__name__}; see the kernel log"


def safe_call(out: Any, action: Callable[[], Any]) -> tuple[bool, Any]:
    """Run ``action``; on failure show the error in ``out`` and return (False, None)."""
    try:
        return True, action()
    except Exception as exc:  # a widget callback must not raise into the comm loop
        status(out, "error", error_text(exc))
        return False, None


def level_label(level: str | None) -> str:
    return "tenant" if level is None else level


def level_value(value: str) -> str | None:
    """Dropdown value -> namespace (``None``: tenant level)."""
    return None if value == TENANT else value


def level_options(extra: Iterable[str | None] = ()) -> list[tuple[str, str]]:
    """(label, value) pairs: the tenant level, then every known namespace as a tree."""
    names = set(nc.list_namespaces())
    names.update(n for n in extra if n)
    options = [("tenant (all namespaces)", TENANT)]
    for name in sorted(names):
        depth = name.count(".")
        options.append(("\u2003" * depth + name, name))
    return options


#: one style block per table instead of a style attribute on every cell (a table's
#: HTML is kept in the widget state a notebook saves): JupyterLab's theme variables only
_TABLE_STYLE = (
    "<style>.nbc-t{border-collapse:collapse;color:var(--jp-ui-font-color1);"
    "font-size:var(--jp-ui-font-size1)}.nbc-t th,.nbc-t td{text-align:left;"
    "padding:2px 8px;border-bottom:1px solid var(--jp-border-color2)}</style>"
)


def table_html(headers: list[str], rows: list[list[str]], empty: str) -> str:
    """A small HTML table; every cell is escaped."""
    if not rows:
        return f"<i>{html.escape(empty)}</i>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"{_TABLE_STYLE}<div style='overflow-x:auto;max-width:100%'><table class='nbc-t'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


class Markup(str):
    """A table cell already written as HTML (built from escaped parts); not escaped again."""


def _cell_html(cell: str) -> str:
    if isinstance(cell, Markup):
        return str(cell)
    return html.escape(masked_text(cell))


class LevelChoice:
    """A level dropdown (tenant + namespaces) that follows the current namespace
    until the user picks a level; then it keeps the user's pick."""

    def __init__(self, description: str = "Level", parts: Parts | None = None) -> None:
        options = [("tenant", TENANT)]
        if parts is None:
            self.dropdown = w.Dropdown(description=description, options=options)
        else:
            self.dropdown = parts.dropdown(description, options=options)
        self._chosen = False
        self._refreshing = False
        self.dropdown.observe(self._on_pick, names="value")

    @property
    def value(self) -> str | None:
        return level_value(self.dropdown.value)

    def select(self, level: str | None) -> None:
        """Choose ``level`` (as if the user had); adds it to the options if needed."""
        value = TENANT if level is None else level
        if value not in [v for _, v in self.dropdown.options]:
            self.refresh(level)
        self.dropdown.value = value
        self._chosen = True

    def refresh(self, current: str | None) -> None:
        options = level_options([current])
        selected = self.dropdown.value
        self._refreshing = True
        try:
            self.dropdown.options = options
            keep = self._chosen and selected in [v for _, v in options]
            self.dropdown.value = selected if keep else (TENANT if current is None else current)
        finally:
            self._refreshing = False

    def _on_pick(self, _: object) -> None:
        if not self._refreshing:
            self._chosen = True


def remaining(expires: object, now: float | None = None) -> float | None:
    """Seconds until ``expires`` (an aware/naive-UTC datetime or an epoch), or None."""
    import datetime as dt
    import time

    if expires is None:
        return None
    if isinstance(expires, dt.datetime):
        stamp = (
            expires.timestamp() if expires.tzinfo else expires.replace(tzinfo=dt.UTC).timestamp()
        )
    elif isinstance(expires, int | float):
        stamp = float(expires)
    else:
        return None
    return stamp - (time.time() if now is None else now)


def countdown(expires: object, now: float | None = None) -> str:
    """``"expires in 4m 05s"`` / ``"expired"`` / ``"no expiry"``."""
    left = remaining(expires, now)
    if left is None:
        return "no expiry"
    if left <= 0:
        return "expired"
    seconds = int(left)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m {seconds:02d}s"
    else:
        text = f"{seconds}s"
    return f"expires in {text}"


def close_tree(widget: Any) -> None:
    """Close ``widget`` and every widget below it (rows rebuilt on refresh, closed boxes);
    layout and style models shared by a panel (:class:`Parts`) stay until it closes."""
    for child in list(getattr(widget, "children", ()) or ()):
        close_tree(child)
    for part in ("layout", "style"):  # their own models, not closed by Widget.close
        sub = getattr(widget, part, None)
        if isinstance(sub, w.Widget) and sub not in _SHARED:
            sub.close()
    if widget not in _SHARED:
        widget.close()


def holds_secret(text: str) -> bool:
    """True when ``text`` contains a registered secret (or an encoding of one)."""
    if not text:
        return False
    from ..masking import contains_secret, registry

    try:
        return bool(contains_secret(text))
    except NbcredsError:  # an invalid [masking] table: fall back to exact values
        return any(value in text for value in registry.values())


def scrub(*inputs: Any) -> list[Any]:
    """Clear every text input holding a secret (typed into the wrong field, or refused by
    the store); returns the inputs cleared. Run after each action, so that no model keeps
    a secret once the action is over."""
    cleared = []
    for widget in inputs:
        value = getattr(widget, "value", None)
        if isinstance(value, str) and holds_secret(value):
            widget.value = ""
            cleared.append(widget)
    return cleared


def masked_text(text: str) -> str:
    """``text`` with registered secrets masked (messages are secret-free by design; this is
    the belt to that pair of braces). Withheld entirely if masking itself fails."""
    from ..masking import masked, registry

    if not registry.values():
        return text
    try:
        return masked(text)
    except Exception:
        return "(message withheld: the masking engine failed)"

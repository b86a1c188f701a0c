"""Installing the masker at the kernel's egress.

In an ipykernel every message the kernel sends -- iopub (streams, display data,
results, errors, comm/widget messages), shell and control replies (execute,
inspect, complete, history) -- goes through its ``Session``'s ``send`` and then
``serialize``. Both are wrapped on the session *instance*: ``send`` masks the
content, metadata and binary buffers it is given (so the message it returns is
masked too), and ``serialize`` masks whatever reaches it without going through
``send``. Content is walked recursively: every string (keys included) of every
MIME type, traceback line and widget state value.

The kernel's ``sys.stdout`` / ``sys.stderr`` (``OutStream``) get the stream
hold-back in their flush (``_flush_buffers``), where every write ends up --
``print``, threads, and the output ipykernel captures from file descriptors 1
and 2 (subprocesses, C code) -- so a value written in pieces is whole when
masked. (Not on ``write``: IPython 9 swaps ``write`` at every cell.) The copies
ipykernel writes to its own console (fd echo, ``echo`` when not quiet) are
masked too. Without a kernel (terminal IPython, a plain ``InteractiveShell``),
``sys.stdout`` / ``sys.stderr`` are replaced by masking proxies and the display
publisher is wrapped. Logging records are masked in every case.
:func:`uninstall` undoes each of these exactly.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _engine, _logging, _shell
from ._engine import Compiled
from ._markup import MIME_KINDS, Kind, masked_closer, masked_text
from ._stream import HoldBack, KernelStreamHold, release_all

__all__ = ["MaskedStream", "install", "installed", "mask_message_part", "uninstall"]


# -- walking message content --------------------------------------------------------


def mask_message_part(obj: Any, state: Compiled, kind: Kind = "plain") -> Any:
    """``obj`` with every string and byte string in it masked; containers are
    copied only where something changed (the caller's objects are never mutated,
    and nothing is allocated for the common message that holds no secret).

    Strings are matched as they are and through their markup and line folds
    (:mod:`._markup`): a ``text/html``, ``text/latex`` or ``text/markdown`` entry
    of a MIME bundle as that markup, every other string as (ANSI) text."""
    if type(obj) is str:
        if len(obj) < state.min_length:
            return obj  # keys like "name", "text": too short to hold a pattern
        return masked_text(obj, state, kind)
    if isinstance(obj, str):  # a subclass (Secret): mask its plain value
        return masked_text(str.__str__(obj), state, kind)
    if isinstance(obj, dict):
        out: dict[Any, Any] | None = None
        shortest = state.min_length
        for position, (key, value) in enumerate(obj.items()):
            # strings inline: a message is mostly short keys and a few texts
            if not isinstance(key, str) or len(key) < shortest:
                new_key = key
            else:
                new_key = masked_text(str.__str__(key), state)
            if type(value) is str:
                if len(value) < shortest:
                    new_value = value
                elif key in MIME_KINDS:
                    new_value = masked_text(value, state, MIME_KINDS[key])
                elif state.clean(value):  # most stream text ("text"): one scan
                    new_value = value
                else:
                    new_value = masked_closer(value, state)
            else:
                new_value = mask_message_part(value, state, MIME_KINDS.get(key, "plain"))
            if out is None and (new_key is not key or new_value is not value):
                out = dict(list(obj.items())[:position])
            if out is not None:
                out[new_key] = new_value
        return obj if out is None else out
    if isinstance(obj, (list, tuple)):
        items: list[Any] | None = None
        for position, item in enumerate(obj):
            new = mask_message_part(item, state, kind)
            if items is None and new is not item:
                items = list(obj[:position])
            if items is not None:
                items.append(new)
        if items is None:
            return obj
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        out_bytes = state.sub_bytes(data)
        return obj if out_bytes == data else out_bytes
    return obj


def _mask_safely(obj: Any, state: Compiled) -> Any:
    try:
        return mask_message_part(obj, state)
    except Exception:
        return _engine.WITHHELD if isinstance(obj, str) else {"text": _engine.WITHHELD}


# -- the session ---------------------------------------------------------------------

_in_send = threading.local()

# Session.send(stream, msg_or_type, content, parent, ident, buffers, track, header, metadata)
_SEND_POSITIONS = {"content": 0, "buffers": 3, "metadata": 6}


def _masked_msg(msg: dict[str, Any], state: Compiled) -> dict[str, Any]:
    """``msg`` with its content, metadata and buffers masked (a copy if any changed)."""
    out: dict[str, Any] | None = None
    for key in ("content", "metadata", "buffers"):
        part = msg.get(key)
        if part:  # None, {} and [] hold nothing
            try:  # _mask_safely, inline: this runs for every message
                masked = mask_message_part(part, state)
            except Exception:
                masked = _engine.WITHHELD if isinstance(part, str) else {"text": _engine.WITHHELD}
            if masked is not part:
                if out is None:
                    out = dict(msg)
                out[key] = masked
    return msg if out is None else out


def _wrap_send(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(stream: Any, msg_or_type: Any, *args: Any, **kwargs: Any) -> Any:
        state = _engine.compiled()
        if state.empty:
            return original(stream, msg_or_type, *args, **kwargs)
        if isinstance(msg_or_type, dict):
            msg_or_type = _masked_msg(msg_or_type, state)
        if args:
            positional = list(args)
            for position in _SEND_POSITIONS.values():
                if position < len(positional) and positional[position] is not None:
                    positional[position] = _mask_safely(positional[position], state)
            args = tuple(positional)
        if kwargs:
            for name in _SEND_POSITIONS:
                if kwargs.get(name) is not None:
                    kwargs[name] = _mask_safely(kwargs[name], state)
        _in_send.active = True
        try:
            return original(stream, msg_or_type, *args, **kwargs)
        finally:
            _in_send.active = False

    send._nbcreds_original = original  # type: ignore[attr-defined]
    return send


def _wrap_serialize(original: Callable[..., Any]) -> Callable[..., Any]:
    def serialize(msg: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if not getattr(_in_send, "active", False):
            state = _engine.compiled()
            if not state.empty:
                msg = _masked_msg(msg, state)
        return original(msg, *args, **kwargs)

    serialize._nbcreds_original = original  # type: ignore[attr-defined]
    return serialize


# -- streams without a kernel -------------------------------------------------------


class MaskedStream:
    """A masking proxy for a text stream (terminal ``sys.stdout`` / ``sys.stderr``)."""

    def __init__(self, wrapped: Any) -> None:
        self._nbcreds_wrapped = wrapped
        self._nbcreds_hold = HoldBack(self._write_through)

    def _write_through(self, text: str) -> None:
        # looked up at each write: IPython swaps ``write`` on the stream for every
        # cell (to record outputs) and a bound method kept from one cell would
        # keep feeding that cell's record
        self._nbcreds_wrapped.write(text)

    def write(self, text: str) -> int:
        return self._nbcreds_hold.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        # The held piece is *not* released here: ``print(c, end="", flush=True)``
        # one character at a time would otherwise defeat the hold-back.
        self._nbcreds_wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nbcreds_wrapped, name)


# -- install / uninstall ---------------------------------------------------------------


@dataclass
class _Installed:
    #: the shell itself: holding it keeps its id from being reused by another shell
    shell: Any = None
    undo: list[Callable[[], None]] = field(default_factory=list)


_installed: dict[int, _Installed] = {}
_lock = threading.Lock()


def installed(ipython: Any) -> bool:
    """True when masking is installed on ``ipython``."""
    return id(ipython) in _installed


def _patch_attr(obj: Any, name: str, make: Callable[[Any], Any], record: _Installed) -> None:
    """Set ``obj.name`` to ``make(current)`` on the instance; record how to undo it."""
    had_own = name in vars(obj)
    previous = vars(obj)[name] if had_own else None
    current = getattr(obj, name)
    if getattr(current, "_nbcreds_original", None) is not None:
        return  # already wrapped (another shell on the same session)
    wrapper = make(current)
    setattr(obj, name, wrapper)

    def undo() -> None:
        if vars(obj).get(name) is wrapper:
            if had_own:
                setattr(obj, name, previous)
            else:
                delattr(obj, name)

    record.undo.append(undo)


def _sessions(ipython: Any) -> list[Any]:
    candidates = [getattr(getattr(ipython, "kernel", None), "session", None)]
    for holder in (
        getattr(ipython, "display_pub", None),
        getattr(ipython, "displayhook", None),
        sys.stdout,
        sys.stderr,
        getattr(getattr(ipython, "kernel", None), "iopub_thread", None),
    ):
        candidates.append(getattr(holder, "session", None))
    found: dict[int, Any] = {}
    for session in candidates:
        if session is not None and callable(getattr(session, "send", None)):
            found.setdefault(id(session), session)
    return list(found.values())


def _is_kernel_stream(stream: Any) -> bool:
    # an OutStream exists only once ipykernel.iostream is imported: never import it
    # here (that is all of ipykernel and jupyter_client in a terminal IPython)
    iostream = sys.modules.get("ipykernel.iostream")
    out_stream = getattr(iostream, "OutStream", None)
    return isinstance(out_stream, type) and isinstance(stream, out_stream)


class _ConsoleEcho:
    """Masks ipykernel's echo of captured fd 1/2 output to the kernel's own console.

    ipykernel reads what subprocesses and C code write to fd 1/2 from a pipe,
    sends it to the frontend *and* writes the raw bytes to a copy of the original
    fd (the Jupyter server's console). That copy's number is read from the
    stream's ``_original_stdstream_copy`` at every write, so it is pointed at a
    pipe of ours whose reader masks (with the hold-back) and forwards. The pipe
    is never closed -- ipykernel's watcher thread may be about to write to it --
    and is reused if masking is installed again; once uninstalled it forwards
    unmasked.
    """

    def __init__(self, stream: Any) -> None:
        import os

        self.stream = stream
        self.original: int = stream._original_stdstream_copy
        self.read_fd, self.write_fd = os.pipe()
        self.active = True
        self.hold = HoldBack(self._forward)
        threading.Thread(target=self._pump, name="nbcreds-console-echo", daemon=True).start()

    def _forward(self, text: str) -> None:
        import os

        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.original, data) :]

    def _pump(self) -> None:
        import codecs
        import os

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            text = decoder.decode(chunk)
            try:
                if self.active:
                    self.hold.write(text)
                else:
                    self.hold.release()
                    self._forward(text)
            except OSError:
                return

    def attach(self) -> None:
        self.active = True
        self.stream._original_stdstream_copy = self.write_fd

    def detach(self) -> None:
        if self.stream._original_stdstream_copy == self.write_fd:
            self.stream._original_stdstream_copy = self.original
        self.active = False
        self.hold.release()


_echoes: dict[int, _ConsoleEcho] = {}


def _install_console_echo(stream: Any, record: _Installed) -> None:
    if not isinstance(getattr(stream, "_original_stdstream_copy", None), int):
        return  # ipykernel is not capturing this stream's file descriptor
    echo = _echoes.get(id(stream))
    if echo is None or echo.stream is not stream:
        echo = _echoes[id(stream)] = _ConsoleEcho(stream)
    echo.attach()
    record.undo.append(echo.detach)


def _install_echo_proxy(stream: Any, record: _Installed) -> None:
    """A kernel started with ``quiet=False`` copies every write to ``stream.echo``
    (the terminal) before buffering it: mask that copy too."""
    echo = getattr(stream, "echo", None)
    if echo is None or isinstance(echo, MaskedStream):
        return
    proxy = MaskedStream(echo)
    stream.echo = proxy

    def undo() -> None:
        proxy._nbcreds_hold.close()
        if stream.echo is proxy:
            stream.echo = echo

    record.undo.append(undo)


def _install_streams(record: _Installed) -> None:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, MaskedStream):
            continue
        if _is_kernel_stream(stream):
            hold = KernelStreamHold(stream)
            _patch_attr(stream, "_flush_buffers", hold.wrap, record)
            record.undo.append(hold.close)
            _install_console_echo(stream, record)
            _install_echo_proxy(stream, record)
            continue
        proxy = MaskedStream(stream)
        setattr(sys, name, proxy)

        def undo(name: str = name, proxy: MaskedStream = proxy, original: Any = stream) -> None:
            proxy._nbcreds_hold.close()
            if getattr(sys, name) is proxy:
                setattr(sys, name, original)

        record.undo.append(undo)


def _wrap_publish(original: Callable[..., Any]) -> Callable[..., Any]:
    def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        state = _engine.compiled()
        if not state.empty:
            data = _mask_safely(data, state)
            if metadata is not None:
                metadata = _mask_safely(metadata, state)
        return original(data, metadata, *args, **kwargs)

    publish._nbcreds_original = original  # type: ignore[attr-defined]
    return publish


def _install_shell_files(ipython: Any, record: _Installed) -> None:
    """IPython's own outputs: the ``%logstart`` log, the output history database,
    the inspector (see :mod:`._shell`)."""
    try:
        logger = getattr(ipython, "logger", None)  # created on first use
    except Exception:
        logger = None
    if callable(getattr(logger, "log_write", None)):
        _patch_attr(logger, "log_write", _shell.wrap_log_write, record)
    history = getattr(ipython, "history_manager", None)
    if callable(getattr(history, "store_output", None)):
        _patch_attr(history, "store_output", _shell.wrap_store_output(history), record)
    inspector = getattr(ipython, "inspector", None)
    if callable(getattr(inspector, "info", None)):
        _patch_attr(inspector, "info", _shell.wrap_info, record)


def _release_on_cell_end(*_args: Any) -> None:
    release_all()


def install(ipython: Any) -> None:
    """Mask everything ``ipython`` sends from now on. Idempotent."""
    with _lock:
        if id(ipython) in _installed:
            return
        record = _Installed(shell=ipython)
        sessions = _sessions(ipython)
        for session in sessions:
            _patch_attr(session, "send", _wrap_send, record)
            _patch_attr(session, "serialize", _wrap_serialize, record)
        _install_streams(record)
        display_pub = getattr(ipython, "display_pub", None)
        if not sessions and display_pub is not None:
            _patch_attr(display_pub, "publish", _wrap_publish, record)
        _install_shell_files(ipython, record)
        events = getattr(ipython, "events", None)
        if events is not None:
            events.register("post_run_cell", _release_on_cell_end)

            def undo_events() -> None:
                with contextlib.suppress(ValueError):
                    events.unregister("post_run_cell", _release_on_cell_end)

            record.undo.append(undo_events)
        _logging.install()
        record.undo.append(_uninstall_logging_if_last)
        _installed[id(ipython)] = record
        # compile now: the first output should not pay for it
        _engine.compiled()


def _uninstall_logging_if_last() -> None:
    if not _installed:
        _logging.uninstall()


def uninstall(ipython: Any) -> None:
    """Remove everything :func:`install` did on ``ipython`` (held output is released
    masked first). A no-op when not installed."""
    with _lock:
        record = _installed.pop(id(ipython), None)
        if record is None:
            return
        release_all()
        for undo in reversed(record.undo):
            undo()

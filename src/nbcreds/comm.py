"""The JupyterLab sidebar's channel: the kernel side of comm target ``nbcreds.comm``.

Why a comm and not a server extension: the state the sidebar shows (current
namespace, secret names, credential status, KV keys) lives in the *kernel*, per
notebook. A comm reaches exactly that kernel, and everything it sends passes the
kernel's egress masking like any other message.

The layer is thin on purpose: :func:`handle` validates one request and translates
it onto the public facade (``nbcreds.use_namespace``, ``list_secrets``,
``list_credentials``, ``test_credential``, ``kv_entries``, ``set_kv`` …). It is a
plain function of a JSON-like dict, so it is tested without a kernel.

Protocol, version 1 (every message is a JSON object)::

    request  {"v": 1, "id": <str|int>, "op": <op>, ...arguments}
    reply    {"v": 1, "id": <same>, "op": <op>, "ok": true,  "result": {...}}
             {"v": 1, "id": <same>, "op": <op>, "ok": false,
              "error": {"type": "<ExceptionName>", "message": "..."}}
    event    {"v": 1, "event": "loaded" | "changed"}   (kernel -> panel, no payload:
             %load_ext ran, a cell ended; the panel then asks for ``state``)
             {"v": 1, "event": "changed", "what": ["kv", "credential", ...],
              "state": {...}}  (live: pushed by a watcher thread while a panel watches,
             at once when the namespace, a secret binding, a credential's token or a KV
             entry changes in this kernel -- the core's change listener --, within
             ~0.5 s when another kernel wrote the same KV store (SQLite ``PRAGMA
             data_version``), and when a shown token or key reaches its expiry; "what"
             names kinds, never values; "state" is the state as the ``state`` op answers
             it, built on the watcher thread: the panel must not ask for it, since a
             request waits on the shell channel until the running cell ends)
             {"v": 1, "event": "changed", "login": {"name", ...login}}  (a user sign-in's
             state changed -- pushed at once, for the same reason; "login" as in a
             credential row below; the watcher's next event carries the whole state)

    ops      state                                   -> state
             use_namespace   namespace: str | null   -> state
             test_credential name: str               -> {name, success, message}
             kv_get          key: str                -> {key, type, text, revision, expires_in}
             kv_set          key: str, value: JSON, type: str | null -> state
             kv_delete       key: str                -> state
             watch           enabled: bool           -> {watching}

A panel that gets an event without ``state`` asks for it.
``state`` is ``{"version", "seq", "namespace", "namespaces", "secrets", "credentials",
"kv", "kv_types", "types", "leases", "errors"}``; ``seq`` grows with each state this
kernel builds (a state built earlier but delivered later -- a reply and a pushed
event cross -- is older: the panel keeps the higher); ``kv_types``: the KV store's
types (:class:`nbcreds.kvstore.KVType`, the one list); each list holds names and metadata only
(``leases``: the Vault leases this kernel holds, by path, lease id and time left;
a credential row has ``state``: ``valid`` | ``expired`` | ``not_fetched`` | ``failed``,
``status``: the kernel's text for it, e.g. ``valid · expires in 59 min``, and
``error``: the last failed mint's message or null; its ``login`` is null, or for the
user sign-in types ``{"status": "signed_out" | "pending" | "signed_in" | "configured",
"flow", "user_code", "verification_uri", "verification_uri_complete",
"authorization_url", "expires_at", "persisted"}`` -- the
code and links a person needs to sign in, never a token; ``types``: the installed
source types with their reference schemes and whether each is in the order tried
for plain names, and credential types, from the plugin registries). No reply ever
carries a secret or token value; a KV value (state, not a secret) is still
passed through the masker, and every string of every reply is masked again
before it is sent -- the kernel's egress masking is a third line.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "OPS",
    "PROTOCOL_VERSION",
    "TARGET",
    "build_state",
    "handle",
    "register",
    "unregister",
]

TARGET: Final = "nbcreds.comm"
PROTOCOL_VERSION: Final = 1

_JSON_VALUE = (str, int, float, bool, dict, list, type(None))
_NAME = (str,)

#: op -> {argument: accepted types}; every argument is required (``None`` where allowed).
OPS: Final[Mapping[str, Mapping[str, tuple[type, ...]]]] = {
    "state": {},
    "use_namespace": {"namespace": (str, type(None))},
    "test_credential": {"name": _NAME},
    "kv_get": {"key": _NAME},
    "kv_set": {"key": _NAME, "value": _JSON_VALUE, "type": (str, type(None))},
    "kv_delete": {"key": _NAME},
    "watch": {"enabled": (bool,)},
}
#: op -> {argument: accepted types} that may be left out (older panels don't send them).
OPTIONAL: Final[Mapping[str, Mapping[str, tuple[type, ...]]]] = {
    # revision: the one the user saw (0: create, refused if the key exists; absent or
    # null: no check). ttl: absent keeps the current expiry, null removes it, text sets it.
    "kv_set": {"revision": (int, type(None)), "ttl": (str, type(None))},
    "kv_delete": {"revision": (int, type(None))},
}
_ENVELOPE = frozenset({"v", "id", "op"})


def _kv_types() -> tuple[str, ...]:
    """The KV store's types (:class:`nbcreds.kvstore.KVType`, the one list; imported on
    the first KV write, not at ``%load_ext``)."""
    from .kvstore import KVType

    return tuple(t.value for t in KVType)


class _BadRequest(Exception):
    """A request that does not follow the protocol; never leaves this module."""


# --------------------------------------------------------------------------- masking


def _mask_text(text: str) -> str:
    """Hide every registered value (and its encodings) in ``text``."""
    from .masking import masked

    return masked(text)


def _mask_tree(obj: Any) -> Any:
    """Mask every string (keys included) in a JSON-like tree."""
    if isinstance(obj, str):
        return _mask_text(obj)
    if isinstance(obj, dict):
        return {_mask_text(str(k)): _mask_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_mask_tree(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- state


def _seconds_until(when: Any) -> float | None:
    """Seconds from now until ``when`` (datetime, epoch seconds, or None)."""
    if when is None:
        return None
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        left: float = (when - _dt.datetime.now(_dt.UTC)).total_seconds()
        return round(left, 1)
    if isinstance(when, int | float) and not isinstance(when, bool):
        import time

        return round(float(when) - time.time(), 1)
    return None  # an unknown representation: show no expiry rather than a wrong one


def _level(level: Any) -> str:
    from .namespaces import display

    return display(level if level is None else str(level))


def _secrets() -> list[dict[str, Any]]:
    import nbcreds

    return [
        {
            "name": row.name,
            "source": row.source,
            "level": _level(row.level),
            "inherited": bool(row.inherited),
        }
        for row in nbcreds.list_secrets()
    ]


def _leases() -> list[dict[str, Any]]:
    import sys

    module = sys.modules.get("nbcreds.secrets._lease")  # no lease taken: not even imported
    if module is None:
        return []
    return [
        {
            "path": held.path,
            "lease_id": held.lease_id,
            "expires_in": _seconds_until(held.expires_at),
            "renewing": held.renewing,
        }
        for held in module.keeper().leases()
    ]


def _credentials() -> list[dict[str, Any]]:
    import nbcreds

    rows = []
    for row in nbcreds.list_credentials():
        rows.append(
            {
                "name": row.name,
                "type": str(row.type),
                "level": _level(row.level),
                "inherited": bool(row.inherited),
                "cached": bool(row.cached),
                "expires_in": _seconds_until(getattr(row, "expires_at", None)),
                # one vocabulary (nbcreds.credentials._status): the state's name, the
                # text as the kernel says it now, and the last failure's message
                "state": row.state,
                "status": row.status,
                "error": row.error,
                "login": _login(row.name, str(row.type)),
            }
        )
    return rows


def _login(name: str, ctype: str) -> dict[str, Any] | None:
    """A user sign-in's state (pending: the code and the link; signed in; signed out);
    None for the server-to-server types (the credentials package knows which types have
    a sign-in: their state's status is empty). Never a token."""
    import nbcreds

    try:
        state = nbcreds.login_state(name)
    except nbcreds.NbcredsError:
        return None
    if not state.status:
        return None
    found: dict[str, Any] = state.as_dict()
    return found


def _kv_type(entry: Any) -> str:
    kind = getattr(entry, "type", None)
    name = getattr(kind, "value", kind)
    return str(name) if name is not None else "STRING"


def _kv() -> list[dict[str, Any]]:
    import nbcreds

    if nbcreds.current_namespace() is None:
        return []  # KV state belongs to a namespace: the panel asks to pick one
    return [
        {
            "key": entry.key,
            "type": _kv_type(entry),
            "revision": getattr(entry, "revision", None),
            "expires_in": _seconds_until(getattr(entry, "expires", None)),
        }
        for entry in nbcreds.kv_entries()
    ]


def _types() -> list[dict[str, Any]]:
    """What the installed plugins provide: secret source types with their reference
    schemes, and credential types with their label (a generated form's input)."""
    import nbcreds

    order = nbcreds.source_order()
    found: list[dict[str, Any]] = [
        {"kind": "source", "name": t.name, "schemes": list(t.schemes), "in_order": t.name in order}
        for t in nbcreds.plugins.source_types().values()
    ]
    found += [
        {"kind": "credential", "name": t.name, "label": t.label}
        for t in nbcreds.plugins.credential_types().values()
    ]
    return found


def _error(exc: BaseException) -> dict[str, str]:
    # nbcreds' own messages never hold values; anything else is masked on the way out.
    return {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}


#: numbers the states this kernel builds (``next`` on a count is atomic under the GIL)
_STATE_SEQ: Final = itertools.count(1)


def build_state() -> dict[str, Any]:
    """The sidebar's whole view of this kernel: names and metadata, never values.

    Each section fails on its own (a Vault that is down must not hide the KV store):
    its error goes to ``errors[section]`` and its list is empty.
    """
    import nbcreds

    state: dict[str, Any] = {
        "version": nbcreds.__version__,
        "seq": next(_STATE_SEQ),  # before any section is read: a later seq is newer
        "namespace": nbcreds.current_namespace(),
        "namespaces": [],
        "secrets": [],
        "credentials": [],
        "kv": [],
        "kv_types": [],
        "types": [],
        "leases": [],
        "errors": {},
    }
    sections: dict[str, Callable[[], list[Any]]] = {
        "types": _types,
        "namespaces": nbcreds.list_namespaces,
        "secrets": _secrets,
        "credentials": _credentials,
        "kv": _kv,
        "kv_types": lambda: list(_kv_types()),
        "leases": _leases,
    }
    for section, build in sections.items():
        try:
            state[section] = build()
        except Exception as exc:  # one section's failure is shown, not fatal
            state["errors"][section] = _error(exc)["message"]
    return state


# --------------------------------------------------------------------------- KV values


def _duration_text(delta: _dt.timedelta) -> str:
    """ISO-8601 duration of a timedelta (``P1DT2H3M4.5S``), the form Kestra shows."""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P{int(days)}D" if days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{int(hours)}H"
    if minutes:
        clock += f"{int(minutes)}M"
    if seconds or not (days or clock):
        clock += f"{seconds:g}S"
    return out + ("T" + clock if clock else "")


def value_text(value: Any, kind: str) -> str:
    """The text the panel shows and edits for a KV value of type ``kind``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.timedelta):
        return _duration_text(value)
    if isinstance(value, _dt.date):  # datetime is a date too
        return value.isoformat()
    if kind == "JSON" or isinstance(value, dict | list) or value is None:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return str(value)


def _kv_value(value: Any, kind: str | None) -> Any:
    """Check that a JSON value fits the declared KV type (the store parses ISO text)."""
    if kind is None:
        return value
    types = _kv_types()
    if kind not in types:
        raise _BadRequest(f"unknown KV type {kind!r}: use one of {', '.join(types)}")
    expected: dict[str, tuple[type, ...]] = {
        "STRING": (str,),
        "NUMBER": (int, float),
        "BOOLEAN": (bool,),
        "DATETIME": (str,),
        "DATE": (str,),
        "DURATION": (str,),
    }
    accepted = expected.get(kind)
    if accepted is not None and (
        not isinstance(value, accepted) or (kind == "NUMBER" and isinstance(value, bool))
    ):
        raise _BadRequest(f"a {kind} KV value must be sent as {accepted[0].__name__}")
    if kind == "NUMBER" and isinstance(value, float) and not math.isfinite(value):
        raise _BadRequest("a NUMBER KV value must be finite")
    return value


# --------------------------------------------------------------------------- dispatch


def _validate(request: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(request, dict):
        raise _BadRequest("a request must be a JSON object")
    if request.get("v") != PROTOCOL_VERSION:
        raise _BadRequest(
            f"unsupported protocol version {request.get('v')!r}: this kernel speaks "
            f"v{PROTOCOL_VERSION}; update the nbcreds extension or package so they match"
        )
    rid = request.get("id")
    if not isinstance(rid, str | int) or isinstance(rid, bool):
        raise _BadRequest("a request needs an 'id' (string or integer)")
    op = request.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise _BadRequest(f"unknown op {op!r}: expected one of {', '.join(OPS)}")
    spec = OPS[op]
    args = {k: v for k, v in request.items() if k not in _ENVELOPE}
    optional = OPTIONAL.get(op, {})
    unknown = sorted(set(args) - set(spec) - set(optional))
    if unknown:
        raise _BadRequest(f"op {op!r} takes no argument {', '.join(map(repr, unknown))}")
    for name, types in spec.items():
        if name not in args:
            raise _BadRequest(f"op {op!r} needs argument {name!r}")
        value = args[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise _BadRequest(f"argument {name!r} of op {op!r} must be {wanted}")
        if types is _NAME and not value:
            raise _BadRequest(f"argument {name!r} of op {op!r} must not be empty")
    for name, types in optional.items():
        if name in args and (not isinstance(args[name], types) or isinstance(args[name], bool)):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise _BadRequest(f"argument {name!r} of op {op!r} must be {wanted}")
    return op, args


def _dispatch(op: str, args: dict[str, Any], channel: _Channel | None) -> dict[str, Any]:
    import nbcreds

    if op == "state":
        return build_state()
    if op == "use_namespace":
        nbcreds.use_namespace(args["namespace"])
        return build_state()
    if op == "test_credential":
        try:
            ctype = nbcreds.credential_info(args["name"]).type
        except nbcreds.NbcredsError:
            ctype = ""  # test_credential reports it
        login = _login(args["name"], ctype)
        if login is not None and login["status"] in ("signed_out", "pending"):
            # a sign-in needs a cell's output to show its prompt: never start one from here
            return {
                "name": args["name"],
                "success": False,
                "message": f"Credential '{args['name']}' is not signed in: run "
                f"%credential login {args['name']} in a cell.",
            }
        result = nbcreds.test_credential(args["name"])
        return {
            "name": args["name"],
            "success": bool(result.success),
            "message": str(result.message),
        }
    if op == "kv_get":
        from .kvstore import kv_item

        item = kv_item(args["key"])
        entry = item.entry
        kind = _kv_type(entry) if entry is not None else "STRING"
        return {
            "key": args["key"],
            "type": kind,
            "text": _mask_text(value_text(item.value, kind)),
            "revision": getattr(entry, "revision", None),
            "expires_in": _seconds_until(getattr(entry, "expires", None)),
        }
    if op == "kv_set":
        return _kv_set(args)
    if op == "kv_delete":
        seen = args.get("revision")
        if seen is not None:
            from .kvstore import kv_item

            entry = kv_item(args["key"], default=None).entry
            if entry is None or entry.revision != seen:
                raise _EditConflict(args["key"], seen, entry, None)
        nbcreds.delete_kv(args["key"])
        return build_state()
    if op == "watch":
        if channel is not None:
            channel.watching = args["enabled"]
            if channel.watching:
                _watcher.ensure()
        return {"watching": args["enabled"]}
    raise _BadRequest(f"unknown op {op!r}")  # pragma: no cover - OPS guards this


class _EditConflict(Exception):
    """A write from the panel found the key changed since the user saw it (or, creating,
    found it exists): the reply names both types so the panel can ask."""

    def __init__(self, key: str, seen: int, entry: Any, yours: str | None) -> None:
        self.key = key
        self.seen = seen
        self.current_type = _kv_type(entry) if entry is not None else None
        self.current_revision = getattr(entry, "revision", None)
        self.your_type = yours
        if seen == 0 and entry is not None:
            self.kind = "KVExists"
            text = (
                f"The key '{key}' already exists ({self.current_type}, revision "
                f"{self.current_revision}); nothing was written. Edit it, or confirm to "
                f"replace it with your {yours or 'value'}."
            )
        elif entry is None:
            self.kind = "KVConflict"
            text = (
                f"The key '{key}' was removed since you opened it (you saw revision {seen}); "
                "nothing was written."
            )
        else:
            self.kind = "KVConflict"
            text = (
                f"The key '{key}' changed since you opened it: it is now "
                f"{self.current_type} (revision {self.current_revision}), you saw revision "
                f"{seen}" + (f" and are saving {yours}" if yours else "") + "; nothing was "
                "written. Reload it, or confirm to overwrite."
            )
        super().__init__(text)

    def reply(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "message": str(self),
            "key": self.key,
            "seen_revision": self.seen,
            "current_type": self.current_type,
            "current_revision": self.current_revision,
            "your_type": self.your_type,
        }


def _kv_set(args: Mapping[str, Any]) -> dict[str, Any]:
    """A compare-and-set write on the revision the user saw; keeps the expiry unless
    ``ttl`` is given."""
    import nbcreds

    from .kvstore import kv_item

    key, kind = args["key"], args["type"]
    value = _kv_value(args["value"], kind)
    seen: int | None = args.get("revision")
    if seen is not None and seen < 0:
        raise _BadRequest("argument 'revision' of op 'kv_set' must be >= 0")
    entry = kv_item(key, default=None).entry
    yours = kind or (_kv_type(entry) if entry is not None else None)
    if seen is not None and (
        (entry is None and seen != 0) or (entry is not None and entry.revision != seen)
    ):
        raise _EditConflict(key, seen, entry, yours)
    options: dict[str, Any] = {}
    if kind is not None:
        options["type"] = kind
    if "ttl" in args:
        options["ttl"] = args["ttl"]
    elif entry is not None and getattr(entry, "expires", None) is not None:
        left = _seconds_until(entry.expires)
        if left is not None and left > 0:
            options["ttl"] = _dt.timedelta(seconds=left)
    # the store re-checks the revision atomically: a writer in between is a conflict too
    if seen is not None:
        options["if_revision"] = seen if entry is not None else 0
    try:
        nbcreds.set_kv(key, value, **options)
    except nbcreds.KVConflict:
        raise _EditConflict(key, seen or 0, kv_item(key, default=None).entry, yours) from None
    return build_state()


def handle(request: Any, channel: _Channel | None = None) -> dict[str, Any]:
    """Answer one request: a reply dict (masked), never an exception.

    Bad requests get ``{"ok": false, "error": {"type": "BadRequest", ...}}``;
    errors from nbcreds keep their class name so the panel can say what to do.
    """
    rid = request.get("id") if isinstance(request, dict) else None
    op = request.get("op") if isinstance(request, dict) else None
    reply: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": rid, "op": op}
    try:
        op_name, args = _validate(request)
        reply["result"] = _dispatch(op_name, args, channel)
        reply["ok"] = True
        _watcher.note_deadlines(reply["result"])
    except _BadRequest as exc:
        reply["ok"] = False
        reply["error"] = {"type": "BadRequest", "message": str(exc)}
    except _EditConflict as exc:
        reply["ok"] = False
        reply["error"] = exc.reply()
    except Exception as exc:  # a reply, not a traceback in the kernel log
        reply["ok"] = False
        reply["error"] = _error(exc)
    try:
        masked: dict[str, Any] = _mask_tree(reply)
    except Exception as exc:  # fail closed: an unmaskable reply is never sent
        return {
            "v": PROTOCOL_VERSION,
            "id": rid if isinstance(rid, str | int) else None,
            "op": op if isinstance(op, str) else None,
            "ok": False,
            "error": {
                "type": type(exc).__name__,
                "message": "the reply could not be masked, so it was not sent; "
                "check the [masking] table of nbcreds.toml",
            },
        }
    return masked


# --------------------------------------------------------------------------- kernel glue


class _Channel:
    """One open comm with a sidebar; ``watching`` panels get state after each cell."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.watching = False
        comm.on_msg(self._on_msg)
        comm.on_close(self._on_close)

    def _on_msg(self, msg: Mapping[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
        self.send(handle(data, self))

    def _on_close(self, msg: Mapping[str, Any]) -> None:
        _channels.pop(self.comm.comm_id, None)
        if not _watching():
            _watcher.stop()

    def send(self, data: dict[str, Any]) -> None:
        self.comm.send(data)

    def notify(self, event: str = "changed") -> None:
        self.send(event_message(event))


_channels: dict[str, _Channel] = {}
_shell: Any = None

#: how often the watcher looks at the KV store's change marker and the expiry deadline
POLL_SECONDS: Final = 0.5
#: the least time between two states the watcher pushes: a loop writing a key per
#: iteration costs a state build per gap, not one per write (well inside the 1 s goal)
PUSH_GAP_SECONDS: Final = 0.1


class _Watcher:
    """While a panel watches, one daemon thread pushes ``changed`` events with the state.

    It wakes at once when the core's change listener hears something (this kernel
    changed the namespace, a binding, a token, a KV entry -- whichever thread did it),
    and every :data:`POLL_SECONDS` to compare the KV store's change marker (another
    kernel wrote it) and the next expiry of a token or key the panel shows. It ends
    when no channel watches any more, so a kernel without a panel runs no thread.

    Each event carries the state, built on this thread: a panel that asked for it
    instead would wait until the running cell ends, since a comm request is a shell
    message the kernel reads only between cells (issue 15: changes made by a long
    cell showed only when it ended). iopub, which the event goes out on, is served by
    the kernel's own thread at any time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._heard: set[str] = set()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None

    def ensure(self) -> None:
        """Start the thread (and the listener) if a channel watches and none runs."""
        import nbcreds

        with self._lock:
            if self._thread is not None:
                return
            if not _watching():
                return
            nbcreds.add_change_listener(self.hear)
            self._thread = threading.Thread(
                target=self._run, name="nbcreds-comm-watcher", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Let the thread end (it does when nothing watches) and wait for it."""
        with self._lock:
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def hear(self, what: str) -> None:
        """The core's change listener: note the kind and wake the thread (any thread)."""
        with self._lock:
            self._heard.add(what)
        self._wake.set()

    def note_deadlines(self, result: Any) -> None:
        """After a state reply: remember when the first shown token or key expires."""
        if not isinstance(result, dict) or "credentials" not in result:
            return
        lefts = [
            row.get("expires_in")
            for row in [*result.get("credentials", []), *result.get("kv", [])]
            if isinstance(row, dict) and row.get("state", "valid") == "valid"
        ]
        future = [left for left in lefts if isinstance(left, int | float) and left > 0]
        with self._lock:
            self._deadline = time.monotonic() + min(future) if future else None

    def _marker(self) -> object | None:
        import nbcreds.kvstore  # None without a namespace or a store that can tell

        return nbcreds.kvstore.kv_poll_marker()

    def _event(self, what: list[str]) -> dict[str, Any]:
        """A ``changed`` event naming ``what``, with the state (:func:`_broadcast` masks
        it, or drops the state when it cannot be masked: the panel then asks)."""
        message: dict[str, Any] = {**event_message("changed"), "what": what}
        try:
            state = build_state()
        except Exception:  # pragma: no cover - build_state reports its sections' errors
            return message
        self.note_deadlines(state)
        return {**message, "state": state}

    def _run(self) -> None:
        import nbcreds

        marker = self._marker()
        try:
            while True:
                with self._lock:  # exit and ensure() decide under one lock: no lost start
                    if not _watching():
                        self._thread = None
                        nbcreds.remove_change_listener(self.hear)
                        return
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                with self._lock:
                    heard, self._heard = self._heard, set()
                    deadline = self._deadline
                now_marker = self._marker()
                if now_marker != marker and "kv" not in heard:  # another kernel wrote
                    heard.add("kv")
                marker = now_marker
                if deadline is not None and time.monotonic() >= deadline:
                    with self._lock:
                        self._deadline = None
                    heard.add("expiry")
                if heard:
                    _broadcast(self._event(sorted(heard)))
                    time.sleep(PUSH_GAP_SECONDS)
        except BaseException:  # pragma: no cover - never leave a dead thread registered
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
                nbcreds.remove_change_listener(self.hear)
            raise


_watcher = _Watcher()


def _watching() -> bool:
    return any(channel.watching for channel in list(_channels.values()))


def _broadcast(message: dict[str, Any]) -> None:
    """Send ``message`` (masked once, here) to every watching panel; drop the closed ones.

    A message that cannot be masked is not sent (fail closed); an event's state is
    dropped first, so the panel is still told and asks for the state itself.
    """
    try:
        masked = _mask_tree(message)
    except Exception:
        if "state" not in message:
            return
        try:
            masked = _mask_tree({k: v for k, v in message.items() if k != "state"})
        except Exception:
            return
    for channel in list(_channels.values()):
        if channel.watching:
            try:
                channel.send(masked)
            except Exception:  # a closed comm must not break the sender
                _channels.pop(channel.comm.comm_id, None)


def event_message(event: str) -> dict[str, Any]:
    """A kernel-initiated notice; alone, the panel then asks for the state.

    Empty when sent from ``%load_ext`` or after a cell: building the state may reach
    Vault or a database, and that must never happen inside ``%load_ext`` or delay a
    cell's reply; the panel's ``state`` request is answered after the cell, on the
    shell channel. The watcher thread adds the state to its own events.
    """
    return {"v": PROTOCOL_VERSION, "event": event}


def _open_target(comm: Any, open_msg: Mapping[str, Any]) -> None:
    """The panel opened a comm: its open data is the first request."""
    channel = _Channel(comm)
    _channels[comm.comm_id] = channel
    data = open_msg.get("content", {}).get("data")
    if data:
        channel.send(handle(data, channel))
    _watcher.ensure()


def _login_changed(name: str, state: Any) -> None:
    """A sign-in went pending / signed in / out: push it to watching panels now (the
    cell running the sign-in keeps the shell busy, so a state request would wait), and
    wake the watcher, whose event brings the whole state."""
    _broadcast({**event_message("changed"), "login": {"name": name, **state.as_dict()}})
    _watcher.hear("login")


def _post_run_cell(*_args: Any) -> None:
    """After each cell, tell watching panels to refresh (a cell may have set a secret)."""
    for channel in list(_channels.values()):
        if channel.watching:
            try:
                channel.notify("changed")
            except Exception:  # a closed comm must not break cell execution
                _channels.pop(channel.comm.comm_id, None)


def _watch_logins(on: bool) -> None:
    # through nbcreds._login_events, not nbcreds.credentials: importing the credentials
    # package here would double the cost of %load_ext (no sign-in happens before it is)
    from . import _login_events

    if on and _login_changed not in _login_events.listeners:
        _login_events.listeners.append(_login_changed)
    elif not on and _login_changed in _login_events.listeners:
        _login_events.listeners.remove(_login_changed)


def _comm_manager(ip: Any) -> Any:
    kernel = getattr(ip, "kernel", None)
    return getattr(kernel, "comm_manager", None)


def register(ip: Any) -> None:
    """Register the comm target (``%load_ext nbcreds``) and tell open panels we are here.

    A no-op outside a kernel (plain IPython has no comms).
    """
    global _shell
    manager = _comm_manager(ip)
    if manager is None:
        return
    manager.register_target(TARGET, _open_target)
    if _shell is None:
        ip.events.register("post_run_cell", _post_run_cell)
        _shell = ip
        _watch_logins(True)
    # Announce: a panel already showing "not loaded" adopts this comm at once.
    try:
        from comm import create_comm

        announce = create_comm(target_name=TARGET, data=event_message("loaded"))
    except Exception:
        return
    channel = _Channel(announce)
    channel.watching = True  # hears post_run_cell; the live watcher starts on "watch"
    _channels[announce.comm_id] = channel
    # no _watcher.ensure() here: its listener and marker import the session and config,
    # which %load_ext must not (issue 18 item 7); a panel that adopts this comm sends
    # "watch" at once, and that starts the watcher


def unregister(ip: Any) -> None:
    """Undo :func:`register`: close our comms, drop the target and the cell hook."""
    global _shell
    for channel in list(_channels.values()):
        with contextlib.suppress(Exception):  # already closed by the frontend
            channel.comm.close()
    _channels.clear()
    _watcher.stop()
    manager = _comm_manager(ip)
    if manager is not None:
        manager.unregister_target(TARGET, _open_target)
    if _shell is not None:
        with contextlib.suppress(ValueError):
            _shell.events.unregister("post_run_cell", _post_run_cell)
        _shell = None
        _watch_logins(False)

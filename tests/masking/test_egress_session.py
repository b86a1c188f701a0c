"""The kernel egress on a real jupyter_client Session: what reaches the socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.session import Session

import nbcreds
from nbcreds.masking import _egress, _stream
from nbcreds.testing.leaks import assert_no_leak

VALUE = "session-secret-Value-123"


class Wire:
    """Stands where the zmq socket is: keeps the frames Session.send writes."""

    def __init__(self) -> None:
        self.frames: list[list[bytes]] = []

    def send_multipart(self, frames: list[Any], **_kwargs: Any) -> None:
        self.frames.append([bytes(f) for f in frames])


class FakeShell:
    """The attributes of an ipykernel shell that install() looks at."""

    def __init__(self, session: Session) -> None:
        self.kernel = type("Kernel", (), {"session": session})()
        self.events = None


@pytest.fixture
def session() -> Iterator[Session]:
    session = Session(key=b"test-key")
    shell = FakeShell(session)
    _egress.install(shell)
    try:
        yield session
    finally:
        _egress.uninstall(shell)


def _received(session: Session, wire: Wire) -> list[dict[str, Any]]:
    out = []
    for frames in wire.frames:
        _idents, parts = session.feed_identities(frames, copy=True)
        out.append(session.deserialize(parts, content=True, copy=True))
    return out


def test_every_string_in_content_metadata_and_buffers_is_masked(session: Session) -> None:
    nbcreds.mask(VALUE, "PW")
    wire = Wire()
    content = {
        "data": {
            "text/plain": f"'{VALUE}'",
            "text/html": f"<b>{VALUE}</b>",
            "application/json": {"nested": [VALUE, {VALUE: 1}]},
        },
        "traceback": [f"line {VALUE}"],
    }
    session.send(wire, "display_data", content, metadata={"note": VALUE}, buffers=[VALUE.encode()])
    secret = nbcreds.Secret(VALUE, "PW")
    msg = session.msg("comm_msg", {"data": {"state": {"value": VALUE}, secret: [secret]}})
    session.send(wire, msg)
    raw = b"".join(b"".join(f) for f in wire.frames)
    assert_no_leak(raw, [VALUE])
    first, second = _received(session, wire)
    assert first["content"]["data"]["text/html"] == "<b>****</b>"
    assert first["content"]["data"]["application/json"] == {"nested": ["****", {"****": 1}]}
    assert first["metadata"] == {"note": "****"}
    assert first["buffers"][0].tobytes() == b"****"
    assert second["content"]["data"]["state"]["value"] == "****"
    assert second["content"]["data"]["****"] == ["****"]
    assert content["data"]["text/html"] == f"<b>{VALUE}</b>"  # the caller's dict is untouched


def test_serialize_called_directly_is_masked(session: Session) -> None:
    nbcreds.mask(VALUE)
    msg = session.msg("stream", {"name": "stdout", "text": VALUE})
    frames = session.serialize(msg)
    assert_no_leak(b"".join(frames), [VALUE])


def test_uninstall_restores_the_session_exactly() -> None:
    session = Session(key=b"k")
    before = dict(vars(session))
    shell = FakeShell(session)
    _egress.install(shell)
    assert "send" in vars(session)
    _egress.install(shell)  # idempotent
    _egress.uninstall(shell)
    assert "send" not in vars(session)
    assert "serialize" not in vars(session)
    assert set(vars(session)) == set(before)
    nbcreds.mask(VALUE)
    wire = Wire()
    session.send(wire, "stream", {"name": "stdout", "text": VALUE})
    assert VALUE.encode() in b"".join(wire.frames[0])


def test_kernel_stream_hold_keeps_a_split_value_together() -> None:
    nbcreds.mask(VALUE)

    class Stream:  # stands for an OutStream: only flush() is used on release
        pub_thread = None

    hold = _stream.KernelStreamHold(Stream())
    parent = {"msg_id": "cell-1"}
    other = {"msg_id": "cell-2"}
    first = hold._process([(parent, "a " + VALUE[:9]), (other, "plain\n")])
    assert first == [(parent, "a "), (other, "plain\n")]
    assert hold.holding
    second = hold._process([(parent, VALUE[9:] + " b\n")])
    assert second == [(parent, VALUE + " b\n")]  # whole again: the session masks it
    assert not hold.holding
    hold._process([(parent, VALUE[:4])])
    hold._release_pending = True
    assert hold._process([]) == [(parent, VALUE[:4])]


def test_positional_arguments_of_send_are_masked(session: Session) -> None:
    """Session.send(stream, msg_or_type, content, parent, ident, buffers, track,
    header, metadata): the wrapper knows these positions."""
    nbcreds.mask(VALUE)
    wire = Wire()
    session.send(
        wire, "stream", {"text": VALUE}, None, None, [VALUE.encode()], False, None, {"m": VALUE}
    )
    assert_no_leak(b"".join(wire.frames[0]), [VALUE])

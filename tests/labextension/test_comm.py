"""The kernel side of the sidebar (``nbcreds.comm``): schema validation, translation
onto the facade, and the guarantee that no reply carries a secret or token value."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import nbcreds as nc
from nbcreds import comm
from nbcreds.kvstore import kv_item
from nbcreds.testing.leaks import assert_no_leak

from .conftest import CLIENT_SECRET

SESSION_SECRET = "sidebar-session-value-9f8e7d"


def req(op: str, rid: Any = 1, **args: Any) -> dict[str, Any]:
    return {"v": 1, "id": rid, "op": op, **args}


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"] is True, reply.get("error")
    result: dict[str, Any] = reply["result"]
    return result


def wire(reply: dict[str, Any]) -> str:
    """What actually goes over the comm: the reply as JSON."""
    return json.dumps(reply)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        ("not a dict", "JSON object"),
        ({"v": 2, "id": 1, "op": "state"}, "protocol version"),
        ({"v": 1, "op": "state"}, "'id'"),
        ({"v": 1, "id": True, "op": "state"}, "'id'"),
        ({"v": 1, "id": 1, "op": "drop_tables"}, "unknown op"),
        ({"v": 1, "id": 1}, "unknown op"),
        (req("state", extra=1), "takes no argument 'extra'"),
        (req("use_namespace"), "needs argument 'namespace'"),
        (req("use_namespace", namespace=3), "must be str or null"),
        (req("test_credential", name=""), "must not be empty"),
        (req("test_credential", name=None), "must be str"),
        (req("watch", enabled="yes"), "must be bool"),
        (req("kv_get", key=["a"]), "must be str"),
        (req("kv_set", key="k", value=1, type="FLOAT"), "unknown KV type"),
        (req("kv_set", key="k", value="1", type="NUMBER"), "must be sent as int"),
        (req("kv_set", key="k", value=True, type="NUMBER"), "must be sent as int"),
        (req("kv_set", key="k", value=1, type="BOOLEAN"), "must be sent as bool"),
        (req("kv_set", key="k", value={"a": 1}, type="STRING"), "must be sent as str"),
        (req("kv_set", key="k", value=1), "needs argument 'type'"),
    ],
)
def test_bad_requests_get_an_error_reply(request_: Any, needle: str) -> None:
    reply = comm.handle(request_)
    assert reply["ok"] is False
    assert reply["error"]["type"] == "BadRequest"
    assert needle in reply["error"]["message"]
    assert reply["v"] == comm.PROTOCOL_VERSION
    if isinstance(request_, dict) and "id" in request_:
        assert reply["id"] == request_["id"]


def test_every_op_in_the_schema_is_dispatched() -> None:
    assert set(comm.OPS) == {
        "state",
        "use_namespace",
        "test_credential",
        "kv_get",
        "kv_set",
        "kv_delete",
        "watch",
    }


# ------------------------------------------------------------------ state


def test_state_lists_secret_names_never_values() -> None:
    nc.bind_secret("TENANT_KEY", SESSION_SECRET + "-tenant")  # no namespace yet: tenant level
    nc.use_namespace("acme.team")
    nc.bind_secret("DB_PASSWORD", SESSION_SECRET)
    reply = comm.handle(req("state", rid="s1"))
    state = ok(reply)
    assert reply["id"] == "s1"
    assert state["namespace"] == "acme.team"
    rows = {row["name"]: row for row in state["secrets"]}
    assert rows["DB_PASSWORD"]["level"] == "acme.team"
    assert rows["DB_PASSWORD"]["inherited"] is False
    assert rows["TENANT_KEY"]["level"] == "tenant"
    assert rows["TENANT_KEY"]["inherited"] is True
    assert {"acme", "acme.team"} <= set(state["namespaces"])
    assert state["errors"] == {}
    assert_no_leak(wire(reply), [SESSION_SECRET, SESSION_SECRET + "-tenant"])


def test_use_namespace_switches_and_returns_the_new_state() -> None:
    nc.use_namespace("acme")
    state = ok(comm.handle(req("use_namespace", namespace="acme.team.x")))
    assert state["namespace"] == "acme.team.x"
    assert nc.current_namespace() == "acme.team.x"
    state = ok(comm.handle(req("use_namespace", namespace=None)))
    assert state["namespace"] is None


def test_invalid_namespace_is_an_error_reply_with_the_rule() -> None:
    reply = comm.handle(req("use_namespace", namespace="Bad Name!"))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "NamespaceError"
    assert reply["error"]["message"]


def test_a_failing_section_is_reported_without_hiding_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nc.bind_secret("VISIBLE", SESSION_SECRET)

    def broken() -> list[Any]:
        raise nc.KVBackendError("database is locked: retry later")

    monkeypatch.setattr(comm, "_kv", broken)
    state = ok(comm.handle(req("state")))
    assert state["errors"] == {"kv": "database is locked: retry later"}
    assert [row["name"] for row in state["secrets"]] == ["VISIBLE"]


def test_a_reply_that_cannot_be_masked_is_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    nc.bind_secret("VISIBLE", SESSION_SECRET)

    def broken(text: str) -> str:
        raise nc.ConfigError("bad [masking] table")

    monkeypatch.setattr(comm, "_mask_text", broken)
    reply = comm.handle(req("state", rid=3))
    assert reply["ok"] is False
    assert reply["id"] == 3
    assert reply["error"]["type"] == "ConfigError"
    assert "result" not in reply
    assert "VISIBLE" not in wire(reply)


# ------------------------------------------------------------------ credentials


def test_credentials_listed_with_status_then_tested(credential_config: Any) -> None:
    nc.use_namespace("acme.team")
    state = ok(comm.handle(req("state")))
    rows = {row["name"]: row for row in state["credentials"]}
    assert set(rows) == {"idp", "broken", "team_api"}
    assert rows["idp"]["type"] == "oauth2_client_credentials"
    assert rows["idp"]["level"] == "tenant"
    assert rows["idp"]["inherited"] is True
    assert rows["team_api"]["level"] == "acme.team"
    assert rows["idp"]["cached"] is False
    assert rows["idp"]["expires_in"] is None
    assert (rows["idp"]["state"], rows["idp"]["status"]) == ("not_fetched", "not fetched yet")

    reply = comm.handle(req("test_credential", name="idp"))
    result = ok(reply)
    assert result["name"] == "idp"
    assert result["success"] is True
    assert "token" in result["message"]

    token = nc.credential("idp")  # fills the cache: the state shows its expiry
    state = ok(comm.handle(req("state")))
    idp = next(row for row in state["credentials"] if row["name"] == "idp")
    assert idp["cached"] is True
    assert 0 < idp["expires_in"] <= 3600
    assert idp["state"] == "valid"
    assert re.fullmatch(r"valid · expires in (59|60) min", idp["status"])
    assert idp["error"] is None
    assert_no_leak(wire(reply) + wire(state), [CLIENT_SECRET, token.reveal()])


def test_a_failing_credential_test_reports_failure_without_the_secret(
    credential_config: Any,
) -> None:
    reply = comm.handle(req("test_credential", name="broken"))
    result = ok(reply)
    assert result["success"] is False
    assert "broken" in result["message"]
    # the state says so, in the one vocabulary, with the same message
    state = ok(comm.handle(req("state")))
    broken = next(row for row in state["credentials"] if row["name"] == "broken")
    assert broken["state"] == "failed"
    assert broken["status"] == f"failed: {result['message']}"
    assert broken["error"] == result["message"]
    assert_no_leak(wire(reply) + wire(state), [CLIENT_SECRET])


def test_unknown_credential_is_reported_by_the_test() -> None:
    result = ok(comm.handle(req("test_credential", name="nope")))
    assert result["success"] is False
    assert "nope" in result["message"]


# ------------------------------------------------------------------ KV


@pytest.fixture
def acme() -> None:
    """KV state belongs to a namespace."""
    nc.use_namespace("acme")


def test_kv_is_empty_without_a_namespace_not_an_error() -> None:
    state = ok(comm.handle(req("state")))
    assert state["namespace"] is None
    assert state["kv"] == []
    assert "kv" not in state["errors"]


@pytest.mark.parametrize(
    ("value", "kind", "stored", "text"),
    [
        ("hello world", "STRING", "hello world", "hello world"),
        (42, "NUMBER", 42, "42"),
        (2.5, "NUMBER", 2.5, "2.5"),
        (False, "BOOLEAN", False, "false"),
        ({"a": [1, None]}, "JSON", {"a": [1, None]}, '{\n  "a": [\n    1,\n    null\n  ]\n}'),
        ("2024-05-06", "DATE", None, "2024-05-06"),
        ("PT1H", "DURATION", None, None),
    ],
)
def test_kv_set_get_round_trip(value: Any, kind: str, stored: Any, text: str | None) -> None:
    nc.use_namespace("acme")
    state = ok(comm.handle(req("kv_set", key="k1", value=value, type=kind)))
    row = next(r for r in state["kv"] if r["key"] == "k1")
    assert row["type"] == kind
    assert row["revision"] == 1
    assert row["expires_in"] is None
    if stored is not None:
        assert nc.kv("k1") == stored
    got = ok(comm.handle(req("kv_get", key="k1")))
    assert got["type"] == kind
    assert got["revision"] == 1
    if text is not None:
        assert got["text"] == text
    # what the panel got back can be sent again unchanged
    again = ok(comm.handle(req("kv_get", key="k1")))
    assert again["text"] == got["text"]


@pytest.mark.usefixtures("acme")
def test_kv_duration_text_is_iso8601() -> None:
    nc.set_kv("wait", "PT1H30M", type="DURATION")
    got = ok(comm.handle(req("kv_get", key="wait")))
    assert got["text"] == "PT1H30M"


@pytest.mark.usefixtures("acme")
def test_kv_entry_with_ttl_shows_time_to_expiry() -> None:
    nc.set_kv("cursor", 5, ttl="PT1H")
    state = ok(comm.handle(req("state")))
    row = next(r for r in state["kv"] if r["key"] == "cursor")
    assert 3500 < row["expires_in"] <= 3600


# ------------------------------------------------------------------ safe edits


def _row(state: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in state["kv"] if r["key"] == key)


@pytest.mark.usefixtures("acme")
def test_edit_on_a_stale_revision_is_a_conflict_naming_both_types() -> None:
    nc.set_kv("limit", "ten")  # the user opens it at revision 1 (STRING)
    seen = ok(comm.handle(req("kv_get", key="limit")))["revision"]
    nc.set_kv("limit", 10)  # code changes it meanwhile: NUMBER, revision 2
    reply = comm.handle(req("kv_set", key="limit", value="eleven", type="STRING", revision=seen))
    assert reply["ok"] is False
    error = reply["error"]
    assert error["type"] == "KVConflict"
    assert (error["current_type"], error["your_type"]) == ("NUMBER", "STRING")
    assert (error["seen_revision"], error["current_revision"]) == (1, 2)
    assert "NUMBER" in error["message"]
    assert "STRING" in error["message"]
    assert nc.kv("limit") == 10  # never a silent overwrite
    # on the revision now current the write goes through
    state = ok(comm.handle(req("kv_set", key="limit", value="eleven", type="STRING", revision=2)))
    assert _row(state, "limit")["revision"] == 3
    assert nc.kv("limit") == "eleven"


@pytest.mark.usefixtures("acme")
def test_a_double_save_on_the_same_revision_writes_once() -> None:
    nc.set_kv("n", 1)
    first = comm.handle(req("kv_set", key="n", value=2, type="NUMBER", revision=1))
    second = comm.handle(req("kv_set", key="n", value=2, type="NUMBER", revision=1))
    assert first["ok"] is True
    assert second["ok"] is False
    assert second["error"]["type"] == "KVConflict"
    assert kv_item("n").revision == 2


@pytest.mark.usefixtures("acme")
def test_creating_an_existing_key_is_refused_with_exists() -> None:
    nc.set_kv("batch_size", 500)
    reply = comm.handle(req("kv_set", key="batch_size", value="big", type="STRING", revision=0))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "KVExists"
    assert reply["error"]["current_type"] == "NUMBER"
    assert "already exists" in reply["error"]["message"]
    assert nc.kv("batch_size") == 500  # NUMBER stays NUMBER
    # an absent key is created on revision 0
    state = ok(comm.handle(req("kv_set", key="Batch_Lock", value=True, type="BOOLEAN", revision=0)))
    assert _row(state, "Batch_Lock")["type"] == "BOOLEAN"  # the key keeps its case


@pytest.mark.usefixtures("acme")
def test_an_edit_keeps_the_expiry_unless_the_user_changes_it() -> None:
    nc.set_kv("cursor", 5, ttl="PT1H")
    state = ok(comm.handle(req("kv_set", key="cursor", value=6, type="NUMBER", revision=1)))
    assert 3500 < _row(state, "cursor")["expires_in"] <= 3600  # kept
    state = ok(
        comm.handle(req("kv_set", key="cursor", value=7, type="NUMBER", revision=2, ttl="PT10M"))
    )
    assert 500 < _row(state, "cursor")["expires_in"] <= 600  # changed
    state = ok(
        comm.handle(req("kv_set", key="cursor", value=8, type="NUMBER", revision=3, ttl=None))
    )
    assert _row(state, "cursor")["expires_in"] is None  # removed on request


@pytest.mark.usefixtures("acme")
def test_delete_on_a_stale_revision_is_a_conflict() -> None:
    nc.set_kv("flag", True)
    nc.set_kv("flag", False)
    reply = comm.handle(req("kv_delete", key="flag", revision=1))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "KVConflict"
    assert nc.kv("flag") is False
    state = ok(comm.handle(req("kv_delete", key="flag", revision=2)))
    assert all(r["key"] != "flag" for r in state["kv"])


def test_optional_arguments_are_type_checked() -> None:
    reply = comm.handle(req("kv_set", key="k", value=1, type="NUMBER", revision="1"))
    assert reply["error"]["type"] == "BadRequest"
    assert "revision" in reply["error"]["message"]


@pytest.mark.usefixtures("acme")
def test_kv_delete_and_missing_key() -> None:
    nc.set_kv("gone", "x")
    state = ok(comm.handle(req("kv_delete", key="gone")))
    assert all(r["key"] != "gone" for r in state["kv"])
    reply = comm.handle(req("kv_get", key="gone"))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "KVNotFound"


@pytest.mark.usefixtures("acme")
def test_kv_refuses_a_secret_value_without_echoing_it() -> None:
    nc.bind_secret("API_TOKEN", SESSION_SECRET)
    reply = comm.handle(req("kv_set", key="oops", value=SESSION_SECRET, type="STRING"))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "KVSecretRefused"
    assert_no_leak(wire(reply), [SESSION_SECRET])


@pytest.mark.usefixtures("acme")
def test_kv_value_masked_when_it_became_secret_later() -> None:
    nc.set_kv("note", f"header {SESSION_SECRET} footer")
    nc.mask(SESSION_SECRET, "LATER")
    reply = comm.handle(req("kv_get", key="note"))
    text = ok(reply)["text"]
    assert text.startswith("header ")
    assert text.endswith(" footer")
    assert_no_leak(wire(reply), [SESSION_SECRET])


@pytest.mark.usefixtures("acme")
def test_kv_bad_key_is_an_error_reply() -> None:
    reply = comm.handle(req("kv_set", key="bad key!", value="x", type="STRING"))
    assert reply["ok"] is False
    assert reply["error"]["type"] == "KVValueError"


# ------------------------------------------------------------------ value text


def test_value_text_forms() -> None:
    import datetime as dt

    assert comm.value_text(dt.timedelta(days=1, hours=2, seconds=3.5), "DURATION") == "P1DT2H3.5S"
    assert comm.value_text(dt.timedelta(0), "DURATION") == "PT0S"
    assert comm.value_text(dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC), "DATETIME") == (
        "2024-01-02T03:04:00+00:00"
    )
    assert comm.value_text(None, "JSON") == "null"
    assert comm.value_text(True, "BOOLEAN") == "true"


# ------------------------------------------------------------------ channel glue


class FakeComm:
    """Stands in for a kernel Comm: records what the kernel sends."""

    def __init__(self, comm_id: str = "c1") -> None:
        self.comm_id = comm_id
        self.sent: list[dict[str, Any]] = []
        self.on_msg_cb: Any = None
        self.on_close_cb: Any = None
        self.closed = False

    def on_msg(self, cb: Any) -> None:
        self.on_msg_cb = cb

    def on_close(self, cb: Any) -> None:
        self.on_close_cb = cb

    def send(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


def test_open_data_is_the_first_request_and_watch_pushes_after_cells() -> None:
    nc.use_namespace("acme")
    fake = FakeComm()
    comm._open_target(fake, {"content": {"data": req("state", rid=7)}})
    try:
        assert fake.sent[0]["id"] == 7
        assert fake.sent[0]["ok"] is True
        fake.on_msg_cb({"content": {"data": req("watch", rid=8, enabled=True)}})
        assert ok(fake.sent[1]) == {"watching": True}
        comm._post_run_cell()
        assert fake.sent[2] == {"v": 1, "event": "changed"}
        fake.on_msg_cb({"content": {"data": req("watch", rid=9, enabled=False)}})
        comm._post_run_cell()
        assert len(fake.sent) == 4
        fake.on_close_cb({})
        assert "c1" not in comm._channels
    finally:
        comm._channels.clear()


def _until(found: Any, what: str) -> Any:
    """Wait (bounded, on a condition) until ``found()`` is truthy; its value."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never came: {what}")


def test_the_watcher_pushes_the_state_with_each_change_no_request_needed() -> None:
    """The watcher thread builds the state itself: a panel must not ask for it, since a
    request waits on the shell channel until the running cell ends (issue 15)."""
    nc.use_namespace("acme")
    fake = FakeComm("live")
    comm._open_target(fake, {"content": {"data": req("watch", rid=1, enabled=True)}})
    try:
        assert ok(fake.sent[0]) == {"watching": True}

        def pushed(key: str) -> Any:
            def find() -> Any:
                return next(
                    (
                        m
                        for m in list(fake.sent)
                        if m.get("event") == "changed"
                        and "kv" in m.get("what", [])
                        and key in {k["key"] for k in m.get("state", {}).get("kv", [])}
                    ),
                    None,
                )

            # (an earlier event, woken by the binding, may already show the key: its
            # state is built when it is sent; the one the KV write woke names "kv")
            return _until(find, f"a pushed 'kv' event whose state has {key!r}")

        nc.bind_secret("LIVE_TOKEN", SESSION_SECRET)
        nc.set_kv("live_key", 1)
        event = pushed("live_key")
        state = event["state"]
        assert state["namespace"] == "acme"
        assert "LIVE_TOKEN" in {s["name"] for s in state["secrets"]}
        assert state["kv_types"] == [t.value for t in nc.kvstore.KVType]
        assert isinstance(state["seq"], int)
        # a later change: a later state, numbered higher
        nc.set_kv("live_key_2", 2)
        assert pushed("live_key_2")["state"]["seq"] > state["seq"]
        assert_no_leak(wire({"sent": fake.sent}), [SESSION_SECRET])
    finally:
        fake.on_close_cb({})
        comm._channels.clear()
        comm._watcher.stop()


def test_an_event_whose_state_cannot_be_masked_goes_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nc.use_namespace("acme.unmaskable")
    fake = FakeComm("m")
    channel = comm._Channel(fake)
    channel.watching = True
    comm._channels[fake.comm_id] = channel
    real = comm._mask_text

    def broken(text: str) -> str:
        if text == "acme.unmaskable":  # only in the state
            raise nc.ConfigError("bad [masking] table")
        return real(text)

    monkeypatch.setattr(comm, "_mask_text", broken)
    try:
        comm._broadcast(comm._watcher._event(["namespace"]))
        assert fake.sent == [{"v": 1, "event": "changed", "what": ["namespace"]}]
    finally:
        comm._channels.clear()


def test_state_sends_the_kv_types_of_the_store() -> None:
    """The one list (nbcreds.kvstore.KVType): the panel offers these, keeps none."""
    state = ok(comm.handle(req("state")))
    assert state["kv_types"] == [t.value for t in nc.kvstore.KVType]
    assert "STRING" in state["kv_types"]


def test_register_is_a_noop_without_a_kernel() -> None:
    class Shell:
        pass

    comm.register(Shell())
    comm.unregister(Shell())
    assert comm._shell is None


def test_sign_in_changes_reach_the_comm_without_importing_credentials_at_load() -> None:
    """The comm subscribes through nbcreds._login_events (so %load_ext need not import
    nbcreds.credentials); the login book tells those listeners, and unsubscribing stops it."""
    from types import SimpleNamespace

    from nbcreds import _login_events, comm
    from nbcreds.credentials._login import LoginBook, LoginState

    heard: list[tuple[str, str]] = []

    def listener(name: str, state: LoginState) -> None:
        heard.append((name, state.status))

    comm._watch_logins(True)
    _login_events.listeners.append(listener)
    try:
        assert comm._login_changed in _login_events.listeners
        LoginBook()._changed(SimpleNamespace(name="me"), LoginState(status="pending"))  # type: ignore[arg-type]
        assert heard == [("me", "pending")]
    finally:
        _login_events.listeners.remove(listener)
        comm._watch_logins(False)
    assert comm._login_changed not in _login_events.listeners


def test_the_core_names_each_change_to_its_listeners(credential_config: Any) -> None:
    """One hook for live state: the namespace, a secret binding, a credential's token
    (minted, tested, failed, invalidated) and a KV entry each notify, with a kind only."""
    heard: list[str] = []
    nc.use_namespace("acme.team")
    nc.invalidate("idp")  # an earlier test's token must not be a cache hit here
    nc.add_change_listener(heard.append)
    try:
        steps: list[tuple[str, Any]] = [
            ("namespace", lambda: nc.use_namespace("acme")),
            ("secret", lambda: nc.bind_secret("LIVE_SECRET", "live-secret-value-77")),
            ("credential", lambda: nc.credential("idp")),
            ("credential", lambda: nc.test_credential("broken")),
            ("credential", lambda: nc.invalidate("idp")),
            ("kv", lambda: nc.set_kv("cursor", 1)),
            ("kv", lambda: nc.delete_kv("cursor")),
        ]
        for kind, step in steps:
            heard.clear()
            step()
            assert kind in heard, (kind, heard)
        heard.clear()
        assert nc.delete_kv("cursor") is False  # nothing changed: nothing said
        assert "kv" not in heard
        assert_no_leak(repr(heard), ["live-secret-value-77", CLIENT_SECRET])
    finally:
        nc.remove_change_listener(heard.append)
    heard.clear()
    nc.use_namespace("acme")
    assert heard == []  # removed

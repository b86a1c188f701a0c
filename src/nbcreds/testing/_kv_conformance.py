"""The KV backend conformance suite (the shape of keyring's ``BackendBasicTests``).

A backend's test module subclasses :class:`KVBackendTests` and provides a
``backend`` fixture that writes and loads an ``nbcreds.toml`` using the backend
(``[kv] backend = ...``); every test then runs through the public facade::

    import pytest
    from nbcreds.testing.conformance import KVBackendTests

    class TestMyBackend(KVBackendTests):
        @pytest.fixture
        def backend(self, write_config):
            return write_config('[kv]\nbackend = "mine"\n')

nbcreds' own SQLite and PostgreSQL backends pass it (tests/kvstore/test_conformance.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import nbcreds
from nbcreds import (
    KVConflict,
    KVNotFound,
    KVSecretRefused,
    KVValueError,
    NamespaceError,
    Secret,
)
from nbcreds.kvstore import KVEntry, KVType, kv_item, update_kv
from nbcreds.masking import registry
from nbcreds.testing.leaks import assert_no_leak

ROUND_TRIP = [
    ("text", KVType.STRING),
    ("", KVType.STRING),
    ("ünïcødé ✓ 'quotes' \"double\" \\ back", KVType.STRING),
    (42, KVType.NUMBER),
    (-(2**80), KVType.NUMBER),
    (0, KVType.NUMBER),
    (1.0, KVType.NUMBER),
    (0.1 + 0.2, KVType.NUMBER),
    (1e300, KVType.NUMBER),
    (float("inf"), KVType.NUMBER),
    (Decimal("1.10"), KVType.NUMBER),
    (Decimal("-0.000000000000000000000000001"), KVType.NUMBER),
    (True, KVType.BOOLEAN),
    (False, KVType.BOOLEAN),
    (
        dt.datetime(
            2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
        ),
        KVType.DATETIME,
    ),
    (dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), KVType.DATETIME),
    (dt.datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris")), KVType.DATETIME),
    (dt.datetime(2024, 5, 1, 12, 30), KVType.DATETIME),
    (dt.date(2024, 2, 29), KVType.DATE),
    (dt.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7), KVType.DURATION),
    (dt.timedelta(seconds=-1), KVType.DURATION),
    (dt.timedelta(0), KVType.DURATION),
    ({"b": 1, "a": [1, 2.5, None, True, "x"], "nested": {"z": {}}}, KVType.JSON),
    ([1, "two", 3.0], KVType.JSON),
    (None, KVType.JSON),
]


class KVBackendTests:
    """Subclass it and provide a ``backend`` fixture (see the module's docstring)."""

    @pytest.fixture
    def ns(self, backend: Any) -> str:
        """A fresh namespace (a shared database may hold others), selected."""
        name = f"t{uuid.uuid4().hex[:12]}.team"
        nbcreds.use_namespace(name)
        return name

    @pytest.mark.parametrize(
        ("value", "kind"), ROUND_TRIP, ids=[repr(v)[:30] for v, _ in ROUND_TRIP]
    )
    def test_values_round_trip_exactly(self, ns: str, value: Any, kind: KVType) -> None:
        nbcreds.set_kv("v", value)
        back: Any = nbcreds.kv("v")
        assert back == value or (value != value and back != back)
        assert type(back) is type(value)
        if isinstance(value, Decimal):
            assert str(back) == str(value)  # the digits, not just the number
        if isinstance(value, dt.datetime):
            assert back.utcoffset() == value.utcoffset()
            assert str(back.tzinfo) == str(value.tzinfo)
        if isinstance(value, dict):
            assert list(back) == list(value)  # key order kept
        assert nbcreds.kv_entries()[0].type is kind

    def test_explicit_type_parses_strings(self, ns: str) -> None:
        nbcreds.set_kv("n", "42", type="NUMBER")
        nbcreds.set_kv("d", "3.14", type=KVType.NUMBER)
        nbcreds.set_kv("b", "TRUE", type="boolean")
        nbcreds.set_kv("j", '{"a": [1, 2]}', type="JSON")
        nbcreds.set_kv("t", "2024-01-02T03:04:05+01:00", type="DATETIME")
        nbcreds.set_kv("dd", "2024-01-02", type="DATE")
        nbcreds.set_kv("du", "PT1H30M", type="DURATION")
        assert nbcreds.kv("n") == 42
        assert type(nbcreds.kv("n")) is int
        assert nbcreds.kv("d") == Decimal("3.14")
        assert nbcreds.kv("b") is True
        assert nbcreds.kv("j") == {"a": [1, 2]}
        assert nbcreds.kv("t").utcoffset() == dt.timedelta(hours=1)
        assert nbcreds.kv("dd") == dt.date(2024, 1, 2)
        assert nbcreds.kv("du") == dt.timedelta(minutes=90)

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("abc", "NUMBER"),
            (1, "STRING"),
            ("yes", "BOOLEAN"),
            (True, "NUMBER"),
            ("{", "JSON"),
            ("x", "NOPE"),
            (dt.datetime(2024, 1, 1), "DATE"),
            ({1: "a"}, "JSON"),
            ({"a": float("nan")}, "JSON"),
            ({"s": {1, 2}}, None),
            (object(), None),
            (b"raw", None),
        ],
    )
    def test_bad_values_and_types_are_refused(
        self, ns: str, value: object, kind: str | None
    ) -> None:
        with pytest.raises(KVValueError):
            nbcreds.set_kv("k", value, type=kind)
        assert nbcreds.kv_keys() == []

    def test_missing_key_message_and_defaults(self, ns: str) -> None:
        with pytest.raises(KVNotFound) as err:
            nbcreds.kv("nope")
        assert str(err.value) == f"The key 'nope' does not exist in the namespace '{ns}'."
        assert isinstance(err.value, LookupError)
        assert nbcreds.kv("nope", default=None) is None
        assert nbcreds.kv("nope", default=7) == 7

    def test_expired_keys_are_invisible_and_removed(self, ns: str) -> None:
        nbcreds.set_kv("short", "a", ttl="PT1S")
        nbcreds.set_kv("short2", "b", ttl=dt.timedelta(seconds=1))
        nbcreds.set_kv("long", "c", ttl="PT1H")
        assert nbcreds.kv("short") == "a"
        time.sleep(1.1)  # long enough that the read above is surely before expiry
        # an expired key with a default gives the default (Kestra #12294 raised)
        assert nbcreds.kv("short", default="gone") == "gone"
        with pytest.raises(KVNotFound):
            nbcreds.kv("short2")
        with pytest.raises(KVNotFound):
            kv_item("short2")
        assert nbcreds.kv_keys() == ["long"]
        assert [e.key for e in nbcreds.kv_entries()] == ["long"]
        assert nbcreds.delete_kv("short2") is False  # removes it, but it was not live
        nbcreds.set_kv("short3", "d", ttl="PT0.01S")
        time.sleep(0.05)
        assert nbcreds.purge_kv() == 1  # short, short2 were removed lazily; short3 by purge
        assert nbcreds.purge_kv() == 0
        assert nbcreds.kv("long") == "c"

    def test_rewriting_an_expired_key_starts_afresh(self, ns: str) -> None:
        nbcreds.set_kv("k", 1, ttl="PT0.05S", description="old")
        nbcreds.set_kv("k", 2, ttl="PT0.05S")
        time.sleep(0.1)
        assert nbcreds.set_kv("k", 3, overwrite=False) == 1
        entry = nbcreds.kv_entries()[0]
        assert entry.revision == 1
        assert entry.description is None
        assert entry.expires is None

    @pytest.mark.parametrize(
        "ttl",
        [
            "PT0S",
            "P0D",
            "-PT1S",
            dt.timedelta(0),
            dt.timedelta(seconds=-5),
            "1 day",
            "P1Y",
            "P1M",
            "PT",
            "P",
            3600,
            "PT1.5H7",
        ],
    )
    def test_bad_ttls_are_refused(self, ns: str, ttl: object) -> None:
        with pytest.raises(KVValueError):
            nbcreds.set_kv("k", 1, ttl=ttl)  # type: ignore[arg-type]
        assert nbcreds.kv("k", default=None) is None

    @pytest.mark.parametrize("ttl", [dt.timedelta.max, "P999999999999D", "PT99999999999999999999S"])
    def test_huge_ttl_is_clamped_not_an_error(self, ns: str, ttl: object) -> None:
        nbcreds.set_kv("k", "v", ttl=ttl)  # type: ignore[arg-type]
        assert nbcreds.kv("k") == "v"
        (entry,) = nbcreds.kv_entries()
        assert entry.expires == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

    def test_set_without_ttl_keeps_no_expiry(self, ns: str) -> None:
        nbcreds.set_kv("k", 1, ttl="PT1H")
        (entry,) = nbcreds.kv_entries()
        assert entry.expires is not None
        assert dt.timedelta(minutes=59) < entry.expires - entry.updated <= dt.timedelta(hours=1)
        nbcreds.set_kv("k", 2)  # documented: no ttl -> never expires (Kestra #17353)
        assert nbcreds.kv_entries()[0].expires is None

    def test_overwrite_false(self, ns: str) -> None:
        assert nbcreds.set_kv("k", 1, overwrite=False) == 1
        with pytest.raises(KVConflict, match="already exists"):
            nbcreds.set_kv("k", 2, overwrite=False)
        assert nbcreds.kv("k") == 1

    def test_revisions_and_compare_and_set(self, ns: str) -> None:
        r1 = nbcreds.set_kv("k", "a", description="cursor")
        r2 = nbcreds.set_kv("k", "b")
        assert (r1, r2) == (1, 2)
        assert nbcreds.set_kv("k", "c", if_revision=2) == 3
        with pytest.raises(KVConflict, match="no longer at revision 2"):
            nbcreds.set_kv("k", "d", if_revision=2)
        with pytest.raises(KVConflict):
            nbcreds.set_kv("k", "d", if_revision=0)  # 0: create only
        with pytest.raises(KVConflict):
            nbcreds.set_kv("absent", "d", if_revision=1)
        assert nbcreds.set_kv("absent", "d", if_revision=0) == 1
        assert nbcreds.kv("k") == "c"
        (entry, _) = nbcreds.kv_entries()
        assert entry.key == "absent"
        entry = nbcreds.kv_entries(prefix="k")[0]
        assert entry.revision == 3
        assert entry.description == "cursor"
        nbcreds.set_kv("k", "e", description="new")
        assert nbcreds.kv_entries(prefix="k")[0].description == "new"
        with pytest.raises(KVValueError):
            nbcreds.set_kv("k", "x", if_revision=-1)

    def test_kv_item_and_update_kv(self, ns: str) -> None:
        item = kv_item("counter", default=0)
        assert item.value == 0
        assert item.entry is None
        assert item.revision == 0
        nbcreds.set_kv("counter", item.value + 1, if_revision=item.revision)
        item = kv_item("counter")
        assert item.value == 1
        assert item.revision == 1
        assert item.entry is not None
        assert item.entry.namespace == ns
        assert update_kv("counter", lambda n: n + 10) == 11
        assert nbcreds.kv("counter") == 11

    def test_threads_compare_and_set(self, ns: str) -> None:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(25):
                    update_kv("n", lambda n: n + 1, default=0)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert nbcreds.kv("n") == 100
        assert kv_item("n").revision == 100

    def test_put_kv_deep_merges(self, ns: str) -> None:
        assert nbcreds.put_kv("cfg", {"a": {"x": 1, "y": [1, 2]}, "b": 1}) == 1
        assert nbcreds.put_kv("cfg", {"a": {"y": None, "z": {"q": 1}}, "c": 2.5}) == 2
        value = nbcreds.kv("cfg")
        assert value == {"a": {"x": 1, "y": None, "z": {"q": 1}}, "b": 1, "c": 2.5}
        assert list(value) == ["a", "b", "c"]
        assert list(value["a"]) == ["x", "y", "z"]
        assert type(value["c"]) is float
        assert nbcreds.put_kv("cfg", {"a": 5}, if_revision=2) == 3
        assert nbcreds.kv("cfg")["a"] == 5
        with pytest.raises(KVConflict):
            nbcreds.put_kv("cfg", {"a": 6}, if_revision=2)
        with pytest.raises(KVConflict):
            nbcreds.put_kv("cfg", {"a": 6}, overwrite=False)
        assert nbcreds.kv("cfg")["a"] == 5

    def test_put_kv_refuses_non_objects(self, ns: str) -> None:
        nbcreds.set_kv("s", "text")
        nbcreds.set_kv("l", [1, 2])
        for key in ("s", "l"):
            with pytest.raises(KVValueError, match="put_kv merges into a JSON object"):
                nbcreds.put_kv(key, {"a": 1})
        with pytest.raises(KVValueError):
            nbcreds.put_kv("x", [1, 2])  # type: ignore[arg-type]
        assert nbcreds.kv("s") == "text"
        assert nbcreds.kv("l") == [1, 2]

    def test_put_kv_with_ttl_and_description(self, ns: str) -> None:
        nbcreds.put_kv("p", {"a": 1}, ttl="PT1H", description="doc")
        (entry,) = nbcreds.kv_entries()
        assert entry.expires is not None
        assert entry.description == "doc"
        nbcreds.put_kv("p", {"b": 2})
        (entry,) = nbcreds.kv_entries()
        assert entry.expires is None
        assert entry.description == "doc"
        assert entry.revision == 2

    def test_delete(self, ns: str) -> None:
        nbcreds.set_kv("k", 1)
        assert nbcreds.delete_kv("k") is True
        assert nbcreds.delete_kv("k") is False
        assert nbcreds.kv("k", default=None) is None

    def test_keys_and_entries(self, ns: str) -> None:
        for key in ("b.two", "a.one", "b.one", "c_three", "b_x"):
            nbcreds.set_kv(key, key, description=f"about {key}")
        nbcreds.set_kv("other", 1, namespace=ns + ".child")
        assert nbcreds.kv_keys() == ["a.one", "b.one", "b.two", "b_x", "c_three"]
        assert nbcreds.kv_keys("b.") == ["b.one", "b.two"]
        assert nbcreds.kv_keys("b_") == ["b_x"]  # '_' is not a wildcard
        assert nbcreds.kv_keys("zzz") == []
        entries = nbcreds.kv_entries("b")
        assert [e.key for e in entries] == ["b.one", "b.two", "b_x"]
        entry = entries[0]
        assert isinstance(entry, KVEntry)
        assert not hasattr(entry, "value")
        assert entry.namespace == ns
        assert entry.type is KVType.STRING
        assert entry.revision == 1
        assert entry.description == "about b.one"
        assert entry.expires is None
        assert entry.created.tzinfo is not None
        assert entry.created <= entry.updated
        assert abs(entry.created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
        assert nbcreds.kv_keys(namespace=ns + ".child") == ["other"]

    def test_namespaces_write_one_and_inherit_only_when_asked(self, ns: str) -> None:
        child = ns + ".project"
        nbcreds.set_kv("shared", "parent")
        nbcreds.set_kv("both", "parent")
        nbcreds.set_kv("both", "child", namespace=child)
        nbcreds.use_namespace(child)
        with pytest.raises(KVNotFound):
            nbcreds.kv("shared")
        assert nbcreds.kv("shared", inherit=True) == "parent"
        assert nbcreds.kv("both", inherit=True) == "child"  # nearest wins
        assert kv_item("shared", inherit=True).entry.namespace == ns  # type: ignore[union-attr]
        with pytest.raises(KVNotFound, match="nor in its parents"):
            nbcreds.kv("none", inherit=True)
        nbcreds.set_kv("shared", "mine")  # writes never go to a parent
        assert nbcreds.kv("shared", namespace=ns) == "parent"
        assert nbcreds.kv_keys() == ["both", "shared"]
        assert nbcreds.kv_keys(namespace=ns) == ["both", "shared"]
        other = ns.split(".")[0] + ".teams"  # a sibling, not a child
        assert nbcreds.kv("shared", namespace=other, default=None) is None

    def test_no_namespace_selected(self, backend: object) -> None:
        nbcreds.use_namespace(None)
        for call in (
            lambda: nbcreds.kv("k"),
            lambda: nbcreds.set_kv("k", 1),
            nbcreds.kv_keys,
            nbcreds.purge_kv,
        ):
            with pytest.raises(NamespaceError, match=r"use_namespace"):
                call()
        with pytest.raises(NamespaceError):
            nbcreds.kv("k", namespace="Bad Name")

    @pytest.mark.parametrize("key", ["", "-x", ".x", "a b", "é", "a/b", "a:b", None, 5, "x\n"])
    def test_bad_keys(self, ns: str, key: object) -> None:
        with pytest.raises(KVValueError, match="a key matches"):
            nbcreds.set_kv(key, 1)  # type: ignore[arg-type]
        with pytest.raises(KVValueError):
            nbcreds.kv(key)  # type: ignore[arg-type]

    def test_good_keys(self, ns: str) -> None:
        for key in ("a", "A.b-c_1", "9", "x" * 200):
            nbcreds.set_kv(key, key)
            assert nbcreds.kv(key) == key

    def test_purge(self, ns: str) -> None:
        base = ns
        child, sibling = base + ".child", base + "x"
        for namespace in (base, child, sibling):
            nbcreds.set_kv("live", 1, namespace=namespace)
            nbcreds.set_kv("dead", 1, namespace=namespace, ttl="PT0.01S")
        time.sleep(0.05)
        assert nbcreds.purge_kv() == 1
        assert nbcreds.purge_kv(recursive=True) == 1  # the child's; never the sibling 'tx...x'
        assert nbcreds.purge_kv(sibling) == 1
        assert nbcreds.purge_kv(expired_only=False, recursive=True) == 2
        assert nbcreds.kv_keys(namespace=child) == []
        assert nbcreds.kv_keys(namespace=sibling) == ["live"]

    # --- no secrets in KV -----------------------------------------------------------------------

    def test_a_secret_is_refused(self, ns: str) -> None:
        token = Secret("s3cr3t-token-value-123", "API_TOKEN", "session")
        registry.register(token.reveal(), "API_TOKEN")
        attempts: list[Callable[[], object]] = [
            lambda: nbcreds.set_kv("k", token),
            lambda: nbcreds.set_kv("k", {"auth": {"token": token}}),
            lambda: nbcreds.set_kv("k", [1, token]),
            lambda: nbcreds.set_kv("k", f"Bearer {token.reveal()}"),
            lambda: nbcreds.set_kv("k", {"nested": ["x", f"url?t={token.reveal()}"]}),
            lambda: nbcreds.set_kv("k", {token.reveal(): 1}),
            lambda: nbcreds.set_kv("k", f'{{"t": "{token.reveal()}"}}', type="JSON"),
            lambda: nbcreds.put_kv("k", {"a": token.reveal()}),
            lambda: nbcreds.put_kv("k", {"a": token}),
        ]
        for attempt in attempts:
            with pytest.raises(KVSecretRefused) as err:
                attempt()
            message = str(err.value)
            assert "'k'" in message
            assert "secret(" in message
            assert_no_leak(message, [token.reveal()])
        assert nbcreds.kv_keys() == []

    def test_a_secret_with_json_escapes_is_refused(self, ns: str) -> None:
        value = 'pa"ss\\word\n42'
        registry.register(value, "PW")
        with pytest.raises(KVSecretRefused):
            nbcreds.set_kv("k", {"password": value})
        nbcreds.set_kv("k", {"password": "harmless"})  # unrelated values pass
        assert nbcreds.kv("k") == {"password": "harmless"}

    @pytest.mark.parametrize(
        "value", ["nul\x00inside", "lone \ud800 surrogate", {"a": "lone \udfff"}]
    )
    def test_text_no_backend_can_store_is_refused_alike(self, ns: str, value: object) -> None:
        with pytest.raises(KVValueError, match="cannot store"):
            nbcreds.set_kv("k", value)
        with pytest.raises(KVValueError, match="cannot store"):
            nbcreds.set_kv("k", 1, description="nul\x00")
        assert nbcreds.kv_keys() == []
        nbcreds.set_kv("k", {"json": "nul\x00ok"})  # JSON escapes NUL as \u0000
        assert nbcreds.kv("k") == {"json": "nul\x00ok"}

    def test_a_secret_in_the_description_is_refused(self, ns: str) -> None:
        registry.register("descr-secret-value-77", "X")
        with pytest.raises(KVSecretRefused):
            nbcreds.set_kv("k", 1, description="see descr-secret-value-77")
        with pytest.raises(KVSecretRefused):
            nbcreds.put_kv("k", {"a": 1}, description="descr-secret-value-77")
        with pytest.raises(KVSecretRefused):  # a Secret nobody registered is refused too
            nbcreds.set_kv("k", 1, description=Secret("unregistered-xyz-123", "U"))
        assert nbcreds.kv_keys() == []

    def test_an_encoded_secret_is_refused(self, ns: str) -> None:
        import base64

        value = "another-secret-value-9f8e7d"
        registry.register(value, "S")
        with pytest.raises(KVSecretRefused):
            nbcreds.set_kv("k", base64.b64encode(value.encode()).decode())
        assert nbcreds.kv_keys() == []

"""Vault / OpenBao dynamic secrets: leases, renewed in the background, revoked at the end.

``nbcreds.lease("database/creds/readonly")`` reads a dynamic secret through the
configured ``[sources.vault]`` login. Every field of its data (the username
too) is registered with the masker and handed out as a :class:`~nbcreds.Secret`.

One daemon thread (the :class:`LeaseKeeper`) renews each renewable lease
``refresh_before_expiry`` before it expires (``[sources.vault]
refresh_before_expiry``, default ``PT1M``; a lease shorter than three times
that is renewed when a third of its time is left), and stops renewing when
Vault no longer extends it (max TTL reached). Every lease taken is revoked at
``%unload_ext nbcreds``, when the kernel shuts down and at interpreter exit
(an ``atexit`` handler: ipykernel leaves its event loop on a shutdown request
and the process exits, which runs it well within the seconds a kernel is
given), and on :meth:`Lease.revoke` or leaving a ``with`` block.

``namespace`` is a Vault Enterprise / OpenBao *namespace* (``X-Vault-Namespace``),
not an nbcreds namespace: a dynamic secret is read at the path given.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

from .._exceptions import SecretBackendError, SecretError
from ..masking import registry
from ..values import Secret

if TYPE_CHECKING:
    from types import TracebackType

    from .vault import VaultSource

__all__ = ["Lease", "LeaseKeeper", "keeper", "lease", "revoke_all"]

log = logging.getLogger("nbcreds.secrets.lease")

DEFAULT_REFRESH_BEFORE = 60.0
#: Bound on each revoke at exit: a kernel gets a few seconds to shut down.
EXIT_REVOKE_TIMEOUT = 3.0


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class Lease:
    """One dynamic secret: its fields as registered ``Secret`` values and its lease.

    The lease id is not a credential (it names the lease, it grants nothing), so it
    shows in ``repr``; the data never does.
    """

    def __init__(
        self,
        *,
        path: str,
        lease_id: str,
        data: Mapping[str, Secret],
        duration: float,
        renewable: bool,
        vault: VaultSource,
        namespace: str | None = None,
        refresh_before: float = DEFAULT_REFRESH_BEFORE,
    ) -> None:
        self.path = path
        self.lease_id = lease_id
        self.data: Mapping[str, Secret] = dict(data)
        self.renewable = renewable
        self.namespace = namespace
        self.refresh_before = refresh_before
        self._vault = vault
        self._lock = threading.Lock()
        self._duration = duration
        self._expires_at = _now() + _dt.timedelta(seconds=duration)
        self._revoked = False
        #: False once Vault stopped extending the lease (max TTL) or a renewal failed.
        self.renewing = renewable and bool(lease_id)

    # --- the public face --------------------------------------------------------------

    @property
    def expires_at(self) -> _dt.datetime:
        """When the lease ends (UTC), as of the last read or renewal."""
        return self._expires_at

    @property
    def revoked(self) -> bool:
        return self._revoked

    def __getitem__(self, field: str) -> Secret:
        return self.data[field]

    def renew(self, increment: float | None = None) -> _dt.datetime:
        """Extend the lease now (by ``increment`` seconds, or its default TTL); returns
        the new :attr:`expires_at`. Raises :class:`~nbcreds.SecretError` once revoked."""
        if self._revoked:
            raise SecretError(f"lease {self.lease_id} was revoked: take a new one with lease()")
        if not self.lease_id:
            raise SecretError(f"the secret at {self.path} has no lease: nothing to renew")
        body: dict[str, Any] = {"lease_id": self.lease_id}
        if increment is not None:
            body["increment"] = int(increment)
        before = self._expires_at
        response = self._request("put", "/v1/sys/leases/renew", "renewing lease", body)
        duration = float(_number(response, "lease_duration"))
        with self._lock:
            self._duration = duration
            self._expires_at = _now() + _dt.timedelta(seconds=duration)
            if duration <= 0 or self._expires_at <= before:
                self.renewing = False  # max TTL reached: Vault extends no further
        keeper().schedule(self)
        return self._expires_at

    def revoke(self) -> None:
        """Revoke the lease now (the database user is dropped). Idempotent."""
        self._revoke(timeout=None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.revoke()

    def __repr__(self) -> str:
        state = "revoked" if self._revoked else f"expires {self._expires_at:%Y-%m-%d %H:%M:%S} UTC"
        fields = ", ".join(sorted(self.data))
        return f"<Lease {self.path} id={self.lease_id} {state}; fields: {fields}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    # --- internals --------------------------------------------------------------------

    def due(self) -> float:
        """``time.monotonic()`` at which to renew next."""
        left = (self._expires_at - _now()).total_seconds()
        before = min(self.refresh_before, self._duration / 3)
        return time.monotonic() + max(left - before, 0.0)

    def _revoke(self, timeout: float | None) -> None:
        with self._lock:
            if self._revoked:
                return
            self._revoked = True
            self.renewing = False
        keeper().forget(self)
        if not self.lease_id:
            return
        self._request(
            "put", "/v1/sys/leases/revoke", "revoking lease", {"lease_id": self.lease_id}, timeout
        )
        log.info("revoked Vault lease %s", self.lease_id)

    def _request(
        self,
        method: str,
        url: str,
        action: str,
        body: Mapping[str, Any],
        timeout: float | None = None,
    ) -> Any:
        headers = {"X-Vault-Namespace": self.namespace} if self.namespace else {}

        def call(client: Any) -> Any:
            kwargs: dict[str, Any] = {"json": dict(body), "headers": headers}
            if timeout is not None:
                kwargs["timeout"] = timeout
            return getattr(client.adapter, method)(url, **kwargs)

        return self._vault.client.run(action, self.lease_id, call, missing_ok=False)


def lease(path: str, namespace: str | None = None) -> Lease:
    """Read the dynamic secret at ``path`` (e.g. ``database/creds/readonly``).

    Each field is registered with the masker before this returns; the lease is
    renewed in the background and revoked when the kernel ends.
    """
    from .._session import session
    from .vault import VaultSource

    if not isinstance(path, str) or not path.strip("/"):
        raise SecretError("lease() needs the path of a dynamic secret, e.g. database/creds/ro")
    path = path.strip("/")
    vault = session().source("vault")  # ConfigError when no [sources.vault] table
    if not isinstance(vault, VaultSource):  # pragma: no cover - defensive
        raise SecretError("the configured vault source cannot take leases")
    refresh_before = vault.settings.refresh_before_expiry
    headers = {"X-Vault-Namespace": namespace} if namespace else {}

    def read(client: Any) -> Any:
        return client.adapter.get(f"/v1/{path}", headers=headers)

    response = vault.client.run("reading dynamic secret", path, read, missing_ok=True)
    if not isinstance(response, Mapping) or not isinstance(response.get("data"), Mapping):
        raise SecretBackendError(
            f"Vault at {vault.address} has no dynamic secret at {path} (check the path and the "
            "role, and that the login's policy may read it)",
            source="vault",
            address=vault.address,
        )
    raw: Mapping[str, Any] = response["data"]
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    for name, value in values.items():  # masked before anyone sees them
        registry.register(value, f"{path}#{name}")
    data = {k: Secret(v, f"{path}#{k}", "vault lease") for k, v in values.items()}
    taken = Lease(
        path=path,
        lease_id=str(response.get("lease_id") or ""),
        data=data,
        duration=float(_number(response, "lease_duration")),
        renewable=bool(response.get("renewable")),
        vault=vault,
        namespace=namespace,
        refresh_before=refresh_before,
    )
    if taken.lease_id:
        keeper().add(taken)
    return taken


def _number(response: Any, key: str) -> float:
    value = response.get(key, 0) if isinstance(response, Mapping) else 0
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 0.0


class LeaseKeeper:
    """Renews leases before they expire (one daemon thread) and revokes them all at the end."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._leases: dict[int, Lease] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._atexit: Callable[[], None] | None = None
        #: lease key -> the sequence number of its current heap entry (older ones are stale)
        self._current: dict[int, int] = {}

    def add(self, taken: Lease) -> None:
        with self._cond:
            self._leases[id(taken)] = taken
            if self._atexit is None:
                self._atexit = self._revoke_at_exit
                atexit.register(self._atexit)
        self.schedule(taken)

    def schedule(self, taken: Lease) -> None:
        with self._cond:
            if id(taken) not in self._leases or not taken.renewing:
                return
            self._push(taken, taken.due())
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="nbcreds-lease-keeper", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _push(self, taken: Lease, due: float) -> None:
        """(Re)schedule ``taken`` at ``due``; its earlier entry becomes stale. Lock held."""
        seq = next(self._counter)
        self._current[id(taken)] = seq
        heapq.heappush(self._heap, (due, seq, id(taken)))

    def forget(self, taken: Lease) -> None:
        with self._cond:
            self._leases.pop(id(taken), None)
            self._current.pop(id(taken), None)
            self._cond.notify_all()

    def leases(self) -> list[Lease]:
        with self._cond:
            return list(self._leases.values())

    def revoke_all(self, timeout: float | None = None) -> int:
        """Revoke every lease still held; returns how many were revoked. A failure is
        logged (by lease id, never a value) and the others are still revoked."""
        revoked = 0
        for taken in self.leases():
            try:
                taken._revoke(timeout)
                revoked += 1
            except SecretError as exc:
                log.warning("nbcreds: could not revoke Vault lease %s: %s", taken.lease_id, exc)
        return revoked

    def stop(self) -> None:
        """Stop the renewal thread (leases are kept; see :meth:`revoke_all`)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self._cond:
            self._thread = None

    def _revoke_at_exit(self) -> None:
        self.stop()
        self.revoke_all(timeout=EXIT_REVOKE_TIMEOUT)

    def _run(self) -> None:
        while True:
            with self._cond:
                taken = None
                while taken is None:
                    if self._stopping:
                        return
                    if not self._heap:
                        self._cond.wait()
                        continue
                    due, seq, key = self._heap[0]
                    candidate = self._leases.get(key)
                    stale = self._current.get(key) != seq
                    if candidate is None or not candidate.renewing or stale:
                        heapq.heappop(self._heap)
                        continue
                    wait = due - time.monotonic()
                    if wait > 0:
                        self._cond.wait(timeout=wait)
                        continue
                    heapq.heappop(self._heap)
                    taken = candidate
            self._renew(taken)

    def _renew(self, taken: Lease) -> None:
        try:
            taken.renew()  # schedules the next renewal itself
            log.debug("renewed Vault lease %s until %s", taken.lease_id, taken.expires_at)
        except SecretError as exc:
            left = (taken.expires_at - _now()).total_seconds()
            log.warning("nbcreds: renewing Vault lease %s failed: %s", taken.lease_id, exc)
            if left > 2:
                with self._cond:  # try again when half of what is left has passed
                    self._push(taken, time.monotonic() + left / 2)
                    self._cond.notify_all()
            else:
                taken.renewing = False


_keeper: LeaseKeeper | None = None
_keeper_lock = threading.Lock()


def keeper() -> LeaseKeeper:
    """The process's one lease keeper."""
    global _keeper
    with _keeper_lock:
        if _keeper is None:
            _keeper = LeaseKeeper()
        return _keeper


def revoke_all(timeout: float | None = None) -> int:
    """Revoke every lease this process took (``%unload_ext nbcreds``, exit)."""
    if _keeper is None:
        return 0
    return _keeper.revoke_all(timeout)


def revoke_leases(timeout: float | None = None) -> int:
    """Revoke every Vault lease this process took (what ``%unload_ext nbcreds`` and
    interpreter exit do); returns how many were revoked."""
    return revoke_all(timeout)

"""The KV conformance suite (nbcreds.testing.conformance.KVBackendTests) on SQLite and
on a real PostgreSQL: the ``backend`` fixture of conftest.py runs it on both."""

from __future__ import annotations

from nbcreds.testing.conformance import KVBackendTests


class TestBuiltinBackends(KVBackendTests):
    """SQLite and PostgreSQL (the parametrized ``backend`` fixture of conftest.py)."""

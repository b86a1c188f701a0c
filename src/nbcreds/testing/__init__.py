"""Fixtures and helpers users can reuse in their own tests.

- :mod:`nbcreds.testing.leaks`: scan text for a value and its encodings.
- :mod:`nbcreds.testing.openbao`: a real OpenBao dev server.
- :mod:`nbcreds.testing.oauth`: a local OAuth2 authorization server and a
  GitHub-API-shaped server.
- :mod:`nbcreds.testing.postgres`: a throw-away PostgreSQL server.

Each is imported on demand (``from nbcreds.testing.openbao import ...``).
"""

from __future__ import annotations

__all__: list[str] = []

"""The example plugin's implementation (imported on first use)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path
from typing import Any

from nbcreds.plugins import Minted, Reference, SecretData, SecretSource

_counter = itertools.count(1)


class JsonFileSource(SecretSource):
    """Tenant-level secrets in a JSON file, read at each lookup."""

    name = "example"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _data(self) -> dict[str, Any]:
        data = json.loads(self.path.read_text())
        return data if isinstance(data, dict) else {}

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        if namespace is not None:
            return None
        # nothing to register: nbcreds registers what a source returns with the masker
        found = self._data().get(name)
        if isinstance(found, str):
            return found
        if isinstance(found, dict):
            return {k: str(v) for k, v in found.items()}
        return None

    def names(self, namespace: str | None) -> list[str]:
        return sorted(self._data()) if namespace is None else []

    def read_reference(self, ref: Reference) -> SecretData | None:
        return self.get(None, ref.target)

    def describe(self) -> str:
        return f"example JSON file {self.path.name}"


class HmacStrategy:
    def validate(self, definition: Any) -> None:
        definition.reference("key")

    def mint(self, definition: Any, http: Any) -> Minted:
        key = definition.secret("key")  # resolved and registered with the masker
        token = hmac.new(key.encode(), str(next(_counter)).encode(), hashlib.sha256).hexdigest()
        lifetime = float(definition.get("lifetime") or 300)
        return Minted(token, time.monotonic(), time.time(), lifetime)  # the cache masks it

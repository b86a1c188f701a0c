"""An example nbcreds plugin, as a third party would write it (tests/plugin_example).

- source ``example``: secrets in a JSON file (``[sources.example] file``, relative to
  the nbcreds.toml naming it); references ``example:NAME`` / ``example:NAME#field``.
- credential type ``example_hmac``: a token minted locally as HMAC-SHA256 of a
  counter with a secret key (``key`` is a reference), valid ``lifetime`` seconds.

Only the declarations live here: the source and the strategy are imported when used.
"""

from __future__ import annotations

from typing import Any

from nbcreds.plugins import CredentialType, Setting, SourceContext, SourceType, Strategy

__all__ = ["CREDENTIAL", "SOURCE"]


def _build(ctx: SourceContext) -> Any:
    from ._impl import JsonFileSource

    return JsonFileSource(ctx.directory / str(ctx.settings["file"]))


def _strategy() -> Strategy:
    from ._impl import HmacStrategy

    return HmacStrategy()


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be a positive number of seconds"


SOURCE = SourceType(
    name="example",
    build=_build,
    schemes=("example",),
    reference_forms={"example": "example:NAME"},
    reference_labels={"example": "example file entry"},
    settings=(Setting("file", required=True, help="a JSON object of NAME -> value"),),
    default_order=False,
    needs_config=True,
    description="secrets in a JSON file (an example plugin)",
)

CREDENTIAL = CredentialType(
    name="example_hmac",
    label="Example HMAC token",
    fields=(
        Setting("key", required=True, secret=True, label="Signing key"),
        Setting("lifetime", kind="number", default=300, check=_positive, label="Lifetime"),
    ),
    strategy=_strategy,
    description="a token minted locally (an example plugin)",
)

"""The one ISO-8601 duration parser (KV TTLs and values, credential settings).

``PnW``, ``PnDTnHnMn.nS`` with an optional sign; years and months are refused
(they have no fixed length). Exact: components are summed as :class:`Decimal`.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DURATION_RULE", "duration_seconds"]

_DURATION = re.compile(
    r"(?P<sign>[-+])?P(?!$)(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
DURATION_RULE = (
    "an ISO-8601 duration such as 'PT30M', 'P1D', 'P2DT3H4M5.5S' or 'P1W' "
    "(years and months are not fixed lengths and are not accepted)"
)


def duration_seconds(text: str, error: type[ValueError] = ValueError) -> Decimal:
    """The length of an ISO-8601 duration in seconds; ``error`` (a ValueError) otherwise."""
    if not isinstance(text, str):
        raise error(f"A duration must be a string or a timedelta: {DURATION_RULE}.")
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.group(unit) for unit in _UNIT_SECONDS):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise error(f"Invalid duration {shown!r}: expected {DURATION_RULE}.")
    total = Decimal(0)
    for unit, factor in _UNIT_SECONDS.items():
        part = match.group(unit)
        if part:
            total += Decimal(part.replace(",", ".")) * factor
    return -total if match.group("sign") == "-" else total

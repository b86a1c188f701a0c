"""The one token vocabulary (nbcreds.credentials._status), every state and boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nbcreds.credentials._status import TOKEN_STATES, describe_token, duration, token_state

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cached", "expires_at", "error", "state", "text"),
    [
        (True, NOW + timedelta(minutes=59, seconds=30), None, "valid", "valid · expires in 59 min"),
        (True, None, None, "valid", "valid · no expiry"),
        (True, NOW + timedelta(seconds=42), None, "valid", "valid · expires in 42 s"),
        (True, NOW + timedelta(hours=5), None, "valid", "valid · expires in 5 h"),
        (True, NOW + timedelta(days=3), None, "valid", "valid · expires in 3 d"),
        (True, NOW - timedelta(seconds=1), None, "expired", "expired"),
        (True, NOW, None, "expired", "expired"),
        (False, None, None, "not_fetched", "not fetched yet"),
        (
            False,
            None,
            "Credential 'x': 401 invalid_client",
            "failed",
            "failed: Credential 'x': 401 invalid_client",
        ),
        # a usable token wins over an older failure; a failure over an expired token
        (True, NOW + timedelta(hours=1), "old failure", "valid", "valid · expires in 60 min"),
        (True, NOW - timedelta(hours=1), "refresh failed", "failed", "failed: refresh failed"),
    ],
)
def test_states_and_texts(
    cached: bool, expires_at: datetime | None, error: str | None, state: str, text: str
) -> None:
    assert token_state(cached=cached, expires_at=expires_at, error=error, now=NOW) == state
    assert describe_token(cached=cached, expires_at=expires_at, error=error, now=NOW) == text
    assert state in TOKEN_STATES


def test_duration_units() -> None:
    assert [duration(s) for s in (-5, 0, 119, 120, 7199, 7200, 172799, 172800)] == [
        "0 s",
        "0 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h",
        "47 h",
        "2 d",
    ]

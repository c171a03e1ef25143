"""Time, passed in: every rule that depends on "now" takes a `Clock`, so tests fix the time they mean.

Timestamps are stored as ISO-8601 UTC with milliseconds, sortable as strings in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock (UTC). Only wiring and tooling pick it; everything else is handed a Clock."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    """An ISO-8601 timestamp; one without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fixed_clock(moment: datetime | str) -> Clock:
    """A clock that always says `moment` (tests, and replaying a recorded run)."""
    fixed = parse_iso(moment) if isinstance(moment, str) else moment
    return lambda: fixed

"""One place for timestamps: ISO-8601 UTC with milliseconds, sortable as strings in DynamoDB."""

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")

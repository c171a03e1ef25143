"""How long the state machine waits before looking again at something that is not ready yet.

A fast export or deployment should not wait a fixed five minutes, and a slow one should not be asked every
few seconds for hours: the wait grows with the time already waited (about doubling each look), from `first`
up to `cap`. The state machine's Wait states read the number from the step's output.
"""

from __future__ import annotations

from datetime import timedelta


def next_wait(waited: timedelta, first: int, cap: int) -> int:
    """Seconds to wait next: as long as has been waited already, at least `first` and at most `cap`."""
    if first < 1 or cap < first:
        raise ValueError(f"need 1 <= first <= cap, got first={first}, cap={cap}")
    return max(first, min(cap, int(waited.total_seconds())))

"""Waits that grow with the time waited: a fast export is looked at after seconds, a slow one every few minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from labeltune.domain.waits import next_wait


def test_the_first_look_comes_after_the_shortest_wait() -> None:
    assert next_wait(timedelta(0), 5, 300) == 5


def test_the_wait_doubles_the_time_waited_so_far() -> None:
    waited, waits = timedelta(0), []
    for _ in range(8):
        wait = next_wait(waited, 5, 300)
        waits.append(wait)
        waited += timedelta(seconds=wait)
    assert waits == [5, 5, 10, 20, 40, 80, 160, 300]


def test_the_wait_never_exceeds_the_cap() -> None:
    assert next_wait(timedelta(hours=5), 5, 300) == 300


def test_bounds_that_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError):
        next_wait(timedelta(0), 0, 10)
    with pytest.raises(ValueError):
        next_wait(timedelta(0), 20, 10)

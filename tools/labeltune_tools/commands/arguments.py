"""argparse `type=` checks shared by the commands: each raises ArgumentTypeError with the message the operator
sees (one line, exit status 2)."""

from __future__ import annotations

import argparse
import math


def positive_seconds(value: str) -> float:
    """A finite number of seconds above 0 (float() alone takes "-5", "nan" and "inf")."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, not {value!r}")
    return seconds

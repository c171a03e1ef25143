"""Handlers run whole here, Powertools included: no metric is published and no trace segment sent.

Without this, whether a handler test passes would depend on which test first imported the handlers' shared
Metrics object (it reads its namespace from the environment once, at import).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_metrics_or_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

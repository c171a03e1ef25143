"""Waiting for a whole label export in one call, for callers that can wait (`labeltune labelbox check`).

The pipeline never waits in a Lambda: the state machine polls the export between Wait states.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from labeltune.domain.models import ExportStatus
from labeltune.errors import ExportFailed, TransientError
from labeltune.ports import ExportService

EXPORT_TIMEOUT_SECONDS = 1800.0
EXPORT_POLL_SECONDS = 5.0


class ExportWaiter:
    """Runs a whole export in one call: start, poll until done, stream the rows.

    A still-running export after `timeout_seconds` raises TransientError.
    """

    def __init__(
        self,
        exports: ExportService,
        *,
        timeout_seconds: float = EXPORT_TIMEOUT_SECONDS,
        poll_seconds: float = EXPORT_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exports = exports
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._sleep = sleep
        self._clock = clock

    def wait(self, task_id: str) -> None:
        """Return once the export is COMPLETE; ExportFailed if it failed, TransientError on timeout."""
        deadline = self._clock() + self._timeout
        while True:
            status = self._exports.export_status(task_id)
            if status is ExportStatus.COMPLETE:
                return
            if status is ExportStatus.FAILED:
                raise ExportFailed(task_id, f"export task {task_id} failed")
            if self._clock() >= deadline:
                raise TransientError(f"export task {task_id} still {status} after {self._timeout:.0f} s")
            self._sleep(self._poll)

    def iter_rows(self, project_id: str) -> Iterator[dict[str, Any]]:
        task_id = self._exports.start_export(project_id)
        self.wait(task_id)
        yield from self._exports.iter_export(task_id)

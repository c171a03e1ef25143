"""Errors whose class names are part of the contract with the state machine.

Step Functions sees a Lambda exception's class name as the error name: the ASL retries
`TransientError` with backoff, and every other error is caught and recorded on the run.
"""


class TransientError(Exception):
    """A temporary failure of an outside service (rate limit, 5xx, timeout): retry with backoff."""


class DatasetTooSmall(Exception):
    """Fewer usable examples than the configured minimum: the run fails before any money is spent."""


class ConfigurationError(Exception):
    """Something the operator must fix (a missing secret, an unknown setting)."""


class UnknownProject(Exception):
    """A webhook or request for a project labeltune has no configuration for."""


class RowDataFetchError(Exception):
    """A row_data URL could not be used; `reason` is the rejection reason code recorded for the row."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ExportFailed(Exception):
    """The export task failed, or its snapshot does not exist: retrying the same export will not help.

    Not a TransientError on purpose: the state machine records it on the run instead of retrying.
    """

    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id

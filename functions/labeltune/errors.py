"""Errors whose class names are part of the contract with the state machine.

Step Functions sees a Lambda exception's class name as the error name: the ASL retries
`TransientError` with backoff, and every other error is caught and recorded on the run.
"""

from typing import Any


class TransientError(Exception):
    """A temporary failure of an outside service (rate limit, 5xx, timeout): retry with backoff."""


class RunClosed(Exception):
    """The run has ended (SUCCEEDED, FAILED or CANCELLED): a step still running after its execution was stopped
    (a cancel) may not move it back to an earlier status. The run store refuses such a write."""


class JobCreatePending(Exception):
    """An earlier attempt to create this run's job ended without an answer (a timeout) and no job is listed
    yet: it may still be created. The state machine waits and looks again (its own Retry, in minutes) rather
    than risk paying for a second job."""


class ProviderRefused(Exception):
    """The provider refused for a reason retrying will not fix (e.g. OpenAI's insufficient_quota 429).
    Not a TransientError: the run fails with the provider's message."""


class ModelNotTrainable(Exception):
    """The project's base model cannot be fine-tuned now (the dated model catalog): the run fails before
    anything is exported or paid for, with the reason and the date."""


class UnknownJob(Exception):
    """The provider has no such fine-tuning job (not this account's, or deleted): an event about it is not a run's."""


class ModelNotServed(Exception):
    """The tuned model could not be made callable (its deployment failed, or was not ready in time): the run
    fails with the provider's message, and its end deletes what was deployed."""


class EvaluationIncomplete(Exception):
    """A chunk of the held-out set has no results when the evaluation is aggregated: its Map item failed (on AWS
    the Map fails first; moto's engine lets a Distributed Map succeed with a failed item). Never aggregated
    from part of the set."""


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


class PredictionsFailed(Exception):
    """Labelbox refused the run's predictions (adding the rows to the model run failed, or the model run
    cannot take them): retrying the same publish will not help. The run's evaluation stands either way."""


class ExportFailed(Exception):
    """The export task failed, or its snapshot does not exist: retrying the same export will not help.

    Not a TransientError on purpose: the state machine records it on the run instead of retrying.
    """

    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class InvalidInput(ValueError):
    """A request the caller must correct: one plain message per field, nothing echoed back.

    `problems` are {"field": "a.b", "message": "..."}; the HTTP API answers them as 400 with that list.
    """

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def field_problems(error: Any, prefix: tuple[str | int, ...] = ()) -> list[dict[str, str]]:
    """pydantic's ValidationError as {"field", "message"} pairs: the dotted path and its plain message.

    Not `error.errors()` as it is: its `ctx` can hold the exception object (not JSON) and `input` can hold
    what the caller sent, which the API never echoes."""
    problems = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        path = ".".join(str(part) for part in (*prefix, *item["loc"])) or "(body)"
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        problems.append({"field": path, "message": message})
    return problems

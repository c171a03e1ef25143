"""WebhookSecrets on Secrets Manager: each project's secret by name, the stack-wide one only when opted in.

A project's secret is `<prefix><project id>` (the prefix is the stack's, e.g. `labeltune/labelbox-webhook/`);
`labeltune labelbox connect` creates it. Values are cached by Powertools for a few minutes, so a Lambda
container does not call Secrets Manager for every delivery.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

SECRET_MAX_AGE_SECONDS = 300


def project_secret_name(prefix: str, project_id: str) -> str:
    return f"{prefix}{project_id}"


class SecretsManagerWebhookSecrets:
    def __init__(self, prefix: str, shared_secret_arn: str | None = None, max_age: int = SECRET_MAX_AGE_SECONDS):
        self._prefix = prefix
        self._shared_arn = shared_secret_arn
        self._max_age = max_age

    def _get(self, name: str) -> str | None:
        try:
            value = parameters.get_secret(name, max_age=self._max_age)
        except GetParameterError as error:
            # Powertools wraps the SDK's error (kept as __context__). No such secret: the project was never
            # connected, and its deliveries cannot be verified. Anything else (access denied, throttling) is
            # the stack's fault, not the caller's: it propagates.
            cause = error.__context__
            if isinstance(cause, ClientError) and cause.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return value.strip() if isinstance(value, str) and value.strip() else None

    def for_project(self, project_id: str) -> str | None:
        return self._get(project_secret_name(self._prefix, project_id))

    def shared(self) -> str | None:
        return self._get(self._shared_arn) if self._shared_arn else None

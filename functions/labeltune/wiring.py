"""Builds the real adapters from Settings, once per warm Lambda container.

Every adapter (and the SDK behind it) is imported when it is first used, not when this module is: a function
pays at cold start only for the SDKs its own steps use. The webhook function never imports openai, labelbox,
tiktoken or the metrics; the export steps import labelbox only when the label source is Labelbox.

Settings are read and validated once per function (at its first invocation): a misconfigured function fails
its first request with the reason, and later invocations do not re-read the environment.
"""

from __future__ import annotations

import json
import os
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from labeltune.clock import Clock, system_clock
from labeltune.errors import ConfigurationError
from labeltune.settings import Settings

if TYPE_CHECKING:
    from labeltune.ports import ChatModel, FineTuneProvider, ModelServing

if TYPE_CHECKING:
    from labeltune.adapters.cached_listings import CachedListings
    from labeltune.adapters.dynamodb_projects import DynamoProjectStore
    from labeltune.adapters.dynamodb_runs import DynamoRunStore
    from labeltune.adapters.eventbridge_runs import EventBridgeRunEvents
    from labeltune.adapters.idempotency import PowertoolsOnce
    from labeltune.adapters.openai_provider import OpenAIFineTuning
    from labeltune.adapters.openai_webhooks import OpenAIWebhooks
    from labeltune.adapters.row_data_fetch import HttpsRowDataFetcher
    from labeltune.adapters.s3_store import S3ObjectStore
    from labeltune.adapters.stepfunctions import StepFunctionsCallbacks, StepFunctionsStarter
    from labeltune.adapters.webhook_secrets import SecretsManagerWebhookSecrets
    from labeltune.catalog import ModelCatalog
    from labeltune.pipeline.trigger import TriggerServices
    from labeltune.ports import ExportService, PredictionsSink

SECRET_MAX_AGE_SECONDS = 300


def read_secret(arn: str | None, what: str) -> str:
    """Secrets come from Secrets Manager (cached by Powertools), never from plain environment variables."""
    from aws_lambda_powertools.utilities import parameters

    if not arn:
        raise ConfigurationError(f"no secret configured for the {what}")
    value = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, str) or not value.strip() or is_placeholder(value):
        raise ConfigurationError(
            f"the {what} secret holds no key yet: "
            f"aws secretsmanager put-secret-value --secret-id {arn} --secret-string ..."
        )
    return value.strip()


def is_placeholder(value: str) -> bool:
    """template.yaml deploys the API-key secrets as {"placeholder": ..., "nonce": ...} until the operator sets them."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and "placeholder" in parsed


class Services:
    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock

    @property
    def catalog(self) -> ModelCatalog:
        """The dated catalog file; with LIVE_MODEL_CATALOG, what the providers list now wins over it
        (labeltune.catalog.live), each listing cached for an hour and the file kept where one fails."""
        if not self.settings.live_model_catalog:
            return self.catalog_file
        from labeltune.catalog.live import merge_live

        return merge_live(self.catalog_file, self._model_listings.current(), self.clock().date())

    @property
    def catalog_file(self) -> ModelCatalog:
        """The dated catalog file alone: what does not change with a provider's listing (record bounds, the id a
        base model is called by)."""
        from labeltune.catalog import load_catalog

        return load_catalog(self.settings.model_catalog_file)

    @cached_property
    def _model_listings(self) -> CachedListings:
        """OpenAI's and Bedrock's own model listings, kept per container (no SDK: see the adapters)."""
        from labeltune.adapters.bedrock_models import BedrockModelListing
        from labeltune.adapters.cached_listings import CachedListings
        from labeltune.adapters.openai_models import OpenAIModelListing

        arn, base_url = self.settings.openai_api_key_secret_arn, self.settings.openai_base_url
        openai = OpenAIModelListing(lambda: read_secret(arn, "OpenAI API key"), base_url)
        return CachedListings([openai, BedrockModelListing()], clock=self.clock)

    @cached_property
    def runs(self) -> DynamoRunStore:
        from labeltune.adapters.dynamodb_runs import DynamoRunStore

        return DynamoRunStore(self.settings.table_name, clock=self.clock)

    @cached_property
    def store(self) -> S3ObjectStore:
        from labeltune.adapters.s3_store import S3ObjectStore

        return S3ObjectStore(self.settings.bucket_name)

    @cached_property
    def exports(self) -> ExportService:
        if self.settings.label_source == "s3":
            from labeltune.adapters.s3_export import S3ExportService

            return S3ExportService(self.store)
        from labeltune.adapters.labelbox_export import LabelboxExportService

        return LabelboxExportService(read_secret(self.settings.labelbox_api_key_secret_arn, "Labelbox API key"))

    @cached_property
    def predictions(self) -> PredictionsSink:
        """Labelbox model runs for the tuned answers (the labelbox layer; the Labelbox key from Secrets Manager);
        with LabelSource=s3, files in the run's prefix instead."""
        if self.settings.label_source == "s3":  # no Labelbox: the model run is a prefix of the run in the bucket
            from labeltune.adapters.s3_predictions import S3PredictionsSink

            return S3PredictionsSink(self.store)
        from labeltune.adapters.labelbox_predictions import LabelboxPredictions

        return LabelboxPredictions(read_secret(self.settings.labelbox_api_key_secret_arn, "Labelbox API key"))

    @cached_property
    def fetcher(self) -> HttpsRowDataFetcher:
        from labeltune.adapters.row_data_fetch import HttpsRowDataFetcher

        return HttpsRowDataFetcher()

    @cached_property
    def openai(self) -> OpenAIFineTuning:
        from openai import OpenAI

        from labeltune.adapters.openai_provider import OpenAIFineTuning

        timeout = self.settings.provider_timeout_seconds
        client = OpenAI(
            api_key=read_secret(self.settings.openai_api_key_secret_arn, "OpenAI API key"),
            base_url=self.settings.openai_base_url or None,
            max_retries=2,
            timeout=timeout,  # three attempts fit in the 120 s the polling function is given
        )
        return OpenAIFineTuning(client, create_timeout_seconds=2 * timeout)

    def fine_tuning(self, provider: str) -> FineTuneProvider:
        """The project's fine-tuning provider (each built once, when a step first needs it)."""
        return self.openai if provider == "openai" else self._bedrock_fine_tuning

    def serving(self, provider: str) -> ModelServing:
        """What makes the provider's tuned model callable for the evaluation."""
        if provider == "openai":
            from labeltune.adapters.openai_serving import OpenAIServing

            return OpenAIServing()
        return self._bedrock_serving

    def chat(self, provider: str) -> ChatModel:
        """The provider's inference API, for base and tuned models alike."""
        return self.openai if provider == "openai" else self._bedrock_chat

    @cached_property
    def _bedrock_fine_tuning(self) -> FineTuneProvider:
        from labeltune.adapters.bedrock_provider import BedrockFineTuning

        return BedrockFineTuning(
            self._aws_client("bedrock"),
            bucket=self.settings.bucket_name,
            job_role_arn=self.settings.bedrock_job_role_arn,
            name_prefix=self.settings.resource_prefix,
        )

    @cached_property
    def _bedrock_serving(self) -> ModelServing:
        from labeltune.adapters.bedrock_provider import BedrockServing

        return BedrockServing(self._aws_client("bedrock"), name_prefix=self.settings.resource_prefix)

    @cached_property
    def _bedrock_chat(self) -> ChatModel:
        from labeltune.adapters.bedrock_provider import BedrockChat

        return BedrockChat(self._aws_client("bedrock-runtime"))

    def _aws_client(self, service: str) -> Any:
        """A boto3 client with bounded timeouts and botocore's standard retries (throttling and 5xx, with
        backoff); what still fails is a TransientError for the state machine's retry."""
        import boto3
        from botocore.config import Config

        timeout = self.settings.provider_timeout_seconds
        config = Config(connect_timeout=5, read_timeout=timeout, retries={"mode": "standard", "max_attempts": 3})
        return boto3.client(service, config=config)

    @cached_property
    def projects(self) -> DynamoProjectStore:
        from labeltune.adapters.dynamodb_projects import DynamoProjectStore

        if not self.settings.projects_table_name:
            raise ConfigurationError("PROJECTS_TABLE_NAME is not set")
        return DynamoProjectStore(
            self.settings.projects_table_name, self.settings.deliveries_table_name, clock=self.clock
        )

    @cached_property
    def once(self) -> PowertoolsOnce:
        from labeltune.adapters.idempotency import PowertoolsOnce

        if not self.settings.idempotency_table_name:
            raise ConfigurationError("IDEMPOTENCY_TABLE_NAME is not set")
        return PowertoolsOnce(self.settings.idempotency_table_name)

    @cached_property
    def webhook_secrets(self) -> SecretsManagerWebhookSecrets:
        from labeltune.adapters.webhook_secrets import SecretsManagerWebhookSecrets

        if not self.settings.webhook_secret_prefix:
            raise ConfigurationError("WEBHOOK_SECRET_PREFIX is not set")
        shared = self.settings.webhook_secret_arn if self.settings.shared_webhook_secret == "enabled" else None
        return SecretsManagerWebhookSecrets(self.settings.webhook_secret_prefix, shared)

    @cached_property
    def trigger(self) -> TriggerServices:
        from labeltune.pipeline.trigger import TriggerServices

        return TriggerServices(
            projects=self.projects,
            runs=self.runs,
            starter=self.starter,
            secrets=self.webhook_secrets,
            fallback_check_seconds=self.settings.fallback_check_seconds,
            clock=self.clock,
        )

    @cached_property
    def starter(self) -> StepFunctionsStarter:
        from labeltune.adapters.stepfunctions import StepFunctionsStarter

        if not self.settings.state_machine_arn:
            raise ConfigurationError("STATE_MACHINE_ARN is not set")
        return StepFunctionsStarter(self.settings.state_machine_arn)

    @cached_property
    def callbacks(self) -> StepFunctionsCallbacks:
        from labeltune.adapters.stepfunctions import StepFunctionsCallbacks

        return StepFunctionsCallbacks()

    @cached_property
    def run_events(self) -> EventBridgeRunEvents:
        """Run status changes on the account's default event bus (the RunEventsFunction's only AWS call)."""
        from labeltune.adapters.eventbridge_runs import EventBridgeRunEvents

        return EventBridgeRunEvents(self._aws_client("events"))

    @cached_property
    def openai_webhooks(self) -> OpenAIWebhooks:
        from labeltune.adapters.openai_webhooks import OpenAIWebhooks

        arn = self.settings.openai_webhook_secret_arn
        return OpenAIWebhooks(self.openai.client, lambda: read_secret(arn, "OpenAI webhook"))


@lru_cache(maxsize=16)
def _services(function_name: str | None) -> Services:
    return Services(Settings.from_env())


def services() -> Services:
    """The function's services, its settings validated at its first invocation. Keyed by the function: in
    Lambda each function has its own container; the local stack runs them all in one process."""
    return _services(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def reset_services() -> None:
    """Forget every function's services (a test that changes the environment between calls)."""
    _services.cache_clear()

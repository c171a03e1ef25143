"""Connecting a Labelbox project to a deployed stack, and checking a project's mapping before any run.

The logic behind `labeltune labelbox connect` and `labeltune labelbox check`, as plain functions that take
the Labelbox client, the AWS clients and the stores as arguments, so the real SDK surface can be tested
with autospecced SDK classes and moto. Nothing here prints: the command module formats the reports.

Facts this code is built on (see REFERENCE.md §2-3):
- `Webhook.create` interpolates url and secret into GraphQL text, so the secret is hex and the URL is
  checked for characters that would break (or inject into) that text.
- Each project has its own webhook secret, `<stack>/labelbox-webhook/<project id>` in Secrets Manager:
  a delivery signed for one project cannot start runs in another. `connect` creates it (hex); an existing
  one is kept (it is registered with Labelbox already) unless `rotate` is asked for.
- Labelbox cannot change a webhook's secret, so connecting registers a new webhook and deactivates the
  project's earlier ones for the same URL: running connect again is how a project picks up a new secret.
"""

from __future__ import annotations

import re
import secrets as secrets_module
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from labeltune.domain.conversion import FieldMapping, Reason, convert_row
from labeltune.domain.models import Rejection
from labeltune.domain.predictions import choose_classification, top_level_classifications
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.row_data import web_url
from labeltune.errors import ConfigurationError, RowDataFetchError
from labeltune.ports import ExportService, RowDataFetcher
from labeltune_tools.export_waiter import EXPORT_POLL_SECONDS, ExportWaiter

WEBHOOK_TOPICS: tuple[str, ...] = ("WORKFLOW_ACTION", "LABEL_CREATED", "LABEL_UPDATED", "LABEL_DELETED")
STACK_OUTPUTS = {
    "webhook_url": "WebhookUrl",
    "secret_prefix": "ProjectWebhookSecretPrefix",
    "projects_table": "ProjectsTableName",
}
FREE_TEXT_TYPES = frozenset({"text", "prompt", "response-text"})  # the types exported as `text_answer`
CHECK_TIMEOUT_SECONDS = 1800.0

_HEX_SECRET = re.compile(r"[0-9a-f]{40,}")
_UNSAFE_IN_GRAPHQL = re.compile(r'["\\\s]')

SecretAction = Literal["kept", "generated", "rotated"]


class ProjectConfigStore(Protocol):
    """The part of the ProjectStore port the setup commands use (configuration only, no trigger state)."""

    def get_project(self, project_id: str) -> dict[str, Any] | None: ...

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------------
# connect


@dataclass(frozen=True)
class StackTargets:
    """What `connect` needs from a deployed stack."""

    webhook_url: str
    secret_prefix: str
    projects_table: str


def stack_targets(cloudformation: Any, stack_name: str) -> StackTargets:
    """Read the stack's outputs (boto3 CloudFormation client); a missing one is a ConfigurationError."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in (stacks[0].get("Outputs") or [])} if stacks else {}
    missing = [name for name in STACK_OUTPUTS.values() if not outputs.get(name)]
    if missing:
        raise ConfigurationError(f"stack {stack_name} has no output(s) {', '.join(missing)}: is it a labeltune stack?")
    return StackTargets(**{attr: outputs[name] for attr, name in STACK_OUTPUTS.items()})


def is_hex_secret(value: str) -> bool:
    """True for a secret `connect` generated (lowercase hex, at least 160 bits): one already given to Labelbox."""
    return bool(_HEX_SECRET.fullmatch(value))


def new_webhook_secret() -> str:
    """160 random bits as 40 hex digits: nothing in it can break the SDK's GraphQL string."""
    return secrets_module.token_hex(20)


@dataclass(frozen=True)
class SecretOutcome:
    secret: str = field(repr=False)  # never in a repr, a log line or a report
    action: SecretAction


def project_secret_name(prefix: str, project_id: str) -> str:
    """The project's webhook secret's name (the API function reads `<prefix><project id>`)."""
    return f"{prefix}{project_id}"


def ensure_project_secret(
    secretsmanager: Any,
    name: str,
    *,
    rotate: bool = False,
    generate: Callable[[], str] = new_webhook_secret,
) -> SecretOutcome:
    """The project's own webhook secret: created (hex) when missing, kept when it exists, replaced by a new
    value when `rotate` is set. Stored before any webhook uses it: if registering then fails, connect again
    finds it, keeps it and registers with it."""
    current = ""
    try:
        current = (secretsmanager.get_secret_value(SecretId=name).get("SecretString") or "").strip()
    except secretsmanager.exceptions.ResourceNotFoundException:
        value = _checked(generate())
        secretsmanager.create_secret(
            Name=name,
            SecretString=value,
            Description="labeltune: HMAC-SHA256 secret of one Labelbox project's webhook (X-Hub-Signature-256)",
        )
        return SecretOutcome(value, "generated")
    if is_hex_secret(current) and not rotate:
        return SecretOutcome(current, "kept")
    value = _checked(generate())
    secretsmanager.put_secret_value(SecretId=name, SecretString=value)
    return SecretOutcome(value, "rotated")


def _checked(value: str) -> str:
    if not is_hex_secret(value):
        raise ValueError("generated webhook secrets must be lowercase hex of at least 40 digits")
    return value


def check_webhook_url(url: str) -> str:
    """An https URL without characters that would break the SDK's GraphQL string."""
    url = url.strip()
    if not url.startswith("https://") or _UNSAFE_IN_GRAPHQL.search(url):
        raise ConfigurationError(f"the webhook URL must be an https URL without quotes or spaces: {url!r}")
    return url


def ensure_project_config(store: ProjectConfigStore, project_id: str) -> bool:
    """Write the default configuration unless the project has one; True when this call wrote it.

    An existing configuration is never overwritten: it may have been tuned through the API.
    """
    item = store.get_project(project_id)
    if item is not None and item.get("config"):
        return False
    store.put_config(project_id, ProjectConfig().model_dump(mode="json"))
    return True


@dataclass(frozen=True)
class WebhookOutcome:
    webhook_id: str
    deactivated: tuple[str, ...]


def _status(value: Any) -> str:
    return str(getattr(value, "value", value) or "").upper()


def check_topics(topics: Sequence[str]) -> tuple[str, ...]:
    """The topics, when every one is a topic of the installed SDK's `Webhook.Topic`."""
    from labelbox import Webhook

    valid = {topic.value for topic in Webhook.Topic}
    unknown = [topic for topic in topics if topic not in valid]
    if unknown or not topics:
        raise ConfigurationError(f"unknown webhook topic(s) {unknown}; choose from {sorted(valid)}")
    return tuple(topics)


def register_webhook(client: Any, project: Any, url: str, secret: str, topics: Sequence[str]) -> WebhookOutcome:
    """Create the project's webhook, then deactivate its earlier active webhooks for the same URL.

    Created first, deactivated second: for a moment both deliver (the trigger tolerates repeats), rather
    than a gap in which approvals are missed.
    """
    from labelbox import Webhook

    topics = check_topics(topics)
    earlier = [w for w in project.webhooks() if w.url == url and _status(w.status) == "ACTIVE"]
    created = Webhook.create(client, topics=list(topics), url=url, secret=secret, project=project)
    for webhook in earlier:
        webhook.delete()  # the SDK's delete sets the webhook INACTIVE
    return WebhookOutcome(webhook_id=str(created.uid), deactivated=tuple(str(w.uid) for w in earlier))


@dataclass(frozen=True)
class ConnectReport:
    project_id: str
    project_name: str
    webhook_url: str
    secret_name: str
    secret_action: SecretAction
    webhook: WebhookOutcome
    topics: tuple[str, ...]
    config_written: bool
    warnings: tuple[str, ...]


def connect_project(
    client: Any,
    secretsmanager: Any,
    store: ProjectConfigStore,
    project_id: str,
    *,
    webhook_url: str,
    secret_prefix: str,
    topics: Sequence[str] = WEBHOOK_TOPICS,
    rotate_secret: bool = False,
    generate_secret: Callable[[], str] = new_webhook_secret,
) -> ConnectReport:
    """Connect a Labelbox project to a stack: configuration, the project's own webhook secret, webhook.

    Order matters: the project is looked up first (a wrong id or API key changes nothing), the default
    configuration is written before the webhook exists (so no delivery finds an unknown project), and
    the secret is settled before it is registered.
    """
    url = check_webhook_url(webhook_url)
    topics = check_topics(topics)
    project = client.get_project(project_id)
    config_written = ensure_project_config(store, project_id)
    name = project_secret_name(secret_prefix, project_id)
    secret = ensure_project_secret(secretsmanager, name, rotate=rotate_secret, generate=generate_secret)
    webhook = register_webhook(client, project, url, secret.secret, topics)
    warnings: list[str] = []
    if secret.action == "rotated":
        warnings.append(
            "the project's webhook secret was rotated: its earlier webhooks were deactivated, and deliveries "
            "signed with the old secret are refused"
        )
    if secret.action == "rotated":
        warnings.append("the API function caches the secret for up to 5 minutes: deliveries may be refused until then")
    return ConnectReport(
        project_id=project_id,
        project_name=str(getattr(project, "name", "") or ""),
        webhook_url=url,
        secret_name=name,
        secret_action=secret.action,
        webhook=webhook,
        topics=topics,
        config_written=config_written,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------------------------------
# check: the mapping against the ontology


@dataclass(frozen=True)
class OntologyClassification:
    """One top-level classification of the project's ontology (nested ones are never prompt or response)."""

    name: str
    feature_schema_id: str | None
    type: str
    aliases: tuple[str, ...] = ()  # other names the export may use for it (instructions, value)

    @property
    def free_text(self) -> bool:
        return self.type in FREE_TEXT_TYPES

    def matches(self, wanted: str) -> bool:
        """The converter's rule: a mapping names a classification by name/value or feature schema id."""
        return wanted in (self.name, self.feature_schema_id, *self.aliases)


def ontology_classifications(normalized: Mapping[str, Any] | None) -> list[OntologyClassification]:
    """The top-level classifications of an ontology's `normalized` JSON. Read raw rather than through the
    SDK's Classification classes, which raise on a type they do not know."""
    found = []
    for item in (normalized or {}).get("classifications") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        aliases = tuple(
            str(item[key]) for key in ("instructions", "value") if item.get(key) and item[key] != item["name"]
        )
        found.append(
            OntologyClassification(
                name=str(item["name"]),
                feature_schema_id=str(item["featureSchemaId"]) if item.get("featureSchemaId") else None,
                type=str(item.get("type") or "unknown"),
                aliases=aliases,
            )
        )
    return found


@dataclass(frozen=True)
class MappingReport:
    classifications: tuple[OntologyClassification, ...]
    mapping: FieldMapping
    prompt: OntologyClassification | None  # None: the data row (or not found: see warnings)
    response: OntologyClassification | None
    warnings: tuple[str, ...]


def _find(classifications: Iterable[OntologyClassification], wanted: str) -> OntologyClassification | None:
    return next((c for c in classifications if c.matches(wanted)), None)


def map_ontology(classifications: Sequence[OntologyClassification], mapping: FieldMapping) -> MappingReport:
    """Which classifications the mapping picks as prompt and response, and every mistake that would make the
    converter reject rows: the same rules as `convert_row`, applied to the ontology instead of a row."""
    warnings: list[str] = []
    prompt: OntologyClassification | None = None
    if mapping.prompt_from == "row_data":
        legacy = [c.name for c in classifications if c.type == "prompt"]
        if legacy:
            warnings.append(
                f"the ontology has a prompt classification ({', '.join(legacy)}): a legacy prompt/response "
                f"project, whose data rows are empty; set mapping.prompt_from to {legacy[0]!r}"
            )
    else:
        prompt = _find(classifications, mapping.prompt_from)
        if prompt is None:
            warnings.append(
                f"prompt classification {mapping.prompt_from!r} (mapping.prompt_from) is not in the ontology"
            )
        elif not prompt.free_text:
            warnings.append(f"prompt classification {prompt.name!r} is a {prompt.type} classification, not free text")

    response: OntologyClassification | None = None
    if mapping.response_classification is not None:
        response = _find(classifications, mapping.response_classification)
        if response is None:
            warnings.append(
                f"response classification {mapping.response_classification!r} "
                "(mapping.response_classification) is not in the ontology"
            )
        elif not response.free_text:
            warnings.append(
                f"response classification {response.name!r} is a {response.type} classification, not free text"
            )
        elif prompt is not None and response == prompt:
            warnings.append(f"{response.name!r} is mapped as both the prompt and the response")
    else:
        candidates = [c for c in classifications if c.free_text and not c.matches(mapping.prompt_from)]
        if not candidates:
            warnings.append(
                "no free-text classification in the ontology can be the response: every row will be rejected"
            )
        elif len(candidates) > 1:
            names = ", ".join(repr(c.name) for c in candidates)
            warnings.append(
                f"several free-text classifications ({names}) and no mapping.response_classification: every "
                "row with more than one of them answered is rejected as ambiguous_response; set it to one of them"
            )
        else:
            response = candidates[0]
    return MappingReport(tuple(classifications), mapping, prompt, response, tuple(warnings))


# --------------------------------------------------------------------------------------------------
# check: predictions back in Labelbox


@dataclass(frozen=True)
class PredictionsCheck:
    """Whether the project's ontology can take the tuned model's answers as a model run's predictions, and
    whether the review project (if any) exists. Warnings only when predictions are on."""

    enabled: bool
    classification: str | None  # the free-text classification predictions would go to
    problem: str | None  # why there is none
    review_project_id: str | None
    review_project_name: str | None  # None: not configured, or not found (see warnings)
    warnings: tuple[str, ...]


def check_predictions(client: Any, project_id: str, ontology: Any, config: ProjectConfig) -> PredictionsCheck:
    """The rule the predictions step applies (domain.predictions.choose_classification), on the ontology."""
    from lbox.exceptions import ResourceNotFoundError

    settings = config.predictions
    classes = top_level_classifications(getattr(ontology, "normalized", None))
    choice = choose_classification(classes, settings.wanted_classification(config.mapping))
    warnings = [f"predictions: {choice.problem}"] if choice.problem else []
    review_name: str | None = None
    if settings.review_project_id is not None:
        if settings.review_project_id == project_id:
            warnings.append("predictions: the review project is the training project; rows already in it are skipped")
        try:
            review_name = str(getattr(client.get_project(settings.review_project_id), "name", "") or "")
        except ResourceNotFoundError:
            warnings.append(
                f"predictions: review project {settings.review_project_id} does not exist (or is not shared)"
            )
    return PredictionsCheck(
        enabled=settings.enabled,
        classification=choice.classification.name if choice.classification else None,
        problem=choice.problem,
        review_project_id=settings.review_project_id,
        review_project_name=review_name,
        warnings=tuple(warnings) if settings.enabled else (),
    )


# --------------------------------------------------------------------------------------------------
# check: the rows of a real export


@dataclass
class RowCounts:
    rows: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    url_rows: int = 0  # rows whose row_data is a URL (fetched by the pipeline before converting)
    fetched: bool = False  # whether this count fetched them too


def _row_data_url(row: Any) -> str | None:
    data_row = row.get("data_row") if isinstance(row, Mapping) else None
    return web_url(data_row.get("row_data")) if isinstance(data_row, Mapping) else None


def count_rows(
    rows: Iterable[Any], project_id: str, config: ProjectConfig, fetcher: RowDataFetcher | None = None
) -> RowCounts:
    """Convert every row as the pipeline would and count accepted rows and rejections per reason code.

    With a fetcher, URL row data is fetched first (as the export step does); without one those rows are
    counted as `prompt_is_url`, and `url_rows` says how many they were.
    """
    counts = RowCounts(fetched=fetcher is not None)
    for row in rows:
        counts.rows += 1
        url = _row_data_url(row)
        if url is not None:
            counts.url_rows += 1
            if fetcher is not None:
                try:
                    row["data_row"]["row_data"] = fetcher.fetch(url)
                except RowDataFetchError as error:
                    counts.rejected[error.reason] += 1
                    continue
        result = convert_row(row, project_id, config.mapping, config.system_prompt)
        if isinstance(result, Rejection):
            counts.rejected[result.reason] += 1
        else:
            counts.accepted += 1
    return counts


_MAPPING_REASONS = (Reason.AMBIGUOUS_RESPONSE, Reason.NO_RESPONSE, Reason.NO_PROMPT, Reason.EMPTY_PROMPT)


def row_warnings(counts: RowCounts, config: ProjectConfig) -> list[str]:
    """What the counts say about the mapping or the data, in words an operator can act on."""
    warnings: list[str] = []
    if counts.rows == 0:
        return ["the export has no Done rows: approve some labels first"]
    if counts.accepted == 0:
        warnings.append("no row converts to a training example")
    elif counts.accepted < config.min_examples:
        warnings.append(
            f"{counts.accepted} usable rows, fewer than min_examples ({config.min_examples}): a run would fail"
        )
    for reason in _MAPPING_REASONS:
        if counts.rejected[reason] * 2 >= counts.rows:
            warnings.append(f"at least half the rows are rejected as {reason}: check the mapping")
    if counts.url_rows and not counts.fetched:
        warnings.append(
            f"{counts.url_rows} rows hold a URL as row_data: counted as prompt_is_url here, fetched by the "
            "pipeline; run with --fetch-row-data to check them"
        )
    return warnings


@dataclass(frozen=True)
class CheckReport:
    project_id: str
    project_name: str
    export_task_id: str
    mapping: MappingReport
    counts: RowCounts
    warnings: tuple[str, ...]  # mapping warnings first, then what the rows show
    predictions: PredictionsCheck | None = None


def check_project(
    client: Any,
    project_id: str,
    config: ProjectConfig,
    exports: ExportService,
    *,
    fetcher: RowDataFetcher | None = None,
    timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
    poll_seconds: float = EXPORT_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CheckReport:
    """Report the mapping against the project's ontology and the outcome of converting its Done rows.

    Read-only: it starts an export (free, and nothing changes in the project) and writes nothing anywhere.
    """
    project = client.get_project(project_id)
    ontology = project.ontology()
    mapping = map_ontology(ontology_classifications(getattr(ontology, "normalized", None)), config.mapping)
    predictions = check_predictions(client, project_id, ontology, config)
    waiter = ExportWaiter(exports, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds, sleep=sleep, clock=clock)
    task_id = exports.start_export(project_id)
    waiter.wait(task_id)
    counts = count_rows(exports.iter_export(task_id), project_id, config, fetcher)
    warnings = list(mapping.warnings)
    if ontology is None:
        warnings.insert(0, "the project has no ontology")
    warnings.extend(row_warnings(counts, config))
    warnings.extend(predictions.warnings)
    return CheckReport(
        project_id=project_id,
        project_name=str(getattr(project, "name", "") or ""),
        export_task_id=task_id,
        mapping=mapping,
        counts=counts,
        warnings=tuple(warnings),
        predictions=predictions,
    )


def stored_config(store: ProjectConfigStore, project_id: str) -> ProjectConfig:
    """The configuration a connected project runs with (ConfigurationError when it has none)."""
    item = store.get_project(project_id)
    if item is None or not item.get("config"):
        raise ConfigurationError(f"project {project_id} has no stored configuration: run `labeltune labelbox connect`")
    return ProjectConfig.model_validate(item["config"])

"""Fine-tuning job records: request validation, the wire shape, and the status timeline.

A job's status is a pure function of wall-clock time since creation (plus cancellation and forced
failures): every read advances the job to "now", and the server's lifecycle thread does the same when
a phase ends, so a job finishes (and its webhook fires) even if nobody polls it. The timeline splits
`job_duration_seconds` into validating_files (20%), queued (20%) and running (60%).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from labeltune_tools.emulator.errors import invalid_request
from labeltune_tools.emulator.training import Example

ORGANIZATION_ID = "org-labeltune-emulator"
FT_MODEL_OWNER = "labeltune-emulator"
PHASES: tuple[tuple[str, float], ...] = (("validating_files", 0.2), ("queued", 0.2), ("running", 0.6))
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
MAX_SEED = 2_147_483_647
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_SUFFIX = 64
HYPERPARAMETER_NAMES = ("batch_size", "learning_rate_multiplier", "n_epochs")

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id shaped like OpenAI's (prefix plus random base62)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class JobRequest:
    """A validated `POST /v1/fine_tuning/jobs` body."""

    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int | None
    metadata: dict[str, str] | None
    hyperparameters: dict[str, Any]
    integrations: list[dict[str, Any]] | None


def _check_hyperparameters(raw: Any, param: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid_request(f"'{param}' must be an object.", param=param)
    unknown = sorted(set(raw) - set(HYPERPARAMETER_NAMES))
    if unknown:
        raise invalid_request(f"Unrecognized hyperparameter(s): {', '.join(unknown)}.", param=param)
    limits = {"n_epochs": (1, 50), "batch_size": (1, 256)}
    for name, value in raw.items():
        if value == "auto":
            continue
        if name in limits:
            low, high = limits[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise invalid_request(
                    f"'{name}' must be 'auto' or an integer between {low} and {high}.", param=f"{param}.{name}"
                )
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise invalid_request(f"'{name}' must be 'auto' or a number > 0.", param=f"{param}.{name}")
    return dict(raw)


def _check_method(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "type" not in raw:
        raise invalid_request("'method' must be an object with a 'type'.", param="method")
    if raw["type"] not in ("supervised", "dpo", "reinforcement"):
        raise invalid_request(f"Invalid method type {raw['type']!r}.", param="method.type")
    if raw["type"] != "supervised":
        raise invalid_request(
            f"The labeltune emulator only emulates supervised fine-tuning, not {raw['type']!r}.",
            param="method.type",
        )
    supervised = raw.get("supervised") or {}
    if not isinstance(supervised, dict):
        raise invalid_request("'method.supervised' must be an object.", param="method.supervised")
    return _check_hyperparameters(supervised.get("hyperparameters"), "method.supervised.hyperparameters")


def _check_metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_request("'metadata' must be an object of string keys and values.", param="metadata")
    if len(raw) > MAX_METADATA_PAIRS:
        raise invalid_request(
            f"Invalid 'metadata': too many keys ({len(raw)}); at most {MAX_METADATA_PAIRS} are allowed.",
            param="metadata",
        )
    for key, value in raw.items():
        if len(key) > MAX_METADATA_KEY:
            raise invalid_request(
                f"Invalid 'metadata': key {key[:20]!r}... is longer than {MAX_METADATA_KEY} characters.",
                param="metadata",
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise invalid_request(
                f"Invalid 'metadata': value of {key!r} must be a string of at most {MAX_METADATA_VALUE} characters.",
                param="metadata",
            )
    return dict(raw)


def _required_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise invalid_request(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if not isinstance(value, str) or not value:
        raise invalid_request(f"'{name}' must be a non-empty string.", param=name)
    return value


def parse_job_request(body: dict[str, Any]) -> JobRequest:
    """Validate the create body the way OpenAI does before any file is looked at."""
    model = _required_string(body, "model")
    training_file = _required_string(body, "training_file")
    validation_file = body.get("validation_file")
    if validation_file is not None and not isinstance(validation_file, str):
        raise invalid_request("'validation_file' must be a string.", param="validation_file")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= MAX_SUFFIX):
        raise invalid_request(f"Invalid 'suffix': it must be a string of 1 to {MAX_SUFFIX} characters.", param="suffix")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise invalid_request(f"Invalid 'seed': it must be an integer between 0 and {MAX_SEED}.", param="seed")
    integrations = body.get("integrations")
    if integrations is not None and (
        not isinstance(integrations, list)
        or len(integrations) > 5
        or any(not isinstance(i, dict) or i.get("type") != "wandb" or "wandb" not in i for i in integrations)
    ):
        raise invalid_request("Invalid 'integrations': only up to 5 'wandb' integrations.", param="integrations")
    method_hyperparameters = _check_method(body.get("method"))
    legacy = _check_hyperparameters(body.get("hyperparameters"), "hyperparameters")
    if method_hyperparameters is not None and legacy:
        raise invalid_request(
            "Specify hyperparameters in 'method' or the deprecated 'hyperparameters', not both.",
            param="hyperparameters",
        )
    chosen = method_hyperparameters if method_hyperparameters is not None else legacy
    return JobRequest(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix,
        seed=seed,
        metadata=_check_metadata(body.get("metadata")),
        hyperparameters={name: chosen.get(name, "auto") for name in HYPERPARAMETER_NAMES},
        integrations=integrations,
    )


@dataclass
class Job:
    """One fine-tuning job; `status` is advanced by `EmulatorState` as time passes."""

    id: str
    model: str
    base_snapshot: str
    created: float
    duration: float
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    hyperparameters: dict[str, Any]
    integrations: list[dict[str, Any]] | None
    status: str = "validating_files"
    error: dict[str, Any] | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    result_files: list[str] = field(default_factory=list)
    examples: tuple[Example, ...] = ()
    # File contents as read at creation, so deleting a file does not pull it from under the job.
    training_content: bytes = field(default=b"", repr=False)
    validation_content: bytes | None = field(default=None, repr=False)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def phase_end(self) -> float | None:
        """When the current non-terminal status ends (None when terminal)."""
        elapsed = 0.0
        for status, share in PHASES:
            elapsed += share
            if status == self.status:
                return self.created + self.duration * elapsed
        return None

    def add_event(self, at: float, message: str, *, level: str = "info") -> None:
        """Record a status transition (one event each), like the real job's event log."""
        self.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": new_id("ftevent-"),
                "created_at": int(at),
                "level": level,
                "message": message,
                "data": {"status": self.status},
                "type": "message",
            }
        )

    def to_api(self) -> dict[str, Any]:
        """The `FineTuningJob` schema."""
        running = self.status in ("queued", "running")
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": int(self.created),
            "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": ORGANIZATION_ID,
            "result_files": list(self.result_files),
            "status": self.status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": dict(self.hyperparameters),
            "trained_tokens": self.trained_tokens,
            "error": dict(self.error) if self.error else None,
            "integrations": self.integrations,
            "seed": self.seed,
            "estimated_finish": int(self.created + self.duration) if running else None,
            "method": {"type": "supervised", "supervised": {"hyperparameters": dict(self.hyperparameters)}},
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }

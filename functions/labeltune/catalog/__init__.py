"""Which base models a provider can fine-tune, and until when: a dated catalog, refused early.

OpenAI is closing fine-tuning (no new jobs from 2027-01-06; most of its 2025 models shut down 2027-01-14),
so a project configured today can be untrainable next month. The catalog turns those dates into an answer
at `PUT /projects/{id}` (refused, 400) and at the start of a run (failed before anything is exported or
paid for), with warnings within `WARN_WITHIN` of a date. Pure: the clock's date is passed in.

The data is configuration (`trainable_models.json`, with its sources); `MODEL_CATALOG_FILE` points at another
copy (the local stack uses its emulator's catalog, whose models never close).

Where the provider lists its models (OpenAI `GET /v1/models`, Bedrock `ListFoundationModels` of the models it
fine-tunes in the Region), the live answer wins over the file: with `LIVE_MODEL_CATALOG` on, `catalog.live`
merges the listings in (a provider's shutdown and Legacy dates replace the file's, a model the listing lacks is
refused, a model the file lacks stays untrainable), each listing cached for an hour per container and the file
used as it is when a provider cannot be asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CATALOG_ENV = "MODEL_CATALOG_FILE"
DEFAULT_CATALOG = Path(__file__).with_name("trainable_models.json")
WARN_WITHIN = timedelta(days=30)
# A run exports, trains (minutes to hours) and evaluates with the base model: a model that shuts down sooner
# than this cannot finish one.
MIN_LIFETIME = timedelta(days=7)


class ProviderDates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    training_closes: date | None = None
    source: str = ""


class CatalogModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    provider: str
    model: str
    aliases: tuple[str, ...] = ()
    training_closes: date | None = Field(None, description="when this model stops accepting jobs, if sooner")
    shutdown: date | None = None
    source: str = ""
    # What the provider accepts as training data for this model (None: not published, not checked here).
    min_records: int | None = Field(None, description="fewest training records a job accepts")
    max_records: int | None = Field(None, description="most training records a job accepts")
    max_record_tokens: int | None = Field(None, description="longest training record, in the model's tokens")
    validation_set: bool = Field(True, description="False: the provider trains without a validation file")
    inference_model: str | None = Field(
        None, description="the id the base model is called by, where it differs from the training id (Bedrock)"
    )


class Verdict(BaseModel):
    """Whether a model can be trained on a date: `problems` refuse it, `warnings` only inform."""

    model_config = ConfigDict(frozen=True)
    provider: str
    model: str
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    training_closes: date | None = None
    shutdown: date | None = None

    @property
    def trainable(self) -> bool:
        return not self.problems


class ModelCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    as_of: str
    note: str = ""
    providers: dict[str, ProviderDates]
    models: tuple[CatalogModel, ...]
    path: str = ""

    def entry(self, provider: str, model: str) -> CatalogModel | None:
        """The catalog entry of a base model, an alias, or a fine-tune of one ("ft:<base>:org::id")."""
        base = model.strip()
        if base.startswith("ft:"):
            base = base[3:].split(":", 1)[0]
        for entry in self.models:
            if entry.provider == provider and base in (entry.model, *entry.aliases):
                return entry
        return None

    def trainable_models(self, provider: str, on: date) -> list[str]:
        return [e.model for e in self.models if e.provider == provider and self.check(provider, e.model, on).trainable]

    def check(self, provider: str, model: str, on: date) -> Verdict:
        """Refuse a model the provider does not fine-tune, has retired, has closed for training, or will shut
        down before a run could finish; warn within WARN_WITHIN of either date."""
        entry = self.entry(provider, model)
        if provider not in self.providers:
            return Verdict(provider=provider, model=model, problems=(f"unknown fine-tuning provider {provider!r}",))
        if entry is None:
            known = ", ".join(self.trainable_models(provider, on)) or "none"
            return Verdict(
                provider=provider,
                model=model,
                problems=(f"{model!r} is not a model {provider} fine-tunes (trainable now: {known})",),
            )
        dates = self.providers[provider]
        closes = min((d for d in (entry.training_closes, dates.training_closes) if d is not None), default=None)
        problems: list[str] = []
        warnings: list[str] = []
        if entry.shutdown is not None and entry.shutdown <= on:
            problems.append(f"{entry.model} was shut down by {provider} on {entry.shutdown.isoformat()}")
        elif entry.shutdown is not None and entry.shutdown - on < MIN_LIFETIME:
            problems.append(
                f"{entry.model} shuts down on {entry.shutdown.isoformat()}, too soon for a run to train and evaluate"
            )
        elif entry.shutdown is not None and entry.shutdown - on <= WARN_WITHIN:
            days = (entry.shutdown - on).days
            warnings.append(f"{entry.model} shuts down on {entry.shutdown.isoformat()} (in {days} days)")
        if closes is not None and closes <= on:
            problems.append(f"{provider} stopped accepting new fine-tuning jobs on {closes.isoformat()}")
        elif closes is not None and closes - on <= WARN_WITHIN:
            days = (closes - on).days
            warnings.append(f"{provider} stops accepting new fine-tuning jobs on {closes.isoformat()} (in {days} days)")
        return Verdict(
            provider=provider,
            model=model,
            problems=tuple(problems),
            warnings=tuple(warnings),
            training_closes=closes,
            shutdown=entry.shutdown,
        )


class CatalogError(ValueError):
    """The catalog file is missing or not in the expected shape."""


@lru_cache(maxsize=8)
def _load(path: str) -> ModelCatalog:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return ModelCatalog.model_validate({**data, "path": path})
    except (OSError, ValueError) as error:
        raise CatalogError(f"cannot read the model catalog {path}: {error}") from error


def load_catalog(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ModelCatalog:
    """The catalog at `path`, else at $MODEL_CATALOG_FILE, else the packaged one (cached per file)."""
    env = os.environ if environ is None else environ
    return _load(str(path or env.get(CATALOG_ENV) or DEFAULT_CATALOG))

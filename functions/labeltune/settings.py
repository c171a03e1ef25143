"""Configuration from the environment the SAM template sets, validated once per invocation."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.project_config import DEFAULT_BASE_MODEL, DEFAULT_SYSTEM_PROMPT
from labeltune.domain.split import SplitRatios


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str
    bucket_name: str
    projects_table_name: str | None = None
    idempotency_table_name: str | None = None
    state_machine_arn: str | None = None
    base_model: str = DEFAULT_BASE_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    min_examples: int = Field(10, ge=10)
    poll_interval_seconds: int = Field(300, ge=1)
    openai_base_url: str | None = None
    label_source: Literal["labelbox", "s3"] = "labelbox"
    labelbox_api_key_secret_arn: str | None = None
    openai_api_key_secret_arn: str | None = None
    webhook_secret_arn: str | None = None
    split: SplitRatios = SplitRatios()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        fields = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper())}
        return cls.model_validate(fields)

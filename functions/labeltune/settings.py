"""Configuration from the environment the SAM template sets, validated once per invocation."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.split import SplitRatios

DEFAULT_SYSTEM_PROMPT = (
    "Summarise this customer-support chat in two or three sentences. Do not include any personal data: "
    "no names, email addresses, phone numbers, order numbers or account ids."
)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str
    bucket_name: str
    state_machine_arn: str | None = None
    base_model: str = "gpt-4.1-mini-2025-04-14"
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
        return cls(**fields)

"""Configuration from the environment the SAM template sets, validated once per invocation.

Stack-wide only: what a run trains on and how (model, prompt, split, thresholds) is per project
(`ProjectConfig`, through `PUT /projects/{id}`), with one set of defaults, in the code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.project_config import Provider

MAX_PREFIX = 24


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str
    bucket_name: str
    projects_table_name: str | None = None
    idempotency_table_name: str | None = None
    state_machine_arn: str | None = None
    fallback_check_seconds: int = Field(
        1800, ge=1, description="how long a run waits for the provider's event before it looks at the job itself"
    )
    openai_base_url: str | None = None
    provider_timeout_seconds: float = Field(30, gt=0, le=600, description="per request; job creation gets twice this")
    job_create_settle_seconds: int = Field(
        180, ge=0, le=3600, description="how long a create that got no answer may still land before another is tried"
    )
    label_source: Literal["labelbox", "s3"] = "labelbox"
    labelbox_api_key_secret_arn: str | None = None
    openai_api_key_secret_arn: str | None = None
    openai_webhook_secret_arn: str | None = Field(None, description="the OpenAI webhook endpoint's whsec_ secret")
    deliveries_table_name: str | None = None
    webhook_secret_prefix: str | None = Field(None, description="each project's webhook secret is <prefix><id>")
    webhook_secret_arn: str | None = Field(None, description="the stack-wide webhook secret")
    shared_webhook_secret: Literal["enabled", "disabled"] = Field(
        "disabled", description="whether deliveries of projects without their own secret may use the stack's"
    )
    model_catalog_file: str | None = Field(None, description="another trainable-model catalog (the local stack's)")
    live_model_catalog: bool = Field(
        True, description="whether what OpenAI and Bedrock list now wins over the catalog file (catalog.live)"
    )
    default_provider: Provider = Field("bedrock", description="the provider of a project configured without one")
    stack_name: str = Field("labeltune", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$", description="the stack's name")
    bedrock_job_role_arn: str | None = Field(None, description="the role Bedrock's customization jobs run as")

    @property
    def resource_prefix(self) -> str:
        """What names the stack's resources at a provider (Bedrock jobs, models, deployments: at most 63
        characters with the run id): the stack name, shortened with a hash of it when longer than 24."""
        if len(self.stack_name) <= MAX_PREFIX:
            return self.stack_name
        digest = hashlib.sha256(self.stack_name.encode()).hexdigest()[:8]
        return f"{self.stack_name[: MAX_PREFIX - 9].rstrip('-')}-{digest}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        fields = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper())}
        return cls.model_validate(fields)

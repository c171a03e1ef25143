"""One local stack for the end-to-end tests: moto running the real ASL, real handlers, the emulator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"
PROJECT = "clx-support-summaries-demo"


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:
    # Runs resume on the providers' events; a lost one is caught by the fallback check after 8 s.
    options = StackOptions(job_duration_seconds=2.0, default_provider="openai", fallback_check_seconds=8)
    with EmbeddedStack(options=options) as local:
        local.upload_export(PROJECT, EXPORT)
        local.configure_project(PROJECT)
        yield local


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def new_project(stack: EmbeddedStack, rows: int | None = None, **config: Any) -> str:
    """A project of its own (so other tests' runs don't interfere), with the sample export's rows (the
    first `rows` of them, or all) refiled under it."""
    project = f"project-{uuid.uuid4().hex[:10]}"
    lines = EXPORT.read_text().splitlines()
    records = [json.loads(line) for line in (lines[:rows] if rows is not None else lines)]
    for record in records:
        record["projects"] = {project: next(iter(record["projects"].values()))}
    assert stack.resources is not None
    stack.client("s3").put_object(
        Bucket=stack.resources.bucket_name,
        Key=f"exports/{project}.ndjson",
        Body="\n".join(json.dumps(r) for r in records).encode(),
    )
    stack.configure_project(project, config)
    return project


@pytest.fixture
def long_jobs(stack: EmbeddedStack) -> Iterator[None]:
    """Fine-tuning jobs and deployments that take minutes (the session's take seconds)."""
    assert stack.emulator is not None and stack.bedrock is not None
    openai, bedrock = stack.emulator.state, stack.bedrock.state
    saved = (openai.job_duration_seconds, bedrock.job_duration_seconds, bedrock.deployment_duration_seconds)
    openai.job_duration_seconds = bedrock.job_duration_seconds = 600.0
    yield
    openai.job_duration_seconds, bedrock.job_duration_seconds, bedrock.deployment_duration_seconds = saved

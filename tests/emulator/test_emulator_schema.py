"""Every response body of a representative session validates against OpenAI's official OpenAPI spec.

Successful responses are checked by openapi-core against the operation that matches method and
path (so routing is checked too); error responses against `components/schemas/ErrorResponse`,
which the spec does not attach to operations.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import openai
import pytest
import yaml
from openai import OpenAI
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from labeltune_tools.emulator import Exchange, OpenAIEmulator

SPEC_URI = "urn:openai-openapi"
HOST = "https://api.openai.com"  # the spec's server is https://api.openai.com/v1

# Every emulated operation, so a session that silently skipped one fails the coverage check.
OPERATIONS = {
    ("POST", r"/v1/files"),
    ("GET", r"/v1/files"),
    ("GET", r"/v1/files/[^/]+"),
    ("DELETE", r"/v1/files/[^/]+"),
    ("GET", r"/v1/files/[^/]+/content"),
    ("POST", r"/v1/fine_tuning/jobs"),
    ("GET", r"/v1/fine_tuning/jobs"),
    ("GET", r"/v1/fine_tuning/jobs/[^/]+"),
    ("POST", r"/v1/fine_tuning/jobs/[^/]+/cancel"),
    ("GET", r"/v1/fine_tuning/jobs/[^/]+/events"),
    ("POST", r"/v1/chat/completions"),
    ("GET", r"/v1/models"),
    ("GET", r"/v1/models/[^/]+"),
}


SPEC_PATH = Path(__file__).resolve().parent / "openai_openapi" / "openapi.yaml"  # vendored, MIT (see its README)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def openapi(spec: dict[str, Any]) -> OpenAPI:
    # The official spec is trusted; validating the 3 MB document itself would only cost time.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def registry(spec: dict[str, Any]) -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))


def _validate_component(registry: Registry, name: str, instance: Any) -> None:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(instance)


def _validate(exchange: Exchange, openapi: OpenAPI, spec: dict[str, Any], registry: Registry) -> None:
    if exchange.status != 200:
        _validate_component(registry, "ErrorResponse", exchange.json())
        return
    if exchange.content_type == "application/octet-stream":
        # The spec declares the file-content body as a string; the emulator sends the raw file back.
        declared = spec["paths"]["/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
        jsonschema.validate(exchange.body.decode("utf-8"), declared["application/json"]["schema"])
        return
    request = MockRequest(HOST, exchange.method, exchange.path, args=dict(parse_qsl(exchange.query)))
    response = MockResponse(exchange.body, status_code=exchange.status, content_type=exchange.content_type)
    openapi.validate_response(request, response)


def _representative_session(emulator: OpenAIEmulator, chats) -> None:
    client = OpenAI(base_url=emulator.base_url, api_key="sk-test", max_retries=0)
    training = chats.jsonl([chats.example(i) for i in range(12)])
    good = client.files.create(file=("train.jsonl", training), purpose="fine-tune")
    bad = client.files.create(file=("bad.jsonl", chats.jsonl([chats.example(0)] * 3)), purpose="fine-tune")
    client.files.retrieve(good.id)
    client.files.content(good.id).read()
    scratch = client.files.create(file=("notes.txt", b"scratch"), purpose="user_data")
    list(client.files.list(purpose="fine-tune", limit=1))  # one page per file
    client.files.list(order="asc", after=good.id)
    emulator.faults.stall_next(1, seconds=0.05, method="GET", path_prefix="/files")
    client.files.list()  # a stalled request is answered normally
    client.files.delete(scratch.id)

    ok = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini-2025-04-14",
        training_file=good.id,
        suffix="schema",
        metadata={"run": "schema"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        integrations=[{"type": "wandb", "wandb": {"project": "p"}}],
    )
    failing = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=bad.id)
    cancelled = client.fine_tuning.jobs.create(model="gpt-4.1", training_file=good.id, hyperparameters={"n_epochs": 1})
    client.fine_tuning.jobs.cancel(cancelled.id)
    for job_id in (ok.id, failing.id):
        while client.fine_tuning.jobs.retrieve(job_id).status not in ("succeeded", "failed"):
            time.sleep(0.02)  # each poll is one more body to validate, in every status the job passes
    client.fine_tuning.jobs.list(metadata={"run": "schema"})
    client.fine_tuning.jobs.list(limit=1)
    client.fine_tuning.jobs.list(extra_query={"metadata": "null"})
    for job_id in (ok.id, failing.id, cancelled.id):
        client.fine_tuning.jobs.list_events(job_id)

    tuned = client.fine_tuning.jobs.retrieve(ok.id).fine_tuned_model
    for model in ("gpt-4.1-mini", tuned):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": chats.transcript(1)}])
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": chats.transcript(2)}], n=2, max_tokens=4
    )
    client.models.list()
    client.models.retrieve("gpt-4o-mini-2024-07-18")
    client.models.retrieve(tuned)

    emulator.faults.fail_next(1, status=429)
    emulator.faults.fail_next(1, status=500)
    emulator.faults.fail_next(1, code="insufficient_quota")
    failures = [
        lambda: client.models.list(),
        lambda: client.models.list(),
        lambda: client.models.list(),
        lambda: client.models.list(extra_headers={"Authorization": "Basic x"}),
        lambda: client.models.retrieve("gpt-9"),
        lambda: client.files.retrieve("file-missing"),
        lambda: client.files.delete(scratch.id),
        lambda: client.files.list(extra_query={"limit": "0"}),
        lambda: client.fine_tuning.jobs.retrieve("ftjob-missing"),
        lambda: client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file="file-missing"),
        lambda: client.fine_tuning.jobs.cancel(ok.id),
        lambda: client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}]),
        lambda: client.post("/nowhere", cast_to=object),
    ]
    for call in failures:
        with pytest.raises(openai.APIStatusError):
            call()


def test_every_response_matches_the_official_spec(openapi, spec, registry, chats) -> None:
    with OpenAIEmulator(job_duration_seconds=0.3) as emulator:
        _representative_session(emulator, chats)
        exchanges = emulator.exchanges

    problems = []
    for exchange in exchanges:
        try:
            _validate(exchange, openapi, spec, registry)
        except Exception as error:  # collect all, to report every mismatch at once
            problems.append(f"{exchange.method} {exchange.path} -> {exchange.status}: {error}")
    assert problems == []

    statuses = {e.status for e in exchanges}
    assert {200, 400, 401, 404, 429, 500} <= statuses
    covered = {
        (method, pattern)
        for method, pattern in OPERATIONS
        for e in exchanges
        if e.status == 200 and e.method == method and re.fullmatch(pattern, e.path)
    }
    assert covered == OPERATIONS
    bodies = [e.json() for e in exchanges if e.content_type == "application/json"]
    job_statuses = {body["status"] for body in bodies if body.get("object") == "fine_tuning.job"}
    assert {"validating_files", "queued", "running", "succeeded", "failed", "cancelled"} <= job_statuses


def test_the_validation_is_not_vacuous(openapi, registry) -> None:
    """A body missing a required field is rejected, so the test above can fail."""
    job = {"object": "fine_tuning.job", "id": "ftjob-x", "status": "queued"}
    broken = Exchange("GET", "/v1/fine_tuning/jobs/ftjob-x", "", 200, "application/json", json.dumps(job).encode(), {})
    with pytest.raises(Exception, match=r"(?i)invalid|required|validation"):
        _validate(broken, openapi, {}, registry)
    with pytest.raises(jsonschema.ValidationError):
        _validate_component(registry, "ErrorResponse", {"error": {"message": "m", "type": "t"}})
    files = {"object": "list", "data": [], "has_more": False}  # no first_id / last_id
    broken = Exchange("GET", "/v1/files", "", 200, "application/json", json.dumps(files).encode(), {})
    with pytest.raises(Exception, match=r"(?i)invalid|required|validation"):
        _validate(broken, openapi, {}, registry)
    deleted = {"id": "file-x", "object": "file"}  # no `deleted`
    broken = Exchange("DELETE", "/v1/files/file-x", "", 200, "application/json", json.dumps(deleted).encode(), {})
    with pytest.raises(Exception, match=r"(?i)invalid|required|validation"):
        _validate(broken, openapi, {}, registry)


def test_an_empty_file_page_differs_from_the_spec_only_in_its_null_ids(openapi, registry) -> None:
    """`ListFilesResponse` types first_id/last_id as strings; an empty page has none and sends null.

    The spec's other cursor lists declare them `anyOf: [string, null]`; this pins the one deviation.
    """
    with OpenAIEmulator() as emulator:
        OpenAI(base_url=emulator.base_url, api_key="sk-test", max_retries=0).files.list(purpose="batch")
        empty = emulator.exchanges[-1]

    body = empty.json()
    assert (body["data"], body["first_id"], body["last_id"]) == ([], None, None)
    with pytest.raises(Exception, match=r"None is not of type 'string'"):
        _validate(empty, openapi, {}, registry)
    patched = json.dumps({**body, "first_id": "file-x", "last_id": "file-x"}).encode()
    _validate(
        Exchange(empty.method, empty.path, empty.query, 200, empty.content_type, patched, {}), openapi, {}, registry
    )

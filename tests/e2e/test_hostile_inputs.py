"""A corpus of hostile and mistaken requests, sent over real HTTP to the local stack's API.

Every request here must be refused: a 4xx (never a 5xx; the exact status where the API documents it), a JSON
body in the API's one error shape ({"message": str, "errors": [{"field", "message"}, ...]} when there are
several things to fix), nothing the caller sent echoed back, and nothing written. "Nothing written" is
checked precisely, per request: every DynamoDB table the stack built (runs, projects, deliveries,
idempotency) is scanned, the bucket listed, the secrets listed and the executions listed right before and
right after the request, once no execution is running, and the two snapshots must be identical.

The tests use projects of their own (`new_project`), so no other e2e test's state is touched or read.
An id that passed the API's own id check is not caller text: the 404 for a well-formed but unknown project
or run names it, as documented; every invalid id, header value, query value and body value must not come back.
"""

from __future__ import annotations

import gzip
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from labeltune.domain.signature import sign
from labeltune.domain.webhook import MAX_BODY_BYTES
from labeltune.handlers.api import MAX_CONFIG_BYTES
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import new_project

CANARY = "zq-canary-7731"  # planted in hostile values: it must never come back
WEBHOOK = "/webhooks/labelbox"
TABLES = ("RunsTable", "ProjectsTable", "DeliveriesTable", "IdempotencyTable")
NEVER_CONFIGURED = "project-never-configured-zq7731"  # well formed, never PUT: must stay absent


# -- the targets: two projects of the tests' own, their secrets ---------------------------------------


@dataclass(frozen=True)
class Targets:
    api_url: str
    project: str
    other: str
    secret: str
    other_secret: str


@pytest.fixture(scope="module")
def targets(stack: EmbeddedStack) -> Targets:
    project, other = new_project(stack, min_new_labels=3), new_project(stack, min_new_labels=3)
    return Targets(stack.api_url, project, other, stack.webhook_secret(project), stack.webhook_secret(other))


# -- one request, sent as given --------------------------------------------------------------------------

Header = tuple[str, str | bytes]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # sent as is: percent-encode anything that is not plain ASCII
    body: bytes = b""
    headers: tuple[Header, ...] = ()


def send(api_url: str, request: Request) -> tuple[int, str, bytes]:
    """(status, content type, body) over a plain HTTP/1.1 connection: repeated headers, bytes that are not
    UTF-8 and paths the API would never build all go out exactly as written."""
    parsed = urllib.parse.urlsplit(api_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.putrequest(request.method, request.path, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def signed(secret: str, body: bytes, *extra: Header) -> tuple[Header, ...]:
    return (("Content-Type", "application/json"), ("X-Hub-Signature-256", sign(secret, body)), *extra)


def project_body(project_id: Any, **more: Any) -> bytes:
    return json.dumps({"project": {"id": project_id}, "dataRow": {"id": "dr-1"}, **more}).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- the corpus -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Targets], Request]
    status: int | None  # the documented status; None: any 4xx
    fields: frozenset[str] = frozenset()  # the `errors` fields expected, exactly, when several can be wrong
    echo: tuple[str, ...] = ()  # caller text that must not come back, beside every header and query value
    also_absent: tuple[str, ...] = field(default=())  # project ids that must still not exist afterwards


CASES: list[Case] = []


def case(name: str, status: int | None, build: Callable[[Targets], Request], **more: Any) -> None:
    if "fields" in more:
        more["fields"] = frozenset(more["fields"])
    CASES.append(Case(name, build, status, **more))


def webhook(body: Callable[[Targets], bytes], headers: Callable[[Targets, bytes], tuple[Header, ...]]) -> Any:
    def build(t: Targets) -> Request:
        raw = body(t)
        return Request("POST", WEBHOOK, raw, headers(t, raw))

    return build


def own_signature(t: Targets, raw: bytes) -> tuple[Header, ...]:
    return signed(t.secret, raw)


def mine(t: Targets) -> bytes:
    return project_body(t.project)


# POST /webhooks/labelbox: size 413, not JSON / no project / bad delivery id 400, bad signature 401.
case(
    "webhook-body-not-json",
    400,
    webhook(lambda t: f"<b>not json</b> {CANARY}".encode(), own_signature),
    echo=(CANARY, "<b>"),
)
case(
    "webhook-body-invalid-utf8",
    400,
    webhook(lambda t: b'{"project": {"id": "' + t.project.encode() + b'"}, "x": "\xff\xfe\xc3("}', own_signature),
)
case("webhook-json-nested-1500-deep", 400, webhook(lambda t: nested(1500).encode(), own_signature))
case(
    "webhook-json-nested-1000-deep-in-a-delivery",
    400,
    webhook(lambda t: project_body(t.project)[:-1] + f', "x": {nested(1000)}}}'.encode(), own_signature),
)
case(
    "webhook-json-nested-200-deep-in-a-delivery",
    400,
    webhook(lambda t: project_body(t.project)[:-1] + f', "x": {nested(200)}}}'.encode(), own_signature),
)
case("webhook-json-nested-100000-deep", 400, webhook(lambda t: nested(100_000).encode(), own_signature))
case(
    "webhook-body-is-an-array",
    400,
    webhook(lambda t: b"[" + project_body(t.project) + b"]", own_signature),
)
case("webhook-body-is-a-string", 400, webhook(lambda t: json.dumps(CANARY).encode(), own_signature), echo=(CANARY,))
case("webhook-body-is-a-number", 400, webhook(lambda t: b"7731", own_signature))
case("webhook-body-is-null", 400, webhook(lambda t: b"null", own_signature))
case("webhook-body-is-nan", 400, webhook(lambda t: b"NaN", own_signature))
case("webhook-body-empty", 400, webhook(lambda t: b"", own_signature))
case(
    "webhook-body-with-utf8-bom",
    400,
    webhook(lambda t: "\ufeff".encode() + project_body(t.project), own_signature),
)
case(
    "webhook-integer-with-5000-digits",
    400,
    webhook(lambda t: project_body(t.project)[:-1] + b', "n": 1' + b"0" * 5000 + b"}", own_signature),
)
case(
    "webhook-lone-surrogate-in-topic",
    400,
    webhook(lambda t: project_body(t.project, event="\ud800" + CANARY), own_signature),
    echo=(CANARY,),
)
case(
    "webhook-lone-surrogate-in-action",
    400,
    webhook(lambda t: project_body(t.project, event="WORKFLOW_ACTION", action="\udfff"), own_signature),
)
case(
    "webhook-lone-surrogate-as-a-key",
    400,
    webhook(lambda t: project_body(t.project, **{"\udc00" + CANARY: 1}), own_signature),
    echo=(CANARY,),
)
case(
    "webhook-over-1mib-signed",
    413,
    webhook(lambda t: project_body(t.project, pad="x" * MAX_BODY_BYTES), own_signature),
)
case(
    "webhook-over-1mib-unsigned",
    413,
    webhook(lambda t: b"{" + b" " * MAX_BODY_BYTES + b"}", lambda t, raw: ()),
)
case("webhook-signature-missing", 401, webhook(mine, lambda t, raw: (("Content-Type", "application/json"),)))
case(
    "webhook-signature-garbage",
    401,
    webhook(mine, lambda t, raw: (("X-Hub-Signature-256", f"sha256=<script>{CANARY}</script>"),)),
    echo=(CANARY, "<script>"),
)
case("webhook-signature-empty", 401, webhook(mine, lambda t, raw: (("X-Hub-Signature-256", ""),)))
case("webhook-signature-scheme-only", 401, webhook(mine, lambda t, raw: (("X-Hub-Signature-256", "sha256="),)))
case(
    "webhook-signed-with-another-projects-secret",
    401,
    webhook(mine, lambda t, raw: signed(t.other_secret, raw)),
)
case(
    "webhook-other-projects-body-signed-with-this-projects-secret",
    401,
    webhook(lambda t: project_body(t.other), own_signature),
)
case(
    "webhook-signature-of-another-body",
    401,
    webhook(mine, lambda t, raw: signed(t.secret, raw + b" ")),
)
case(
    "webhook-sha1-signed-with-the-wrong-secret",
    401,
    webhook(mine, lambda t, raw: (("X-Hub-Signature", sign(t.other_secret, raw, "sha1")),)),
)
case(
    "webhook-sha256-digest-in-the-sha1-header",
    401,
    webhook(mine, lambda t, raw: (("X-Hub-Signature", sign(t.secret, raw)),)),
)
case(
    "webhook-sha1-digest-in-the-sha256-header",
    401,
    webhook(mine, lambda t, raw: (("X-Hub-Signature-256", sign(t.secret, raw, "sha1")),)),
)
case(
    "webhook-bad-sha256-not-rescued-by-a-good-sha1",
    401,
    webhook(
        mine,
        lambda t, raw: (
            ("X-Hub-Signature-256", sign(t.other_secret, raw)),
            ("X-Hub-Signature", sign(t.secret, raw, "sha1")),
        ),
    ),
)
case(
    "webhook-signature-header-repeated",
    401,
    webhook(
        mine,
        lambda t, raw: (("X-Hub-Signature-256", sign(t.secret, raw)), ("X-Hub-Signature-256", "sha256=00")),
    ),
)
case(
    "webhook-signature-header-not-utf8",
    400,
    webhook(mine, lambda t, raw: (("X-Hub-Signature-256", b"sha256=\xff\xfe\xe9"),)),
)
case(
    "webhook-labelbox-id-129-characters",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", "d" * 129))),
)
case(
    "webhook-labelbox-id-8-kib",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", CANARY * 600))),
    echo=(CANARY,),
)
case(
    "webhook-labelbox-id-with-spaces",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", f"delivery {CANARY}"))),
)
case(
    "webhook-labelbox-id-with-a-tab",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", f"delivery\t{CANARY}"))),
    echo=(CANARY,),
)
case(
    "webhook-labelbox-id-empty",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", ""))),
)
case(
    "webhook-labelbox-id-non-ascii",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", f"délivery-{CANARY}".encode()))),
)
case(
    "webhook-labelbox-id-not-utf8",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", b"d\xe9livery\xff"))),
)
case(
    "webhook-labelbox-id-repeated",
    400,
    webhook(mine, lambda t, raw: signed(t.secret, raw, ("X-Labelbox-Id", "d-1"), ("X-Labelbox-Id", "d-2"))),
)
case(
    "webhook-labelbox-id-shaped-like-an-item-key-unsigned",
    401,
    webhook(mine, lambda t, raw: (("X-Labelbox-Id", f"delivery#{CANARY}"),)),
    echo=(CANARY,),
)
case(
    "webhook-project-id-129-characters",
    400,
    webhook(lambda t: project_body("p" * 129), own_signature),
    echo=("p" * 129,),
)
case(
    "webhook-project-id-shaped-like-an-internal-key",
    400,
    webhook(lambda t: project_body(f"delivery#{CANARY}"), own_signature),
    echo=(CANARY,),
)
case(
    "webhook-project-id-path-traversal",
    400,
    webhook(lambda t: project_body(f"../{t.project}/../{CANARY}"), own_signature),
    echo=(CANARY,),
)
case(
    "webhook-project-id-unicode",
    400,
    webhook(lambda t: project_body(f"prøject-{CANARY}"), own_signature),
    echo=(CANARY,),
)
case("webhook-project-id-a-number", 400, webhook(lambda t: project_body(7731), own_signature))
case(
    "webhook-project-id-an-object",
    400,
    webhook(lambda t: project_body({"id": t.project}), own_signature),
)
case(
    "webhook-names-no-project",
    400,
    webhook(lambda t: json.dumps({"id": f"label-{CANARY}", "dataRow": {"id": "dr-1"}}).encode(), own_signature),
    echo=(CANARY,),
)
case(
    "webhook-unknown-project-signed-with-a-known-secret",
    401,
    webhook(lambda t: project_body(NEVER_CONFIGURED), own_signature),
    also_absent=(NEVER_CONFIGURED,),
)
case(
    "webhook-gzip-body-despite-json-content-type",
    400,
    webhook(
        lambda t: gzip.compress(project_body(t.project)),
        lambda t, raw: signed(t.secret, raw, ("Content-Encoding", "gzip")),
    ),
)
case(
    "webhook-odd-headers-unsigned",
    401,
    webhook(
        mine,
        lambda t, raw: (
            ("Content-Type", f"text/html; charset={CANARY}"),
            ("X-Labelbox-Event", f"<script>{CANARY}</script>"),
            ("X-Forwarded-For", "not-an-address, ::zz"),
            ("Accept", "*/*;q=garbage"),
            ("X-Padding", "y" * 4096),
        ),
    ),
    echo=(CANARY, "<script>"),
)
case(
    "webhook-garbage-query-string-unsigned",
    401,
    lambda t: Request("POST", f"{WEBHOOK}?%ff%fe=%00&&=&project={CANARY}&x=%3Cscript%3E", mine(t)),
    echo=(CANARY, "<script>"),
)
case("webhook-get", 404, lambda t: Request("GET", WEBHOOK))
case("webhook-put", 404, lambda t: Request("PUT", WEBHOOK, mine(t), signed(t.secret, mine(t))))
case("webhook-delete", 404, lambda t: Request("DELETE", WEBHOOK))
case("webhook-path-upper-case", 404, lambda t: Request("POST", WEBHOOK.upper(), mine(t), signed(t.secret, mine(t))))
case("webhook-path-extra-segment", 404, lambda t: Request("POST", f"{WEBHOOK}/x", mine(t), signed(t.secret, mine(t))))


# PUT /projects/{id}: invalid id 400, over 64 KiB 413, not a JSON object / invalid configuration 400.
def put(body: bytes | Callable[[Targets], bytes], project: Callable[[Targets], str] = lambda t: t.project) -> Any:
    def build(t: Targets) -> Request:
        raw = body(t) if callable(body) else body
        return Request("PUT", f"/projects/{project(t)}", raw, (("Content-Type", "application/json"),))

    return build


def put_json(changes: dict[str, Any]) -> Any:
    return put(json.dumps(changes).encode())


case("put-body-not-json", 400, put(f"min_new_labels=5&{CANARY}".encode()), echo=(CANARY,))
case("put-body-invalid-utf8", 400, put(b'{"system_prompt": "\xc3\x28\xff"}'))
case("put-json-nested-1200-deep", 400, put(f'{{"mapping": {nested(1200)}}}'.encode()))
case("put-json-nested-200-deep", 400, put(f'{{"mapping": {nested(200)}}}'.encode()))
case("put-body-is-an-array", 400, put(b'[{"min_new_labels": 5}]'))
case("put-body-is-a-string", 400, put(json.dumps(CANARY).encode()), echo=(CANARY,))
case("put-body-is-a-number", 400, put(b"5"))
case("put-body-is-null", 400, put(b"null"))
case(
    "put-body-over-64-kib",
    413,
    put(json.dumps({"system_prompt": "x" * MAX_CONFIG_BYTES}).encode()),
)
case(
    "put-split-not-summing-to-one",
    400,
    put_json({"split": {"train": 0.5, "validation": 0.1, "eval": 0.1}}),
    fields={"split"},
)
case("put-n-epochs-zero", 400, put_json({"hyperparameters": {"n_epochs": 0}}), fields={"hyperparameters.n_epochs"})
case(
    "put-batch-size-999",
    400,
    put_json({"hyperparameters": {"batch_size": 999}}),
    fields={"hyperparameters.batch_size"},
)
case(
    "put-negative-learning-rate",
    400,
    put_json({"hyperparameters": {"learning_rate_multiplier": -0.5}}),
    fields={"hyperparameters.learning_rate_multiplier"},
)
case(
    "put-nan-learning-rate-raw-json",
    400,
    put(b'{"hyperparameters": {"learning_rate_multiplier": NaN}}'),
    fields={"hyperparameters.learning_rate_multiplier"},
)
case(
    "put-infinity-split-raw-json",
    400,
    put(b'{"split": {"train": Infinity, "validation": 0.1, "eval": 0.1}}'),
    fields={"split.train"},
)
case(
    "put-minus-infinity-threshold-raw-json",
    400,
    put(b'{"evaluation": {"min_rouge_l": -Infinity}}'),
    fields={"evaluation.min_rouge_l"},
)
case(
    "put-huge-integer-epochs",
    400,
    put(b'{"hyperparameters": {"n_epochs": 1' + b"0" * 400 + b"}}"),
    fields={"hyperparameters.n_epochs"},
)
case(
    "put-huge-integer-learning-rate",
    400,
    put(b'{"hyperparameters": {"learning_rate_multiplier": 1' + b"0" * 400 + b"}}"),
    fields={"hyperparameters.learning_rate_multiplier"},
)
case("put-empty-base-model", 400, put_json({"base_model": ""}), fields={"base_model"})
case("put-base-model-gpt-5", 400, put_json({"base_model": "gpt-5"}), fields={"base_model"}, echo=("gpt-5",))
case("put-base-model-retired", 400, put_json({"base_model": "gpt-4.1-nano-2025-04-14"}), fields={"base_model"})
case(
    "put-base-model-markup",
    400,
    put_json({"base_model": f"<script>{CANARY}</script>"}),
    fields={"base_model"},
    echo=(CANARY, "<script>"),
)
case("put-base-model-with-a-space", 400, put_json({"base_model": f"gpt 4 {CANARY}"}), fields={"base_model"})
case("put-empty-prompt-from", 400, put_json({"mapping": {"prompt_from": ""}}), fields={"mapping.prompt_from"})
case("put-negative-min-new-labels", 400, put_json({"min_new_labels": -1}), fields={"min_new_labels"})
case(
    "put-unknown-trigger-topic",
    400,
    put_json({"trigger_topics": ["LABEL_DELETED"]}),
    fields={"trigger_topics.0", "trigger_topics"},
)
case("put-unknown-field", 400, put_json({"unknown_setting": 1}), fields={"unknown_setting"})
case(
    "put-unknown-fields-named-with-markup-and-control-characters",
    400,
    put_json({f"<img src=x onerror={CANARY}>": 1, "mapping": {f"{CANARY}\u0000\u202e": 2}}),
    fields={"(unknown field)", "mapping.(unknown field)"},
    echo=(CANARY, "<img"),
)
case(
    "put-null-values",
    400,
    put_json(
        {
            "mapping": None,
            "split": None,
            "hyperparameters": None,
            "evaluation": None,
            "base_model": None,
            "min_new_labels": None,
            "trigger_topics": None,
        }
    ),
    fields={"mapping", "split", "hyperparameters", "evaluation", "base_model", "min_new_labels", "trigger_topics"},
)
case(
    "put-wrong-types",
    400,
    put_json(
        {
            "min_new_labels": "5",
            "min_examples": True,
            "system_prompt": 5,
            "trigger_topics": "WORKFLOW_ACTION",
            "split": {"train": "0.8"},
            "evaluation": {"max_leak_rate": False},
            "mapping": {"prompt_from": ["row_data"]},
        }
    ),
    fields={
        "min_new_labels",
        "min_examples",
        "system_prompt",
        "trigger_topics",
        "split.train",
        "evaluation.max_leak_rate",
        "mapping.prompt_from",
    },
)
case("put-number-given-as-a-string", 400, put_json({"min_new_labels": "5"}), fields={"min_new_labels"})
case("put-boolean-given-as-a-number", 400, put_json({"min_new_labels": True}), fields={"min_new_labels"})
case(
    "put-several-mistakes",
    400,
    put_json({"min_examples": 1, "min_new_labels": 0, "hyperparameters": {"n_epochs": 99}}),
    fields={"min_examples", "min_new_labels", "hyperparameters.n_epochs"},
)
case(
    "put-lone-surrogate-in-system-prompt",
    400,
    put(json.dumps({"system_prompt": "\ud800" + CANARY}).encode()),
    echo=(CANARY,),
)
case(
    "put-invalid-config-on-a-project-never-configured",
    400,
    put(json.dumps({"min_new_labels": 0}).encode(), lambda t: NEVER_CONFIGURED),
    fields={"min_new_labels"},
    also_absent=(NEVER_CONFIGURED,),
)
case(
    "put-not-json-on-a-project-never-configured",
    400,
    put(b"{", lambda t: NEVER_CONFIGURED),
    also_absent=(NEVER_CONFIGURED,),
)
case("put-project-id-129-characters", 400, put(b"{}", lambda t: "p" * 129), echo=("p" * 129,))
case(
    "put-project-id-shaped-like-an-item-key",
    404,
    put(b"{}", lambda t: f"delivery%23{CANARY}"),
    echo=(CANARY,),
)
case("put-project-id-dot-dot", 400, put(b"{}", lambda t: ".."))
case(
    "put-project-id-path-traversal",
    404,
    put(b"{}", lambda t: f"..%2F..%2F{t.project}%2F{CANARY}"),
    echo=(CANARY,),
)
case(
    "put-project-id-unicode",
    400,
    put(b"{}", lambda t: urllib.parse.quote(f"prøject-{CANARY}")),
    echo=(CANARY,),
)
case(
    "put-lower-case-method-still-validated",
    400,
    lambda t: Request("put", f"/projects/{t.project}", b'{"min_new_labels": 0}'),
    fields={"min_new_labels"},
)
case("put-project-trailing-slash", 404, put(b'{"min_new_labels": 0}', lambda t: f"{t.project}/"))
case("put-project-id-control-character", 404, put(b"{}", lambda t: f"p%01{CANARY}"), echo=(CANARY,))

# GET /projects/{id}: invalid id 400, unknown project 404.
case(
    "get-project-never-configured",
    404,
    lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}"),
    also_absent=(NEVER_CONFIGURED,),
)
case("get-project-id-129-characters", 400, lambda t: Request("GET", "/projects/" + "p" * 129), echo=("p" * 129,))
case("get-project-id-path-traversal", 404, lambda t: Request("GET", "/projects/..%2F..%2Fetc%2Fpasswd"))
case("get-project-id-dot-dot", 400, lambda t: Request("GET", "/projects/.."))
case("get-project-id-not-utf8-escape", 404, lambda t: Request("GET", "/projects/p%ff%fe"))
case(
    "get-project-id-unicode",
    400,
    lambda t: Request("GET", "/projects/" + urllib.parse.quote("проект")),
)
case(
    "get-project-garbage-query-string",
    404,
    lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}?%00=%ff&x=%3Cscript%3E{CANARY}&&==&a[]=1"),
    echo=(CANARY, "<script>"),
)


# POST /projects/{id}/runs: invalid id or Idempotency-Key 400, unknown project 404.
def manual_run(*headers: Header, project: Callable[[Targets], str] = lambda t: t.project) -> Any:
    return lambda t: Request("POST", f"/projects/{project(t)}/runs", b"{}", headers)


case("run-idempotency-key-129-characters", 400, manual_run(("Idempotency-Key", "k" * 129)))
case("run-idempotency-key-8-kib", 400, manual_run(("Idempotency-Key", CANARY * 600)), echo=(CANARY,))
case("run-idempotency-key-with-spaces", 400, manual_run(("Idempotency-Key", f"my key {CANARY}")), echo=(CANARY,))
case("run-idempotency-key-with-a-tab", 400, manual_run(("Idempotency-Key", f"k\t{CANARY}")), echo=(CANARY,))
case("run-idempotency-key-empty", 400, manual_run(("Idempotency-Key", "")))
case("run-idempotency-key-not-utf8", 400, manual_run(("Idempotency-Key", b"cl\xe9-\xff")))
case("run-idempotency-key-non-ascii", 400, manual_run(("Idempotency-Key", f"clé-{CANARY}".encode())))
case("run-idempotency-key-repeated", 400, manual_run(("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")))
case(
    "run-project-never-configured",
    404,
    manual_run(project=lambda t: NEVER_CONFIGURED),
    also_absent=(NEVER_CONFIGURED,),
)
case("run-project-id-129-characters", 400, manual_run(project=lambda t: "p" * 129), echo=("p" * 129,))
case(
    "run-project-id-shaped-like-a-count-marker",
    404,
    manual_run(project=lambda t: f"count%230%23row:{CANARY}"),
    echo=(CANARY,),
)
case("run-project-id-dot-dot", 400, manual_run(project=lambda t: ".."))

# GET /projects/{id}/runs and /deliveries: invalid id 400, unknown project 404.
case("list-runs-project-never-configured", 404, lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}/runs"))
case("list-runs-project-id-129-characters", 400, lambda t: Request("GET", f"/projects/{'p' * 129}/runs"))
case(
    "list-runs-garbage-query-string",
    400,  # the page request is checked first (limit=-1): nothing is looked up
    lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}/runs?limit=-1&limit=%ff&next={CANARY}%00"),
    echo=(CANARY,),
)
case(
    "list-deliveries-project-never-configured",
    404,
    lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}/deliveries"),
)
case("list-deliveries-project-id-dot-dot", 400, lambda t: Request("GET", "/projects/../deliveries"))
case(
    "list-deliveries-project-id-unicode",
    400,
    lambda t: Request("GET", "/projects/" + urllib.parse.quote(f"ünïcödé-{CANARY}") + "/deliveries"),
    echo=(CANARY,),
)
case(
    "list-deliveries-garbage-query-string",
    404,
    lambda t: Request("GET", f"/projects/{NEVER_CONFIGURED}/deliveries?since=%3Cscript%3E{CANARY}&%e9=%e9"),
    echo=(CANARY, "<script>"),
)

# GET /runs/{id}: malformed run id 400, unknown run 404.
case("get-run-unknown", 404, lambda t: Request("GET", "/runs/run-does-not-exist-zq7731"))
case("get-run-id-81-characters", 400, lambda t: Request("GET", "/runs/" + "r" * 81), echo=("r" * 81,))
case("get-run-id-with-a-space", 400, lambda t: Request("GET", f"/runs/run%20{CANARY}"), echo=(CANARY,))
case("get-run-id-dot-dot", 400, lambda t: Request("GET", "/runs/.."))
case("get-run-id-unicode", 400, lambda t: Request("GET", "/runs/" + urllib.parse.quote(f"rün-{CANARY}")))
case("get-run-id-shaped-like-an-item-key", 404, lambda t: Request("GET", f"/runs/run%23{CANARY}"), echo=(CANARY,))
case("get-run-id-path-traversal", 404, lambda t: Request("GET", "/runs/..%2F..%2Fprojects"))

# Routes and methods the API does not have: 404, in the same shape.
case("unknown-route-root", 404, lambda t: Request("GET", "/"))
case("unknown-route-projects-collection", 404, lambda t: Request("GET", "/projects"))
case("unknown-route-double-slash", 404, lambda t: Request("GET", f"//projects/{t.project}"))
case("unknown-route-asterisk-target", 404, lambda t: Request("GET", "*"))
case("unknown-route-empty-project-id", 404, lambda t: Request("GET", "/projects//runs"))
case("unknown-route-deeper-path", 404, lambda t: Request("GET", f"/projects/{t.project}/runs/{CANARY}"))
case("unknown-method-delete-project", 404, lambda t: Request("DELETE", f"/projects/{t.project}"))
case("unknown-method-patch-project", 404, lambda t: Request("PATCH", f"/projects/{t.project}", b"{}"))
case("unknown-method-post-project", 404, lambda t: Request("POST", f"/projects/{t.project}", b"{}"))
case("unknown-method-put-run", 404, lambda t: Request("PUT", "/runs/run-x", b"{}"))
case("unknown-method-delete-runs", 404, lambda t: Request("DELETE", f"/projects/{t.project}/runs"))
case("unknown-method-options-webhook", 404, lambda t: Request("OPTIONS", WEBHOOK))
case("unknown-method-invented", 404, lambda t: Request("BREW", f"/projects/{t.project}"))


# -- what the stack holds, to compare before and after -------------------------------------------------


class Observer:
    """Reads what the stack holds, outside any function (so the IAM check does not count these calls), with
    its clients made once: making a boto3 client costs far more than the calls themselves."""

    def __init__(self, stack: EmbeddedStack) -> None:
        assert stack.resources is not None
        self.resources = stack.resources
        self.dynamodb = stack.client("dynamodb")
        self.s3 = stack.client("s3")
        self.secrets = stack.client("secretsmanager")
        self.sfn = stack.client("stepfunctions")

    def _items(self, table: str) -> list[str]:
        items: list[str] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(json.dumps(item, sort_keys=True, default=str) for item in page["Items"])
        return sorted(items)

    def _executions(self, **filters: Any) -> list[dict[str, Any]]:
        executions: list[dict[str, Any]] = []
        for machine in self.sfn.list_state_machines()["stateMachines"]:
            pages = self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"], **filters
            )
            executions.extend(e for page in pages for e in page["executions"])
        return executions

    def snapshot(self) -> dict[str, list[str]]:
        """Every table the stack built (each item in full), the bucket's objects, the secrets, the executions."""
        state: dict[str, list[str]] = {}
        tables = set(self.dynamodb.list_tables()["TableNames"])
        assert {self.resources.ref(t) for t in TABLES} <= tables
        for table in sorted(tables):
            state[f"dynamodb:{table}"] = self._items(table)
        objects: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.resources.bucket_name):
            objects.extend(f"{o['Key']} {o['ETag']} {o['Size']} {o['LastModified']}" for o in page.get("Contents", []))
        state["s3"] = sorted(objects)
        secrets: list[str] = []
        for page in self.secrets.get_paginator("list_secrets").paginate():
            for secret in page["SecretList"]:  # not LastAccessedDate: reading a secret is not a write
                versions = json.dumps(secret.get("SecretVersionsToStages", {}), sort_keys=True)
                secrets.append(f"{secret['ARN']} {secret['Name']} {secret.get('LastChangedDate')} {versions}")
        state["secretsmanager"] = sorted(secrets)
        state["stepfunctions"] = sorted(
            f"{e['executionArn']} {e['status']} {e.get('stopDate')}" for e in self._executions()
        )
        return state

    def quiesce(self, timeout: float = 240) -> None:
        """Wait until no execution (another test's run, or a follow-up it started) is still writing."""
        deadline = time.monotonic() + timeout
        while running := self._executions(statusFilter="RUNNING"):
            assert time.monotonic() < deadline, f"{len(running)} executions still running after {timeout} s"
            time.sleep(0.2)

    def project_exists(self, project_id: str) -> bool:
        key = {"project_id": {"S": project_id}}
        table = self.resources.ref("ProjectsTable")
        return "Item" in self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)


@pytest.fixture(scope="module")
def observer(stack: EmbeddedStack) -> Observer:
    return Observer(stack)


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    found = []
    for where in sorted(set(before) | set(after)):
        old, new = set(before.get(where, [])), set(after.get(where, []))
        found += [f"{where}: written {item[:300]}" for item in sorted(new - old)]
        found += [f"{where}: removed or changed {item[:300]}" for item in sorted(old - new)]
    return found


# -- the checks ------------------------------------------------------------------------------------------


def caller_text(request: Request, case: Case) -> list[str]:
    """What the caller sent that must not come back: the case's own markers, every header value and every
    query-string value of some length (not the parameters' names, which the API's errors name), and a short body
    as a whole."""
    texts = list(case.echo)
    for _, value in request.headers:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if len(text.strip()) >= 6:
            texts.append(text.strip())
    query = request.path.partition("?")[2]
    for pair in query.split("&"):  # the values: a parameter's name is the API's own word (`limit`), not the caller's
        text = urllib.parse.unquote(pair.partition("=")[2], errors="replace")
        if len(text) >= 4:
            texts.append(text)
    if 12 <= len(request.body) <= 256:
        texts.append(request.body.decode("utf-8", errors="replace"))
    return texts


def check_shape(case: Case, body: Any) -> None:
    assert isinstance(body, dict), f"the error is not a JSON object: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"].strip(), body
    errors = body.get("errors")
    if errors is not None:
        assert isinstance(errors, list) and errors, body
        for problem in errors:
            assert isinstance(problem, dict) and set(problem) == {"field", "message"}, problem
            assert isinstance(problem["field"], str) and problem["field"], problem
            assert isinstance(problem["message"], str) and problem["message"], problem
    if case.fields:
        assert errors is not None, f"no `errors` list for {sorted(case.fields)}: {body}"
        assert {problem["field"] for problem in errors} == case.fields


def echoed(request: Request, case: Case, text: str, body: Any) -> list[str]:
    """What the caller sent that the reply repeats, raw or JSON-escaped."""
    shown = (text + "\n" + json.dumps(body, ensure_ascii=False)).lower()
    return [sent for sent in caller_text(request, case) if sent.lower() in shown]


@pytest.fixture
def quiet(observer: Observer, targets: Targets) -> Iterator[Observer]:
    """The observer, once the stack is quiet: nothing but the request under test can write."""
    observer.quiesce()
    yield observer


@pytest.mark.parametrize("hostile", CASES, ids=[c.name for c in CASES])
def test_hostile_request_is_refused_and_writes_nothing(quiet: Observer, targets: Targets, hostile: Case) -> None:
    request = hostile.build(targets)
    before = quiet.snapshot()
    status, content_type, raw = send(targets.api_url, request)
    after = quiet.snapshot()

    assert 400 <= status < 500, f"{status}: {raw[:500]!r}"
    if hostile.status is not None:
        assert status == hostile.status, raw[:500]
    assert content_type.startswith("application/json"), (content_type, raw[:200])
    text = raw.decode("utf-8")
    body = json.loads(text)
    check_shape(hostile, body)
    repeated = echoed(request, hostile, text, body)
    assert not repeated, f"the reply repeats what the caller sent: {[e[:80] for e in repeated]} in {text[:500]}"
    assert differences(before, after) == []
    for project_id in hostile.also_absent:
        assert not quiet.project_exists(project_id)


def test_the_corpus_is_large_and_every_case_has_its_own_name() -> None:
    names = [c.name for c in CASES]
    assert len(CASES) >= 40
    assert len(set(names)) == len(names)
    routes = {
        "webhook": "POST /webhooks/labelbox",
        "put": "PUT /projects/{id}",
        "get-project": "GET /projects/{id}",
        "run-": "POST /projects/{id}/runs",
        "list-runs": "GET /projects/{id}/runs",
        "list-deliveries": "GET /projects/{id}/deliveries",
        "get-run": "GET /runs/{id}",
        "unknown-": "unknown routes and methods",
    }
    for prefix, route in routes.items():
        assert any(name.startswith(prefix) for name in names), f"no case for {route}"

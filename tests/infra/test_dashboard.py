"""The console in template.yaml shows what the code emits: the dashboard and the alarms name each LabelTune metric
with exactly the dimensions the handlers publish it with (else a graph stays empty and an alarm never fires), and
every metric the handlers publish is on the dashboard. The handlers are run whole and their EMF output read back,
not grepped for names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from labeltune.handlers import api, evaluate, observability, prepare_dataset, run_events
from labeltune.pipeline.trigger import Reply
from labeltune_tools.embedded.lambda_runtime import LambdaContext

from .conftest import ROOT

Metric = tuple[str, tuple[tuple[str, str], ...]]  # (name, sorted dimensions)
EVENTS = ROOT / "events"
PSEUDO = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}


def _dashboard_text(template: dict[str, Any]) -> str:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str), "DashboardBody is one Fn::Sub string: names and ARNs resolve at deploy"
    return body


def _dashboard(template: dict[str, Any]) -> dict[str, Any]:
    text = re.sub(r"\$\{([^}]+)\}", lambda m: f"resolved-{m.group(1)}", _dashboard_text(template))
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _dashboard_metrics(template: dict[str, Any]) -> list[list[Any]]:
    return [
        metric
        for widget in _dashboard(template)["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]


def _labeltune(entry: list[Any]) -> Metric | None:
    """A dashboard metric array [namespace, name, dim, value, ..., {options}] as (name, dimensions)."""
    parts = [part for part in entry if not isinstance(part, dict)]
    if parts[0] != "LabelTune":
        return None
    pairs = parts[2:]
    return parts[1], tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))


def _alarm_metrics(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(alarm, namespace, {dimension: value}) for every metric an alarm reads."""
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        stats = (
            [props]
            if "MetricName" in props
            else [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]
        )
        for stat in stats:
            dims = {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])}
            yield name, stat["Namespace"], {"MetricName": stat["MetricName"], **dims}


def referenced(template: dict[str, Any]) -> set[Metric]:
    found = {m for entry in _dashboard_metrics(template) if (m := _labeltune(entry))}
    for _, namespace, dims in _alarm_metrics(template):
        if namespace == "LabelTune":
            name = dims.pop("MetricName")
            found.add((name, tuple(sorted(dims.items()))))
    return found


# -- running the handlers ---------------------------------------------------------------------------------------
def _context(name: str) -> LambdaContext:
    return LambdaContext(name, 512, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", 60)


def _image(run_id: str, status: str, changed: str, **extra: Any) -> dict[str, Any]:
    item = {"run_id": run_id, "project_id": "p", "created_at": "2026-09-15T09:00:00.000+00:00", "status": status}
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in {**item, "status_changed_at": changed, **extra}.items()}


def _stream_event(*runs: list[str]) -> dict[str, Any]:
    """Each run through its statuses, a minute apart: INSERT, then a MODIFY per change."""
    records, seq = [], 0
    for index, statuses in enumerate(runs):
        previous = None
        for minute, status in enumerate(statuses):
            seq += 1
            changed = f"2026-09-15T09:{minute:02d}:00.000+00:00"
            extra = {"trained_tokens": 1200} if status == "EVALUATING" else {}
            new = _image(f"run-{index}", status, changed, **extra)
            change: dict[str, Any] = {"Keys": {"run_id": {"S": f"run-{index}"}}, "NewImage": new}
            change |= {"SequenceNumber": str(seq), "StreamViewType": "NEW_AND_OLD_IMAGES"}
            if previous:
                change["OldImage"] = previous
            name = "MODIFY" if previous else "INSERT"
            records.append({"eventID": str(seq), "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change})
            previous = new
    return {"Records": records}


class AcceptingBus:
    def __init__(self) -> None:
        self.details: list[dict[str, Any]] = []

    def put(self, details: list[tuple[str, dict[str, Any]]]) -> list[bool]:
        self.details.extend(detail for _, detail in details)
        return [True] * len(details)


@pytest.fixture
def emf_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handlers print their metrics as EMF, as in Lambda (the shared Metrics object read its namespace at
    import, whichever test imported it first: set here)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LabelTune")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "labeltune")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    shared = observability.metrics
    monkeypatch.setattr(shared.provider, "namespace", "LabelTune")
    monkeypatch.setattr(shared.provider, "service", "labeltune")
    shared.clear_metrics()
    shared.set_default_dimensions(service="labeltune")


def run_every_emitting_handler(monkeypatch: pytest.MonkeyPatch) -> AcceptingBus:
    """The run stream (every status, each stage left), the evaluation's aggregate, a dataset prepared, and
    the Labelbox webhook answering 2xx, 4xx and 5xx."""
    bus = AcceptingBus()
    monkeypatch.setattr(run_events, "services", lambda: SimpleNamespace(run_events=bus))
    stages = ["STARTED", "EXPORTING", "PREPARING", "TRAINING", "EVALUATING", "SUCCEEDED"]
    event = _stream_event(stages, ["STARTED", "EXPORTING", "FAILED"], ["STARTED", "CANCELLED"])
    assert run_events.handler(event, _context("run-events")) == {"batchItemFailures": []}

    scores = SimpleNamespace(leak_rate=0.02, rouge_l=0.41)
    summary = SimpleNamespace(
        tuned=scores, base=SimpleNamespace(leak_rate=0.05, rouge_l=0.33), gate=SimpleNamespace(passed=True)
    )
    summary.model_dump = lambda mode: {"passed": True}
    monkeypatch.setattr(evaluate, "aggregate_evaluation", lambda *args: summary)
    monkeypatch.setattr(evaluate, "services", lambda: SimpleNamespace(store=None, runs=None))
    aggregate = json.loads((EVENTS / "evaluate_aggregate.json").read_text())
    evaluate.handler(aggregate, _context("evaluate"))

    dataset = SimpleNamespace(counts={"rows_read": 12, "train": 8, "validation": 1, "eval": 2, "rejected": 1})
    dataset.model_dump = lambda mode: {}
    monkeypatch.setattr(prepare_dataset, "prepare_dataset", lambda *args: dataset)
    monkeypatch.setattr(prepare_dataset, "services", lambda: SimpleNamespace(store=None, runs=None))
    prepare_dataset.handler(json.loads((EVENTS / "prepare_dataset.json").read_text()), _context("prepare"))

    svc = SimpleNamespace(once=SimpleNamespace(register_lambda_context=lambda context: None), trigger=None)
    monkeypatch.setattr(api, "services", lambda: svc)
    webhook = json.loads((EVENTS / "api_webhook_labelbox.json").read_text())
    for reply in (Reply(status_code=200, body={}), Reply(status_code=401, body={})):
        monkeypatch.setattr(api, "accept_labelbox_webhook", lambda *args, reply=reply: reply)
        assert api.handler(webhook, _context("api"))["statusCode"] == reply.status_code

    def broken(*args: Any) -> Reply:
        raise RuntimeError("the store is down")

    monkeypatch.setattr(api, "accept_labelbox_webhook", broken)
    with pytest.raises(RuntimeError):
        api.handler(webhook, _context("api"))
    return bus


@pytest.mark.usefixtures("emf_enabled")
def test_the_dashboard_and_alarms_show_exactly_what_the_handlers_emit(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bus = run_every_emitting_handler(monkeypatch)
    assert [d["status"] for d in bus.details if d["run_id"] == "run-0"] == [
        "STARTED", "EXPORTING", "PREPARING", "TRAINING", "EVALUATING", "SUCCEEDED"
    ]  # fmt: skip
    found = _emf_metrics(capsys.readouterr().out)
    shown = referenced(template)
    service = ("service", "labeltune")
    assert ("StageDuration", tuple(sorted((service, ("Stage", "TRAINING"))))) in found
    assert ("WebhookResponses", tuple(sorted((service, ("StatusClass", "5xx"))))) in found
    assert shown - found == set(), "the template names metrics (or dimensions) no handler emits"
    assert found - shown == set(), "a handler emits metrics the dashboard does not show"


def _emf_metrics(out: str) -> set[Metric]:
    found: set[Metric] = set()
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "LabelTune"
            for dimensions in directive["Dimensions"]:
                dims = tuple(sorted((d, str(document[d])) for d in dimensions))
                found.update((metric["Name"], dims) for metric in directive["Metrics"])
    return found


def test_the_dashboard_is_json_whose_names_are_resources_of_the_template(template: dict[str, Any]) -> None:
    dashboard = _dashboard(template)
    assert dashboard["widgets"]
    names = set(re.findall(r"\$\{([^}]+)\}", _dashboard_text(template)))
    resources = template["Resources"]
    for name in names - PSEUDO:
        logical_id, _, attribute = name.partition(".")
        assert logical_id in resources, f"the dashboard names {name}, which the template does not declare"
        if attribute:
            assert attribute in {"QueueName", "Arn"}, name
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    graphed = {entry[3].strip("${}") for entry in _raw_metrics(template) if entry[:2] == ["AWS/Lambda", "Errors"]}
    assert graphed == functions, "every function's errors are on the dashboard"


def _raw_metrics(template: dict[str, Any]) -> list[list[Any]]:
    body = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: "${" + m.group(1) + "}", _dashboard_text(template)))
    return [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]


def test_alarms_go_to_the_topic_and_watch_every_function(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    alarms = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for name, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name
        queries = props.get("Metrics", [])
        assert sum(1 for q in queries if "MetricStat" in q) <= 10, f"{name}: a metric math alarm reads 10 at most"
    read = list(_alarm_metrics(template))
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for metric in ("Errors", "Throttles"):
        watched = {
            dims["FunctionName"]["Ref"] for _, ns, dims in read if ns == "AWS/Lambda" and dims["MetricName"] == metric
        }
        assert watched == functions, metric
    pairs = {(ns, dims["MetricName"]) for _, ns, dims in read}
    assert {("LabelTune", "RunsFailed"), ("AWS/States", "ExecutionsTimedOut"), ("AWS/ApiGateway", "5xx")} <= pairs
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in pairs
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}  # not alias/aws/sns: alarms cannot use it
    key_statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements)
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_the_runs_table_streams_both_images_to_the_run_events_function(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    spec = resources["RunsTable"]["Properties"]["StreamSpecification"]
    assert spec == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    function = resources["RunEventsFunction"]["Properties"]
    [source] = function["Events"].values()
    assert source["Type"] == "DynamoDB"
    props = source["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["RunsTable", "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < props["MaximumRetryAttempts"] <= 10
    [statement] = function["Policies"][0]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"]["Fn::Sub"].endswith(":event-bus/default")

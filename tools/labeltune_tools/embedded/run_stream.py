"""Lambda's DynamoDB stream event source mapping, locally: a pump that reads the stream of each table the template
maps to a function (the runs table, for RunEventsFunction) from moto and invokes the function with each batch.

Invocations go through moto's Lambda invoke, like EmbeddedStack.deliver_event: the real handler runs with its
function's environment, and its AWS calls (events:PutEvents) are recorded and checked against its role like every
other call. The event has the documented shape (Records of eventID, eventName, eventSource "aws:dynamodb",
dynamodb {Keys, NewImage, OldImage, SequenceNumber, ...}, eventSourceARN). Records of one shard are delivered in
order; a batch the function fails, or reports items of (ReportBatchItemFailures), is retried from its first failed
record a bounded number of times and then skipped, with a warning, where Lambda would describe it to the
mapping's on-failure destination.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labeltune_tools.embedded.resources import LocalResources

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
MAX_RETRIES = 3  # locally: enough to see a retry work, short enough not to hold a stuck stream


@dataclass(frozen=True)
class StreamSource:
    """One DynamoDB event source mapping of the template, with the local stack's physical names."""

    logical_id: str
    stream_arn: str
    function_name: str
    batch_size: int


def stream_sources(resources: LocalResources) -> list[StreamSource]:
    """Every AWS::Lambda::EventSourceMapping on a table's stream, resolved to the stream and function built."""
    sources = []
    for logical_id, resource in resources.template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        arn, function = props.get("EventSourceArn"), props.get("FunctionName")
        if not (isinstance(arn, dict) and "Fn::GetAtt" in arn and isinstance(function, dict) and "Ref" in function):
            continue
        table, attribute = arn["Fn::GetAtt"]
        stream_arn = resources.physical.get(table, {}).get(attribute)
        if attribute != "StreamArn" or not stream_arn:
            continue
        name = resources.function_names[function["Ref"]]
        sources.append(StreamSource(logical_id, stream_arn, name, int(props.get("BatchSize", 100))))
    return sources


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON: {type(value).__name__}")


def lambda_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for a batch of stream records (the documented DynamoDB shape)."""
    return {
        "Records": [
            {
                "eventID": record["eventID"],
                "eventName": record["eventName"],
                "eventVersion": record.get("eventVersion", "1.1"),
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": record["dynamodb"],
                "eventSourceARN": stream_arn,
            }
            for record in records
        ]
    }


@dataclass
class _Shard:
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


class StreamPump:
    """Polls each mapped stream on a daemon thread and invokes its function; `invocations` records
    (function, records sent, failed sequence numbers or ["FunctionError"])."""

    def __init__(self, session: Any, resources: LocalResources) -> None:
        self.sources = stream_sources(resources)
        self.region = resources.region
        self._streams = session.client("dynamodbstreams")
        self._lambda = session.client("lambda")
        self._shards: dict[tuple[str, str], _Shard] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations: list[tuple[str, int, list[str]]] = []
        self.skipped: list[str] = []  # sequence numbers given up on

    def start(self) -> StreamPump:
        if self.sources and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="labeltune-run-stream", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for source in self.sources:
                    self._poll(source)
            except Exception:  # moto stopping under us, or a bug: say so and keep the stack up
                if self._stop.is_set():
                    return
                log.exception("the run stream pump failed a poll")
            self._stop.wait(POLL_SECONDS)

    def _poll(self, source: StreamSource) -> None:
        description = self._streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]
        for shard_info in description.get("Shards", []):
            key = (source.stream_arn, shard_info["ShardId"])
            shard = self._shards.get(key)
            if shard is None:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=source.stream_arn, ShardId=shard_info["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                shard = self._shards[key] = _Shard(iterator)
            if len(shard.pending) < source.batch_size and shard.iterator:
                page = self._streams.get_records(ShardIterator=shard.iterator, Limit=source.batch_size)
                shard.iterator = page.get("NextShardIterator")
                shard.pending.extend(page.get("Records", []))
            if shard.pending:
                self._deliver(source, shard)

    def _deliver(self, source: StreamSource, shard: _Shard) -> None:
        batch = shard.pending[: source.batch_size]
        payload = json.dumps(lambda_event(batch, source.stream_arn, self.region), default=_json_default)
        answer = self._lambda.invoke(FunctionName=source.function_name, Payload=payload.encode())
        body = answer["Payload"].read()
        if "FunctionError" in answer:
            failed = [batch[0]["dynamodb"]["SequenceNumber"]]
            self.invocations.append((source.function_name, len(batch), ["FunctionError"]))
        else:
            result = json.loads(body or b"null") or {}
            failed = [str(item["itemIdentifier"]) for item in result.get("batchItemFailures") or []]
            self.invocations.append((source.function_name, len(batch), failed))
        if not failed:
            del shard.pending[: len(batch)]
            shard.attempts = 0
            return
        # Lambda retries from the lowest sequence number reported; what came before it is done.
        first = min(failed, key=int)
        index = next(
            (i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == first),
            0,
        )
        del shard.pending[:index]
        shard.attempts += 1
        if shard.attempts > MAX_RETRIES:
            given_up = [r["dynamodb"]["SequenceNumber"] for r in shard.pending[: len(batch) - index]]
            self.skipped.extend(given_up)
            log.warning("%s kept failing on %d stream records: skipped", source.function_name, len(given_up))
            del shard.pending[: len(given_up)]
            shard.attempts = 0

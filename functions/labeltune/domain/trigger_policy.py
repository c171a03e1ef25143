"""When a project's label events start a fine-tuning run. Pure rules; the store makes them atomic.

A run starts when at least `min_new_labels` distinct approved rows (or labels) have been counted since the
project's last run started, and no run of the project is in flight. A label counts once per run however
often it is delivered, under however many delivery ids: the delivery id is an unsigned header, so a
captured body replayed under fresh ids counts nothing new. Events during a run are kept and may start one
follow-up run when it ends. A manual start skips the threshold but never the in-flight rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from labeltune.clock import iso
from labeltune.domain.webhook import Delivery, Topic

# The state machine gives up after 3 days (TimeoutSeconds in the ASL); a claim older than that belongs to a
# run that died without recording its outcome, and may be taken over.
RUN_LOCK_TTL = timedelta(days=3, hours=1)
# A claim is taken a moment before StartExecution, inside one API invocation (60 s at most). A claim older
# than this whose execution does not exist (or has ended) was left by an invocation that died in between.
CLAIM_GRACE = timedelta(minutes=3)

# Approval-type events. LABEL_CREATED fires on submit, before review: it is not an approval. A project
# without a review step can opt in to counting label events through its configuration.
DEFAULT_TRIGGER_TOPICS = (Topic.WORKFLOW_ACTION,)


class Verdict(StrEnum):
    """What a delivery does to the project's count (kept on the delivery record, shown by the API)."""

    COUNTED = "counted"
    ALREADY_COUNTED = "already_counted"  # this row/label was counted since the last run started
    TOPIC_NOT_COUNTED = "topic_not_counted"  # not one of the project's trigger topics
    SENT_BACK = "sent_back"  # a workflow action that rejects or reworks the row
    UNKNOWN_TOPIC = "unknown_topic"


def verdict(delivery: Delivery, trigger_topics: tuple[str, ...] | list[str]) -> Verdict:
    """Whether the delivery may count (COUNTED, unless the store finds it counted already) or why not."""
    if delivery.topic is None:
        return Verdict.UNKNOWN_TOPIC
    if delivery.topic is Topic.LABEL_DELETED or delivery.topic.value not in {str(t) for t in trigger_topics}:
        return Verdict.TOPIC_NOT_COUNTED
    if delivery.topic is Topic.WORKFLOW_ACTION and delivery.sends_back():
        return Verdict.SENT_BACK
    return Verdict.COUNTED


def stale_before(now: datetime) -> str:
    """Claims older than this ISO timestamp are considered abandoned."""
    return iso(now - RUN_LOCK_TTL)

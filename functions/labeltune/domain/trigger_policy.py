"""When a project's label events start a fine-tuning run. Pure rules; the store makes them atomic.

A run starts when at least `min_new_labels` approval-type events have arrived since the last run started
and no run of the project is in flight. Events during a run are kept and may start one follow-up run
when it ends. A manual start skips the threshold but never the in-flight rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from labeltune.domain.webhook import Topic

# The state machine gives up after 3 days (TimeoutSeconds in the ASL); a claim older than that belongs to a
# run that died without recording its outcome, and may be taken over.
RUN_LOCK_TTL = timedelta(days=3, hours=1)

# Approval-type events. LABEL_CREATED fires on submit, before review: it is not an approval. A project
# without a review step can opt in to counting label events through its configuration.
DEFAULT_TRIGGER_TOPICS = (Topic.WORKFLOW_ACTION,)


def counts_toward_run(topic: Topic, trigger_topics: tuple[str, ...] | list[str]) -> bool:
    return topic is not Topic.LABEL_DELETED and topic.value in {str(t) for t in trigger_topics}


def stale_before(now: datetime) -> str:
    """Claims older than this ISO timestamp are considered abandoned."""
    return (now - RUN_LOCK_TTL).isoformat(timespec="milliseconds")

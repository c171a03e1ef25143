"""EventBridge "Model Customization Job State Change" from Amazon Bedrock resumes the run waiting for the job.

template.yaml's rule matches the jobs that run as this stack's BedrockJobRole and have ended (Completed,
Failed, Stopped). Delivery is best effort: a lost event is caught by the run's fallback check. A provider or
store error raises, so EventBridge retries the event (then sends it to the dead-letter queue).
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models.event_bridge import EventBridgeModel
from pydantic import BaseModel, ConfigDict

from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.completion import resume_on_job_event
from labeltune.wiring import services


class JobStateDetail(BaseModel):
    """The fields of the event's `detail` this function reads (the job is read back from Bedrock)."""

    model_config = ConfigDict(extra="ignore")
    jobArn: str  # Bedrock's own field names
    jobStatus: str


class JobStateChange(EventBridgeModel):
    detail: JobStateDetail


@lambda_entry
@event_parser(model=JobStateChange)
def handler(event: JobStateChange, context: Any) -> dict:
    svc = services()
    job_id = event.detail.jobArn
    outcome = resume_on_job_event("bedrock", job_id, svc.fine_tuning("bedrock"), svc.runs, svc.callbacks)
    logger.info(
        "bedrock job event",
        extra={"event_id": event.id, "job_id": job_id, "status": event.detail.jobStatus, "outcome": outcome},
    )
    return {"event_id": event.id, "job_id": job_id, "result": outcome.value}

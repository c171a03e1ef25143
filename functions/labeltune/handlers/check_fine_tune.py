"""AwaitFineTune state: store the state's task token, look at the job once; a finished job resumes at once.

Otherwise the execution waits for the provider's event (handlers/openai_job_events.py, bedrock_job_events.py)
or, when none comes, for the state's timeout, which calls this again (pipeline/completion.py).
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.handlers.events import CheckFineTuneEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.completion import await_fine_tune
from labeltune.pipeline.fine_tune import check_fine_tune
from labeltune.wiring import services


@lambda_entry
@event_parser(model=CheckFineTuneEvent)
def handler(event: CheckFineTuneEvent, context: Any) -> dict:
    svc = services()
    provider = svc.fine_tuning(event.provider)
    if event.task_token:
        job = await_fine_tune(event.run_id, event.job_id, event.task_token, provider, svc.runs, svc.callbacks)
    else:
        job = check_fine_tune(event.run_id, event.job_id, provider, svc.runs)
    logger.info("fine-tune status", extra={"run_id": event.run_id, "job_id": job.job_id, "status": job.status})
    return job.model_dump(mode="json")

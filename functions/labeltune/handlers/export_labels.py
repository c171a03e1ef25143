"""StartExport / CheckExport / SnapshotExport states: one function, three actions.

No invocation waits on the export: the state machine polls it between Wait states.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from pydantic import BaseModel

from labeltune.handlers.events import CheckExportEvent, ExportEvent, ExportStep, StartExportEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.export import check_export, snapshot_export, start_export
from labeltune.pipeline.projects import refuse_untrainable
from labeltune.wiring import services


@lambda_entry
@event_parser(model=ExportEvent)
def handler(step: ExportStep, context: Any) -> dict:
    svc = services()
    result: BaseModel
    if isinstance(step, StartExportEvent):
        refuse_untrainable(step.run_id, step.config, svc.catalog, svc.clock().date(), svc.runs)
        result = start_export(step.run_id, step.project_id, svc.exports, svc.runs, svc.clock)
    elif isinstance(step, CheckExportEvent):
        result = check_export(step.task_id, step.started_at, svc.exports, svc.clock)
    else:
        result = snapshot_export(
            step.run_id,
            step.task_id,
            svc.exports,
            svc.fetcher,
            svc.store,
            svc.runs,
            max_export_error_rate=step.config.max_export_error_rate,
        )
    logger.info("export", extra={"run_id": step.run_id, "action": step.action})
    return result.model_dump(mode="json")

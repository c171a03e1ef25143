"""Prepare: the project's export rows -> the dataset builder -> train/validation/eval JSONL in the object store.

A thin wrapper over `labeltune.dataset` (the same builder `labeltune dataset build` runs): the lines of the
run's export snapshot stream through the builder into spool files on local disk (Lambda /tmp), which are uploaded from
disk (S3 multipart above 8 MB), so memory does not grow with the export. Rejected rows are written with
their id, line number and reason code only, never content. The run record gets the headline numbers;
report.json next to the files has the rest.

A dataset too small to train on fails the run (`DatasetTooSmall`) before any money is spent; its report and
rejections are still uploaded (they hold no content), the example files are not.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from labeltune.domain.conversion import LABEL_CHOICE_RULE
from labeltune.domain.models import RunStatus
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import DatasetTooSmall
from labeltune.ports import ObjectStore, RunStore

# The builder is imported where it is used, not with this module: every later step imports PreparedDataset
# from here (its event carries one) and never builds a dataset. PrepareDataset's handler imports it at init.
if TYPE_CHECKING:
    from labeltune.dataset import DatasetReport, PriceTable


class PreparedDataset(BaseModel):
    """What later states need: where the files are, and the counts."""

    run_id: str
    train_key: str
    validation_key: str
    eval_key: str
    rejected_key: str
    counts: dict[str, int]
    rejected_by_reason: dict[str, int]

    @property
    def report_key(self) -> str:
        from labeltune.dataset import FILES

        return dataset_key(self.run_id, FILES["report"])


def dataset_key(run_id: str, name: str) -> str:
    return f"runs/{run_id}/dataset/{name}"


def prepare_dataset(
    run_id: str,
    project_id: str,
    snapshot_key: str,
    store: ObjectStore,
    runs: RunStore,
    config: ProjectConfig,
    price_table: PriceTable | None = None,
) -> PreparedDataset:
    from labeltune.dataset import FILES, DirectorySink, build_dataset

    runs.update_run(run_id, status=RunStatus.PREPARING.value)
    keys = {name: dataset_key(run_id, filename) for name, filename in FILES.items()}
    with tempfile.TemporaryDirectory(prefix="labeltune-") as tmp:
        with DirectorySink(Path(tmp)) as sink:
            lines = store.read_lines(snapshot_key)  # parsed by the builder, as `labeltune dataset build` does
            report = build_dataset(lines, sink, project_id, config, price_table=price_table)
        uploads = FILES if report.ok else ("rejected", "report")
        for name in uploads:
            store.upload_file(keys[name], sink.path(name))
    counts = {"rows_read": report.rows_read, **report.examples, "rejected": report.rejected}
    record = {**run_record(report), "report_uri": store.uri(keys["report"])}
    if not report.ok:
        runs.update_run(run_id, **record)
        raise DatasetTooSmall("; ".join(report.problems))
    runs.update_run(
        run_id, **record, label_choice_rule=LABEL_CHOICE_RULE, dataset_uri=store.uri(f"runs/{run_id}/dataset/")
    )
    return PreparedDataset(
        run_id=run_id,
        train_key=keys["train"],
        validation_key=keys["validation"],
        eval_key=keys["eval"],
        rejected_key=keys["rejected"],
        counts=counts,
        rejected_by_reason=report.rejected_by_reason,
    )


def run_record(report: DatasetReport) -> dict[str, Any]:
    """The report's headline numbers as flat, console-readable run record attributes."""
    from labeltune.dataset import SPLITS

    return {
        "rows_read": report.rows_read,
        **{f"{name}_examples": report.examples[name] for name in SPLITS},
        "rejected_rows": report.rejected,
        "rejected_by_reason": report.rejected_by_reason,
        "duplicates_removed": report.duplicates_removed,
        "train_tokens": report.training.train_tokens,
        "billable_tokens_estimate": report.training.billable_tokens,
        "n_epochs_estimate": report.training.n_epochs,
        "estimated_cost_usd": report.cost.estimated_usd,
        "token_encoding": report.token_encoding,
    }

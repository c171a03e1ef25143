"""Prepare: export rows -> validated chat examples -> train/validation/eval JSONL in the object store.

Rows stream from the source to three local spool files and are uploaded from disk, so memory does not
grow with the export. Rejected rows are written with their id and reason code only, never content.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from labeltune.domain.conversion import LABEL_CHOICE_RULE, FieldMapping, convert_row
from labeltune.domain.models import Rejection, RunStatus
from labeltune.domain.split import SplitRatios, assign_split
from labeltune.errors import DatasetTooSmall
from labeltune.ports import LabelSource, ObjectStore, RunStore

SPLITS = ("train", "validation", "eval")


class DatasetOptions(BaseModel):
    system_prompt: str
    min_examples: int = 10
    mapping: FieldMapping = FieldMapping()
    split: SplitRatios = SplitRatios()


class PreparedDataset(BaseModel):
    """What later states need: where the files are, and the counts."""

    run_id: str
    train_key: str
    validation_key: str
    eval_key: str
    rejected_key: str
    counts: dict[str, int]
    rejected_by_reason: dict[str, int]


def dataset_key(run_id: str, name: str) -> str:
    return f"runs/{run_id}/dataset/{name}"


def prepare_dataset(
    run_id: str,
    project_id: str,
    source: LabelSource,
    store: ObjectStore,
    runs: RunStore,
    options: DatasetOptions,
) -> PreparedDataset:
    runs.update_run(run_id, status=RunStatus.PREPARING.value)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="labeltune-") as tmp:
        paths = {name: Path(tmp) / f"{name}.jsonl" for name in (*SPLITS, "rejected")}
        files = {name: path.open("w", encoding="utf-8") for name, path in paths.items()}
        try:
            for line_number, row in enumerate(source.iter_rows(project_id), start=1):
                counts["rows_read"] += 1
                result = convert_row(row, project_id, options.mapping, options.system_prompt)
                if isinstance(result, Rejection):
                    reasons[result.reason] += 1
                    record = result.model_copy(update={"line_number": line_number})
                    files["rejected"].write(record.model_dump_json() + "\n")
                    continue
                split = assign_split(result.split_key, options.split)
                counts[split] += 1
                line = result.to_openai_line()
                if split == "eval":  # eval.jsonl is never uploaded: it keeps the row id for per-example results
                    line = {"data_row_id": result.data_row_id, **line}
                files[split].write(json.dumps(line, ensure_ascii=False) + "\n")
        finally:
            for handle in files.values():
                handle.close()
        counts["rejected"] = sum(reasons.values())
        summary = {name: counts.get(name, 0) for name in ("rows_read", *SPLITS, "rejected")}
        if summary["train"] < options.min_examples or summary["eval"] < 1:
            runs.update_run(run_id, **_flat_counts(summary), rejected_by_reason=dict(reasons))
            raise DatasetTooSmall(
                f"{summary['train']} training and {summary['eval']} held-out examples from "
                f"{summary['rows_read']} rows; need at least {options.min_examples} training and 1 held-out"
            )
        keys = {name: dataset_key(run_id, f"{name}.jsonl") for name in paths}
        for name, path in paths.items():
            store.upload_file(keys[name], path)
    runs.update_run(
        run_id,
        **_flat_counts(summary),
        rejected_by_reason=dict(reasons),
        label_choice_rule=LABEL_CHOICE_RULE,
        dataset_uri=store.uri(f"runs/{run_id}/dataset/"),
    )
    return PreparedDataset(
        run_id=run_id,
        train_key=keys["train"],
        validation_key=keys["validation"],
        eval_key=keys["eval"],
        rejected_key=keys["rejected"],
        counts=summary,
        rejected_by_reason=dict(reasons),
    )


def _flat_counts(summary: dict[str, Any]) -> dict[str, Any]:
    """Console-readable attribute names for the run record."""
    return {
        "rows_read": summary["rows_read"],
        "train_examples": summary["train"],
        "validation_examples": summary["validation"],
        "eval_examples": summary["eval"],
        "rejected_rows": summary["rejected"],
    }

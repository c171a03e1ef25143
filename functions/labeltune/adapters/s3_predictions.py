"""PredictionsSink beside the Labelbox one, for a stack that reads its labels from S3 (LabelSource=s3, the local
stack): the model run is a prefix of the run in the bucket, each import a JSON Lines file, each review batch a
JSON file. The same names and the same idempotency as in Labelbox: an import is found by its batch name and not
written twice. Reviewers see nothing: there is no Labelbox project to send them to."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from labeltune.domain.predictions import BatchOutcome, Prediction, PredictionsTarget, ReviewOutcome
from labeltune.ports import ObjectStore

DEFAULT_CLASSIFICATION = "summary"


def predictions_prefix(run_name: str) -> str:
    return f"runs/{run_name}/predictions"


class S3PredictionsSink:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def open_model_run(
        self, project_id: str, model_name: str, run_name: str, classification: str | None
    ) -> PredictionsTarget:
        return PredictionsTarget(
            run_name=run_name,
            model_id=f"s3:{model_name}",
            model_run_id=self._store.uri(predictions_prefix(run_name)),
            classification_name=classification or DEFAULT_CLASSIFICATION,
            feature_schema_id=None,
        )

    def upload(self, target: PredictionsTarget, batch_name: str, predictions: list[Prediction]) -> BatchOutcome:
        done_key = f"{predictions_prefix(target.run_name)}/{batch_name}.done.json"
        done = self._store.find_json(done_key)
        if done is not None:  # found by name: not written again
            return BatchOutcome(uploaded=int(done["uploaded"]))
        with tempfile.TemporaryDirectory(prefix="labeltune-predictions-") as tmp:
            path = Path(tmp) / "batch.jsonl"
            with path.open("w", encoding="utf-8") as lines:
                for p in predictions:
                    line = {"dataRow": {"id": p.data_row_id}, "name": target.classification_name, "answer": p.answer}
                    lines.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._store.upload_file(f"{predictions_prefix(target.run_name)}/{batch_name}.jsonl", path)
        self._store.put_json(done_key, {"uploaded": len(predictions)})
        return BatchOutcome(uploaded=len(predictions))

    def send_to_review(
        self, target: PredictionsTarget, review_project_id: str, batch_name: str, data_row_ids: list[str]
    ) -> ReviewOutcome:
        key = f"{predictions_prefix(target.run_name)}/review-{batch_name}.json"
        self._store.put_json(key, {"review_project_id": review_project_id, "data_row_ids": data_row_ids})
        return ReviewOutcome(sent=len(data_row_ids))

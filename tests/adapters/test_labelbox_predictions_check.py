"""`labeltune labelbox check` says whether the project's ontology can take the tuned model's answers as a model
run's predictions (the rule the PublishPredictions step applies), and whether a configured review project
exists; autospecced Labelbox SDK classes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from labelbox.schema.export_task import ExportTask
from lbox import exceptions as lbox_errors

from labeltune_tools.cli import main
from labeltune_tools.commands import labelbox as command
from tests.adapters import labelbox_doubles as lb

PROJECT = "clproject0001"
REVIEW = "clreview0001"
LEGACY_MAPPING = {"mapping": {"prompt_from": "prompt-text"}}


@pytest.fixture
def client() -> Iterator[Any]:
    double = lb.client()
    with patch.object(command, "_labelbox_client", return_value=double):
        yield double


@pytest.fixture
def get_task() -> Iterator[Any]:
    with patch.object(ExportTask, "get_task", autospec=True) as double:
        yield double


def projects(client: Any, get_task: Any, ontology: list[dict[str, Any]], *, review: bool = False) -> None:
    """The training project (ten rows that convert) and, with `review`, a review project."""
    legacy = ontology is lb.LEGACY_ONTOLOGY
    texts = {"prompt-text": "p", "response-text": "r"} if legacy else None
    rows = [lb.export_row(f"dr{i}", row_data="" if legacy else "Agent: hi", texts=texts) for i in range(10)]
    project = lb.project(PROJECT, classifications=ontology)
    project.export.return_value = lb.export_task("cltask1")
    get_task.return_value = lb.export_task("cltask1", rows=rows)
    others = {PROJECT: project}
    if review:
        others[REVIEW] = lb.project(REVIEW, name="Summary review")

    def get_project(project_id: str) -> Any:
        if project_id not in others:
            raise lbox_errors.ResourceNotFoundError(message=f"no project {project_id}")
        return others[project_id]

    client.get_project.side_effect = get_project


def check(tmp_path: Path, config: dict[str, Any]) -> int:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return main(["labelbox", "check", "--project", PROJECT, "--config", str(path)])


def test_a_text_ontology_allows_predictions(
    client: Any, get_task: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    projects(client, get_task, lb.TEXT_ONTOLOGY)
    assert check(tmp_path, {"predictions": {"enabled": True}}) == 0
    out, err = capsys.readouterr()
    assert "Predictions:    on; the ontology allows them, as classification 'summary'" in out
    assert err == ""


def test_an_ontology_without_a_free_text_classification_is_a_warning_when_predictions_are_on(
    client: Any, get_task: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    projects(client, get_task, lb.LEGACY_ONTOLOGY)
    assert check(tmp_path, {**LEGACY_MAPPING, "predictions": {"enabled": True}}) == 1
    out, err = capsys.readouterr()
    assert "Predictions:    on; the ontology does not allow them" in out
    assert "WARNING: predictions: the project's ontology has no free-text classification" in err


def test_predictions_off_are_reported_without_a_warning(
    client: Any, get_task: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    projects(client, get_task, lb.LEGACY_ONTOLOGY)
    assert check(tmp_path, LEGACY_MAPPING) == 0
    out, err = capsys.readouterr()
    assert "Predictions:    off; the ontology does not allow them" in out
    assert "predictions" not in err


def test_the_review_project_is_looked_up(
    client: Any, get_task: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review = {"enabled": True, "review_project_id": REVIEW, "review_below_rouge_l": 0.3}
    projects(client, get_task, lb.TEXT_ONTOLOGY, review=True)
    assert check(tmp_path, {"predictions": review}) == 0
    assert f"review project {REVIEW} ('Summary review')" in capsys.readouterr().out

    projects(client, get_task, lb.TEXT_ONTOLOGY, review=False)
    assert check(tmp_path, {"predictions": review}) == 1
    out, err = capsys.readouterr()
    assert f"review project {REVIEW} (NOT FOUND)" in out
    assert f"WARNING: predictions: review project {REVIEW} does not exist" in err

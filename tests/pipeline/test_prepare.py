"""Prepare: the sample export through the dataset builder into JSONL files, counted on the run record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labeltune.domain.conversion import LABEL_CHOICE_RULE, Reason
from labeltune.domain.project_config import Hyperparameters, ProjectConfig
from labeltune.domain.split import SplitRatios, assign_split
from labeltune.errors import DatasetTooSmall
from labeltune.pipeline.prepare import PreparedDataset, dataset_key, prepare_dataset
from tests.fakes import InMemoryObjectStore, InMemoryRunStore

EXPORT = Path(__file__).resolve().parents[2] / "examples" / "labelbox_export.ndjson"
PROJECT = "clx-support-summaries-demo"
RUN = "run-prepare-test"
SYSTEM = "Summarise the chat. Leave out all personal data."
SNAPSHOT = f"snapshots/{RUN}.ndjson"  # the export stage writes runs/<run>/export.ndjson; apart here, so the
# tests of what PrepareDataset writes under the run see only its own files


def snapshot(store: InMemoryObjectStore, rows: list[Any]) -> str:
    """The run's export snapshot, as the export stage writes it: one JSON row per line."""
    store.put_lines(SNAPSHOT, [json.dumps(row, ensure_ascii=False) for row in rows])
    return SNAPSHOT


@pytest.fixture(scope="module")
def export_rows() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 86 and all("data_row" in r for r in rows)
    return rows


@pytest.fixture
def runs() -> InMemoryRunStore:
    store = InMemoryRunStore()
    store.create_run(RUN, PROJECT, status="STARTED")
    return store


@pytest.fixture
def store() -> InMemoryObjectStore:
    return InMemoryObjectStore()


def prepare(rows: list[Any], store: InMemoryObjectStore, runs: InMemoryRunStore, **options: Any) -> PreparedDataset:
    config = ProjectConfig(system_prompt=SYSTEM, **options)
    return prepare_dataset(RUN, PROJECT, snapshot(store, rows), store, runs, config)


def test_counts_add_up(export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    rows = [*export_rows, {"_malformed": True}]
    dataset = prepare(rows, store, runs)
    counts = dataset.counts
    assert counts["rows_read"] == len(rows) == 87
    assert counts["rows_read"] == counts["train"] + counts["validation"] + counts["eval"] + counts["rejected"]
    assert counts["train"] + counts["validation"] + counts["eval"] == 80
    assert counts["rejected"] == 7
    assert counts["eval"] >= 1 and counts["train"] >= 10
    assert dataset.rejected_by_reason == {
        Reason.INVALID_JSON: 1,
        Reason.NO_LABEL: 1,
        Reason.NOT_DONE: 3,
        Reason.EMPTY_RESPONSE: 1,
        Reason.NO_RESPONSE: 1,
    }
    # Each file holds exactly as many lines as its count says.
    for name, key in (("train", dataset.train_key), ("validation", dataset.validation_key), ("eval", dataset.eval_key)):
        assert len(store.read_jsonl(key)) == counts[name], name
    assert len(store.read_jsonl(dataset.rejected_key)) == counts["rejected"]


def test_files_are_written_under_the_run(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    dataset = prepare(export_rows, store, runs)
    names = ("train.jsonl", "validation.jsonl", "eval.jsonl", "rejected.ndjson", "report.json")
    assert set(store.keys("runs/")) == {dataset_key(RUN, name) for name in names}
    assert [dataset.train_key, dataset.validation_key, dataset.eval_key, dataset.rejected_key, dataset.report_key] == [
        dataset_key(RUN, name) for name in names
    ]


def test_train_and_validation_lines_are_exactly_chat_messages(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    dataset = prepare(export_rows, store, runs)
    for key in (dataset.train_key, dataset.validation_key):
        lines = store.read_jsonl(key)
        assert lines, key
        for line in lines:
            assert list(line) == ["messages"]  # nothing else: OpenAI rejects unknown keys
            assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
            assert all(set(m) == {"role", "content"} for m in line["messages"])
            assert line["messages"][0]["content"] == SYSTEM
            assert all(isinstance(m["content"], str) and m["content"].strip() for m in line["messages"])


def test_eval_lines_also_carry_the_data_row_id(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    ids = {r["data_row"]["id"] for r in export_rows}
    dataset = prepare(export_rows, store, runs)
    lines = store.read_jsonl(dataset.eval_key)
    assert lines
    for line in lines:
        assert set(line) == {"data_row_id", "messages"}
        assert line["data_row_id"] in ids
        assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]


def test_the_latest_label_is_the_one_trained_on(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    dataset = prepare(export_rows, store, runs)
    assistant_by_prompt = {
        line["messages"][1]["content"]: line["messages"][2]["content"]
        for key in (dataset.train_key, dataset.validation_key, dataset.eval_key)
        for line in store.read_jsonl(key)
    }
    reworked = [r for r in export_rows if len(r["projects"][PROJECT]["labels"]) > 1]
    assert reworked
    for r in reworked:
        labels = r["projects"][PROJECT]["labels"]
        latest = max(labels, key=lambda lb: lb["label_details"]["updated_at"])
        summary = latest["annotations"]["classifications"][0]["text_answer"]["content"]
        assert assistant_by_prompt[r["data_row"]["row_data"].strip()] == summary.strip()


def test_rejected_file_holds_ids_and_reasons_only(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    rows = [*export_rows[:3], {"_malformed": True}, *export_rows[3:]]
    dataset = prepare(rows, store, runs)
    rejected = store.read_jsonl(dataset.rejected_key)
    assert len(rejected) == 7
    for record in rejected:
        assert set(record) == {"data_row_id", "reason", "line_number"}
    by_line = {record["line_number"]: record for record in rejected}
    assert by_line[4] == {"data_row_id": None, "reason": Reason.INVALID_JSON, "line_number": 4}
    # line numbers point back at the export rows (1-based)
    for number, record in by_line.items():
        if record["data_row_id"] is not None:
            assert rows[number - 1]["data_row"]["id"] == record["data_row_id"]
    # and no content of any row leaks into the file (the chats are full of personal data)
    text = store.read_text(dataset.rejected_key)
    for r in export_rows:
        if r["data_row"]["row_data"]:
            assert r["data_row"]["row_data"][:40] not in text


def test_run_record_gets_the_counts(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    dataset = prepare(export_rows, store, runs)
    run = runs.get_run(RUN)
    assert run is not None
    assert run["status"] == "PREPARING"
    assert run["rows_read"] == 86
    assert run["train_examples"] == dataset.counts["train"]
    assert run["validation_examples"] == dataset.counts["validation"]
    assert run["eval_examples"] == dataset.counts["eval"]
    assert run["rejected_rows"] == 6
    assert run["rejected_by_reason"] == dataset.rejected_by_reason
    assert run["label_choice_rule"] == LABEL_CHOICE_RULE
    assert run["dataset_uri"] == store.uri(f"runs/{RUN}/dataset/")
    # the report's headline numbers
    report = store.get_json(dataset.report_key)
    assert run["report_uri"] == store.uri(dataset.report_key)
    assert run["duplicates_removed"] == report["duplicates_removed"] == 0
    assert run["train_tokens"] == report["training"]["train_tokens"] > 0
    assert run["billable_tokens_estimate"] == report["training"]["billable_tokens"] == 3 * run["train_tokens"]
    assert run["n_epochs_estimate"] == report["training"]["n_epochs"] == 3
    assert run["estimated_cost_usd"] == report["cost"]["estimated_usd"] > 0
    assert run["token_encoding"] == "o200k_base"


def test_too_few_examples_raises_and_records_the_counts(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    with pytest.raises(DatasetTooSmall, match="need at least 500 training"):
        prepare(export_rows, store, runs, min_examples=500)
    run = runs.get_run(RUN)
    assert run is not None
    assert run["rows_read"] == 86
    assert run["rejected_rows"] == 6
    assert run["train_examples"] + run["validation_examples"] + run["eval_examples"] == 80
    assert run["rejected_by_reason"][Reason.NOT_DONE] == 3
    # No example file is uploaded for a run that cannot train; the report and the rejections (ids and
    # reason codes, no content) are, so the run record can point at why.
    assert store.keys("runs/") == [dataset_key(RUN, "rejected.ndjson"), dataset_key(RUN, "report.json")]
    assert run["report_uri"] == store.uri(dataset_key(RUN, "report.json"))
    assert store.get_json(dataset_key(RUN, "report.json"))["ok"] is False


def test_no_usable_rows_at_all(store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    with pytest.raises(DatasetTooSmall):
        prepare([{"_malformed": True}, {"_malformed": True}], store, runs)
    run = runs.get_run(RUN)
    assert run is not None
    assert (run["rows_read"], run["rejected_rows"], run["train_examples"]) == (2, 2, 0)


def test_no_eval_example_is_too_small_even_with_enough_training_rows(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    # Keep only rows that land in train: there is nothing to evaluate the tuned model on.
    train_only = [r for r in export_rows if assign_split(r["data_row"]["global_key"], SplitRatios()) == "train"]
    assert len(train_only) >= 10
    with pytest.raises(DatasetTooSmall, match="1 held-out"):
        prepare(train_only, store, runs)


def test_a_malformed_row_is_counted_not_fatal(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    clean = prepare(export_rows, store, runs).counts
    dirty = prepare([{"_malformed": True}, *export_rows, {"_malformed": True}], store, runs)
    assert dirty.counts["rows_read"] == clean["rows_read"] + 2
    assert dirty.counts["rejected"] == clean["rejected"] + 2
    assert {k: dirty.counts[k] for k in ("train", "validation", "eval")} == {
        k: clean[k] for k in ("train", "validation", "eval")
    }
    assert dirty.rejected_by_reason[Reason.INVALID_JSON] == 2


def test_train_and_eval_are_disjoint_by_data_row(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    dataset = prepare(export_rows, store, runs)
    id_by_prompt = {
        r["data_row"]["row_data"].strip(): r["data_row"]["id"] for r in export_rows if r["data_row"]["row_data"]
    }

    def ids(key: str) -> set[str]:
        return {id_by_prompt[line["messages"][1]["content"]] for line in store.read_jsonl(key)}

    train, validation = ids(dataset.train_key), ids(dataset.validation_key)
    held_out = {line["data_row_id"] for line in store.read_jsonl(dataset.eval_key)}
    assert train and validation and held_out
    assert not train & held_out
    assert not validation & held_out
    assert not train & validation
    assert len(train | validation | held_out) == 80


def test_splits_are_stable_when_rows_are_added(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    first = prepare(export_rows[:40], store, runs)
    first_eval = {line["data_row_id"] for line in store.read_jsonl(first.eval_key)}
    second = prepare(export_rows, store, runs)
    second_eval = {line["data_row_id"] for line in store.read_jsonl(second.eval_key)}
    assert first_eval and first_eval <= second_eval


def test_unknown_run_fails_before_writing_anything(export_rows: list[dict[str, Any]]) -> None:
    store = InMemoryObjectStore()
    key = snapshot(store, export_rows)
    with pytest.raises(KeyError):
        prepare_dataset("run-unknown", PROJECT, key, store, InMemoryRunStore(), ProjectConfig(system_prompt=SYSTEM))
    assert store.keys("runs/") == []


def test_an_unparsable_export_line_is_counted_not_fatal(
    tmp_path: Path, store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    lines = EXPORT.read_bytes().splitlines()
    broken = tmp_path / "export.ndjson"
    broken.write_bytes(b"\n".join([lines[0], b'{"data_row": {"id": "cut-off', *lines[1:], b"\xff\xfe"]) + b"\n")
    store.objects[SNAPSHOT] = broken.read_bytes()
    dataset = prepare_dataset(RUN, PROJECT, SNAPSHOT, store, runs, ProjectConfig(system_prompt=SYSTEM))
    assert dataset.counts["rows_read"] == 88
    assert dataset.rejected_by_reason[Reason.INVALID_JSON] == 2
    rejected = {
        r["line_number"]: r for r in store.read_jsonl(dataset.rejected_key) if r["reason"] == Reason.INVALID_JSON
    }
    assert set(rejected) == {2, 88}


def test_every_uploaded_line_passes_the_independent_openai_rules(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore, tmp_path: Path
) -> None:
    from tests.dataset.openai_rules import dataset_problems

    dataset = prepare(export_rows, store, runs)
    for name, key in (("train", dataset.train_key), ("validation", dataset.validation_key), ("eval", dataset.eval_key)):
        (tmp_path / f"{name}.jsonl").write_bytes(store.objects[key])
    assert dataset_problems(tmp_path) == []


def test_the_project_configuration_is_used_whole(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    config = ProjectConfig(
        system_prompt="Two sentences, no personal data.",
        base_model="gpt-4o-mini-2024-07-18",
        hyperparameters=Hyperparameters(n_epochs=2),
        max_tokens_per_example=280,
    )
    dataset = prepare_dataset(RUN, PROJECT, snapshot(store, export_rows), store, runs, config)
    report = store.get_json(dataset.report_key)
    assert report["base_model"] == "gpt-4o-mini-2024-07-18" and report["max_tokens_per_example"] == 280
    assert dataset.rejected_by_reason[Reason.TOO_MANY_TOKENS] > 0
    assert report["training"]["n_epochs"] == 2 and report["cost"]["priced_as"] == "gpt-4o-mini-2024-07-18"
    first = store.read_jsonl(dataset.train_key)[0]
    assert first["messages"][0]["content"] == "Two sentences, no personal data."


def test_duplicate_rows_are_counted_as_rejections_and_on_the_run(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    again = [dict(r, data_row={**r["data_row"], "id": r["data_row"]["id"] + "-2"}) for r in export_rows[:10]]
    dataset = prepare([*export_rows, *again], store, runs)
    run = runs.get_run(RUN)
    assert run is not None
    assert (
        dataset.counts["rows_read"] == 96 == sum(dataset.counts[k] for k in ("train", "validation", "eval", "rejected"))
    )
    assert run["duplicates_removed"] == dataset.rejected_by_reason[Reason.DUPLICATE_EXAMPLE] > 0


def _rows_that_crashed_the_step(template: dict[str, Any]) -> list[Any]:
    """Export rows that each stopped PrepareDataset with a TypeError or RecursionError, and a parsed row
    that is a JSON string (a label source passes json.loads() of each line on)."""
    import copy
    import json

    from labeltune.domain.conversion import CONVERSATIONAL_TYPE, ROW_DATA_ERROR_KEY

    def variant(n: int) -> dict[str, Any]:
        r = copy.deepcopy(template)
        r["data_row"].update(id=f"bad-{n}", global_key=f"bad-{n}")
        return r

    actor_list = variant(1)
    actor_list["data_row"]["row_data"] = json.dumps(
        {
            "type": CONVERSATIONAL_TYPE + ".model-chat-evaluation",
            "actors": {},
            "rootMessageIds": ["m"],
            "messages": {"m": {"actorId": ["a"], "content": "   "}},  # blank: nothing to train on
        }
    )
    error_list = variant(2) | {ROW_DATA_ERROR_KEY: ["row_data_fetch_failed"]}
    deep_json = variant(3)
    deep_json["data_row"]["row_data"] = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    return [actor_list, error_list, deep_json, "", '{"data_row": {"id": "bad-5"}}']


def test_rows_that_crashed_the_step_are_rejected_and_the_run_goes_on(
    export_rows: list[dict[str, Any]], store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    clean = prepare(export_rows, store, runs)
    bad = _rows_that_crashed_the_step(export_rows[0])
    dataset = prepare([*export_rows[:40], *bad, *export_rows[40:]], store, runs)
    assert dataset.counts["rows_read"] == clean.counts["rows_read"] + 5
    assert {k: dataset.counts[k] for k in ("train", "validation", "eval")} == {
        k: clean.counts[k] for k in ("train", "validation", "eval")
    }
    rejected = {r["line_number"]: r for r in store.read_jsonl(dataset.rejected_key)}
    assert [rejected[n] for n in range(41, 46)] == [
        {"data_row_id": "bad-1", "reason": Reason.UNREADABLE_CONVERSATION, "line_number": 41},
        {"data_row_id": "bad-2", "reason": Reason.ROW_DATA_FETCH_FAILED, "line_number": 42},
        {"data_row_id": "bad-3", "reason": Reason.MALFORMED, "line_number": 43},
        {"data_row_id": None, "reason": Reason.MALFORMED, "line_number": 44},  # "" is a row, not a blank line
        {"data_row_id": None, "reason": Reason.MALFORMED, "line_number": 45},  # a string, not the row it holds
    ]


def test_a_failing_upload_fails_the_step(export_rows: list[dict[str, Any]], runs: InMemoryRunStore) -> None:
    class FullStore(InMemoryObjectStore):
        def upload_file(self, key: str, path: Path) -> str:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        prepare(export_rows, FullStore(), runs)

"""One export row -> one chat example or one rejection with a reason code (REFERENCE.md section 3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from labeltune.domain.conversion import FieldMapping, Reason, convert_row
from labeltune.domain.models import ChatExample, Rejection

PROJECT = "clx-project-1"
SYSTEM = "Summarise the support chat without personal data."
CHAT = "Ann Lee: Hi, my order ORD-123456 never arrived.\nBob Stone: Sorry Ann, I will resend it."
SUMMARY = "Order did not arrive; agent resent it."
EXPORT = Path(__file__).resolve().parents[2] / "examples" / "labelbox_export.ndjson"


def text(name: str, content: Any, schema_id: str | None = None) -> dict[str, Any]:
    return {
        "feature_id": f"feat-{name}",
        "feature_schema_id": schema_id or f"fs-{name}",
        "name": name,
        "value": name,
        "text_answer": {"content": content},
    }


def radio(name: str, answer: str) -> dict[str, Any]:
    return {
        "feature_id": f"feat-{name}",
        "feature_schema_id": f"fs-{name}",
        "name": name,
        "value": name,
        "radio_answer": {"name": answer, "value": answer, "feature_schema_id": f"fs-{answer}"},
    }


def label(
    *classifications: dict[str, Any],
    label_id: str = "lbl-1",
    created: str = "2026-03-02T10:00:00.000+00:00",
    updated: str | None = None,
) -> dict[str, Any]:
    return {
        "id": label_id,
        "label_kind": "Default",
        "label_details": {
            "created_at": created,
            "updated_at": updated or created,
            "created_by": "a@b.c",
            "reviews": [],
        },
        "annotations": {"objects": [], "relationships": [], "classifications": list(classifications)},
    }


def row(
    labels: list[dict[str, Any]] | None = None,
    *,
    row_data: Any = CHAT,
    status: str = "DONE",
    data_row_id: str = "dr-1",
    global_key: str | None = "chat-0001",
    project: str = PROJECT,
) -> dict[str, Any]:
    data_row: dict[str, Any] = {"id": data_row_id, "external_id": "chat.txt", "row_data": row_data}
    if global_key is not None:
        data_row["global_key"] = global_key
    return {
        "data_row": data_row,
        "media_attributes": {"mime_type": "text/plain"},
        "projects": {
            project: {
                "name": "Summaries",
                "labels": [label(text("summary", SUMMARY))] if labels is None else labels,
                "project_details": {"batch_id": "b-1", "workflow_status": status, "workflow_history": []},
            }
        },
    }


def convert(r: Any, mapping: FieldMapping | None = None) -> ChatExample | Rejection:
    return convert_row(r, PROJECT, mapping or FieldMapping(), SYSTEM)


def rejected(result: ChatExample | Rejection, reason: str) -> bool:
    return isinstance(result, Rejection) and result.reason == reason


# --- success -------------------------------------------------------------------------------------


def test_text_project_with_default_mapping() -> None:
    result = convert(row())
    assert result == ChatExample(
        data_row_id="dr-1", split_key="chat-0001", label_id="lbl-1", system=SYSTEM, prompt=CHAT, response=SUMMARY
    )


def test_other_classification_kinds_do_not_make_the_response_ambiguous() -> None:
    result = convert(row([label(radio("sentiment", "negative"), text("summary", SUMMARY))]))
    assert isinstance(result, ChatExample)
    assert result.response == SUMMARY


def test_prompt_and_response_are_stripped() -> None:
    result = convert(row([label(text("summary", f"  {SUMMARY}\n"))], row_data=f"\n{CHAT}  \n"))
    assert isinstance(result, ChatExample)
    assert (result.prompt, result.response) == (CHAT, SUMMARY)


@pytest.mark.parametrize("wanted", ["summary", "fs-summary-v2"], ids=["by-name", "by-feature-schema-id"])
def test_explicit_response_mapping(wanted: str) -> None:
    classifications = (
        text("notes", "internal notes, not the answer"),
        text("summary", SUMMARY, schema_id="fs-summary-v2"),
    )
    r = row([label(*classifications)])
    assert rejected(convert(r), Reason.AMBIGUOUS_RESPONSE)  # without a mapping, two free-text answers
    result = convert(r, FieldMapping(response_classification=wanted))
    assert isinstance(result, ChatExample)
    assert result.response == SUMMARY


def test_explicit_response_mapping_that_matches_nothing_is_missing_response() -> None:
    assert rejected(convert(row(), FieldMapping(response_classification="answer")), Reason.NO_RESPONSE)


def test_legacy_prompt_response_project() -> None:
    legacy = row(
        [
            label(
                text("prompt-text", "  Write a haiku about autumn. "), text("response-text", "Leaves fall softly down")
            )
        ],
        row_data="",
    )
    for mapping in (
        FieldMapping(prompt_from="prompt-text", response_classification="response-text"),
        FieldMapping(prompt_from="prompt-text"),  # the remaining free-text classification is the response
        FieldMapping(prompt_from="fs-prompt-text", response_classification="fs-response-text"),
    ):
        result = convert(legacy, mapping)
        assert isinstance(result, ChatExample), mapping
        assert (result.prompt, result.response) == ("Write a haiku about autumn.", "Leaves fall softly down")


def test_latest_label_by_updated_at_wins() -> None:
    labels = [
        label(text("summary", "first draft"), label_id="lbl-a", created="2026-03-01T09:00:00.000+00:00"),
        label(
            text("summary", "reworked"),
            label_id="lbl-b",
            created="2026-03-01T08:00:00.000+00:00",
            updated="2026-03-03T08:00:00.000+00:00",
        ),
        label(
            text("summary", "second"),
            label_id="lbl-c",
            created="2026-03-02T09:00:00.000+00:00",
            updated="2026-03-02T10:00:00.000+00:00",
        ),
    ]
    for ordering in (labels, list(reversed(labels))):
        result = convert(row(ordering))
        assert isinstance(result, ChatExample)
        assert (result.label_id, result.response) == ("lbl-b", "reworked")


def test_label_without_updated_at_falls_back_to_created_at() -> None:
    older = label(text("summary", "older"), label_id="old", created="2026-03-01T00:00:00.000+00:00")
    newer = label(text("summary", "newer"), label_id="new", created="2026-03-05T00:00:00.000+00:00")
    del newer["label_details"]["updated_at"]
    result = convert(row([older, newer]))
    assert isinstance(result, ChatExample)
    assert result.label_id == "new"


def test_global_key_is_the_split_key() -> None:
    result = convert(row(global_key="chat-0042"))
    assert isinstance(result, ChatExample)
    assert (result.data_row_id, result.split_key) == ("dr-1", "chat-0042")


@pytest.mark.parametrize("global_key", [None, ""], ids=["absent", "empty"])
def test_split_key_falls_back_to_data_row_id(global_key: str | None) -> None:
    r = row(global_key=None)
    if global_key is not None:
        r["data_row"]["global_key"] = global_key
    result = convert(r)
    assert isinstance(result, ChatExample)
    assert result.split_key == "dr-1"


def test_to_openai_line_shape() -> None:
    result = convert(row())
    assert isinstance(result, ChatExample)
    line = result.to_openai_line()
    assert line == {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": CHAT},
            {"role": "assistant", "content": SUMMARY},
        ]
    }
    assert json.loads(json.dumps(line)) == line  # plain JSON, nothing pydantic-specific left in it


def test_a_multi_line_text_starting_with_a_url_is_not_a_url() -> None:
    chat = "https://status.example.com was down\nAnn Lee: is it back?"
    result = convert(row(row_data=chat))
    assert isinstance(result, ChatExample)
    assert result.prompt == chat


def test_the_input_row_is_not_modified() -> None:
    r = row([label(text("summary", SUMMARY)), label(text("summary", "x"), label_id="l2")])
    before = copy.deepcopy(r)
    convert(r)
    assert r == before


# --- every rejection reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [None, [], "text", 42, {}, {"_malformed": True}, {"data_row": "dr-1"}, {"data_row": {}}, {"data_row": {"id": ""}}],
    ids=["none", "list", "str", "int", "empty", "marker", "data-row-str", "no-id", "empty-id"],
)
def test_malformed(bad: Any) -> None:
    assert convert(bad) == Rejection(data_row_id=None, reason=Reason.MALFORMED)


def test_not_in_project() -> None:
    assert convert(row(project="another-project")) == Rejection(data_row_id="dr-1", reason=Reason.NOT_IN_PROJECT)
    no_projects = row()
    del no_projects["projects"]
    assert rejected(convert(no_projects), Reason.NOT_IN_PROJECT)


@pytest.mark.parametrize("status", ["IN_REVIEW", "IN_REWORK", "TO_LABEL", "", "SKIPPED"])
def test_not_done(status: str) -> None:
    assert convert(row(status=status)) == Rejection(data_row_id="dr-1", reason=Reason.NOT_DONE)


def test_not_done_when_project_details_are_missing() -> None:
    r = row()
    del r["projects"][PROJECT]["project_details"]
    assert rejected(convert(r), Reason.NOT_DONE)


def test_done_in_another_case_is_done() -> None:
    assert isinstance(convert(row(status="Done")), ChatExample)


@pytest.mark.parametrize("labels", [[], None, ["not-a-label"]], ids=["empty", "null", "junk"])
def test_no_label(labels: Any) -> None:
    r = row()
    r["projects"][PROJECT]["labels"] = labels
    assert convert(r) == Rejection(data_row_id="dr-1", reason=Reason.NO_LABEL)


def test_missing_response() -> None:
    assert rejected(convert(row([label()])), Reason.NO_RESPONSE)
    assert rejected(convert(row([label(radio("sentiment", "neutral"))])), Reason.NO_RESPONSE)


def test_missing_response_uses_the_latest_label_even_if_an_older_one_had_it() -> None:
    labels = [
        label(text("summary", SUMMARY), label_id="old", created="2026-03-01T00:00:00.000+00:00"),
        label(label_id="new", created="2026-03-02T00:00:00.000+00:00"),
    ]
    assert rejected(convert(row(labels)), Reason.NO_RESPONSE)


def test_ambiguous_response_with_two_free_text_classifications() -> None:
    r = row([label(text("summary", SUMMARY), text("notes", "other text"))])
    assert convert(r) == Rejection(data_row_id="dr-1", reason=Reason.AMBIGUOUS_RESPONSE)


@pytest.mark.parametrize("content", ["", "   \n\t", None])
def test_empty_response(content: Any) -> None:
    assert rejected(convert(row([label(text("summary", content))])), Reason.EMPTY_RESPONSE)


def test_missing_prompt_in_row_data() -> None:
    r = row()
    del r["data_row"]["row_data"]
    assert rejected(convert(r), Reason.NO_PROMPT)
    assert rejected(convert(row(row_data=None)), Reason.NO_PROMPT)


def test_missing_prompt_classification_in_legacy_project() -> None:
    r = row([label(text("response-text", "an answer"))], row_data="")
    mapping = FieldMapping(prompt_from="prompt-text", response_classification="response-text")
    assert rejected(convert(r, mapping), Reason.NO_PROMPT)


@pytest.mark.parametrize("prompt", ["", "  \n "])
def test_empty_prompt(prompt: str) -> None:
    assert rejected(convert(row(row_data=prompt)), Reason.EMPTY_PROMPT)


@pytest.mark.parametrize(
    "url", ["https://storage.example.com/chats/chat-0001.txt", "http://example.com/a.txt", "https://x.example/a.txt\n"]
)
def test_prompt_is_url(url: str) -> None:
    # Text rows may be stored as a URL to the text: training on the URL would be silently wrong.
    assert convert(row(row_data=url)) == Rejection(data_row_id="dr-1", reason=Reason.PROMPT_IS_URL)


# --- malformed shapes never raise ---------------------------------------------------------------


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    r = row()
    target: Any = r
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return r


@pytest.mark.parametrize(
    "bad,reason",
    [
        (_set(["projects"], ["clx-project-1"]), Reason.NOT_IN_PROJECT),
        (_set(["projects", PROJECT, "project_details"], "DONE"), Reason.NOT_DONE),
        (_set(["projects", PROJECT, "labels"], "lbl-1"), Reason.NO_LABEL),
        (_set(["projects", PROJECT, "labels", 0, "annotations"], ["summary"]), Reason.NO_RESPONSE),
        (_set(["projects", PROJECT, "labels", 0, "annotations", "classifications"], ["summary"]), Reason.NO_RESPONSE),
        (
            _set(["projects", PROJECT, "labels", 0, "annotations", "classifications"], {"summary": 1}),
            Reason.NO_RESPONSE,
        ),
    ],
    ids=[
        "projects-list",
        "details-str",
        "labels-str",
        "annotations-list",
        "classification-str",
        "classifications-dict",
    ],
)
def test_wrongly_typed_fields_are_rejected_not_raised(bad: dict[str, Any], reason: str) -> None:
    # convert_row promises never to raise on bad data: one odd row must not fail the whole prepare step.
    # A wrongly typed field reads as a missing one.
    assert convert(bad) == Rejection(data_row_id="dr-1", reason=reason)


def test_wrongly_typed_label_details_only_lose_the_label_ordering() -> None:
    # label_details only decide between labels: a lone label is still usable.
    result = convert(_set(["projects", PROJECT, "labels", 0, "label_details"], "yesterday"))
    assert isinstance(result, ChatExample)
    assert result.response == SUMMARY


# --- the committed sample export ----------------------------------------------------------------


def test_the_sample_export_converts_as_documented() -> None:
    rows = [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines()]
    results = {
        r["data_row"]["global_key"]: convert_row(r, "clx-support-summaries-demo", FieldMapping(), SYSTEM) for r in rows
    }
    reasons = {key: result.reason for key, result in results.items() if isinstance(result, Rejection)}
    assert reasons == {
        "chat-bad-no-labels": Reason.NO_LABEL,
        "chat-bad-to-label": Reason.NOT_DONE,
        "chat-bad-empty-summary": Reason.EMPTY_RESPONSE,
        "chat-bad-in-review": Reason.NOT_DONE,
        "chat-bad-in-rework": Reason.NOT_DONE,
        "chat-bad-no-summary-classification": Reason.NO_RESPONSE,
    }
    assert sum(isinstance(result, ChatExample) for result in results.values()) == 80

"""One export row -> one chat example or one rejection with a reason code (REFERENCE.md section 3)."""

from __future__ import annotations

import copy
import json
import random
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
    [None, [], "text", 42, {}, {"data_row": "dr-1"}, {"data_row": {}}, {"data_row": {"id": ""}}],
    ids=["none", "list", "str", "int", "empty", "data-row-str", "no-id", "empty-id"],
)
def test_malformed(bad: Any) -> None:
    assert convert(bad) == Rejection(data_row_id=None, reason=Reason.MALFORMED)


def test_the_label_sources_marker_for_an_unparsable_line_is_invalid_json() -> None:
    assert convert({"_malformed": True}) == Rejection(data_row_id=None, reason=Reason.INVALID_JSON)


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


@pytest.mark.parametrize(
    "uri",
    [
        "gs://acme-support/chats/chat-0001.txt",  # Google Cloud delegated access
        "s3://acme-support/chats/chat-0001.txt",
        "  S3://Bucket/key.txt \n",
        "az://container/blob.txt",
    ],
)
def test_a_storage_uri_is_never_trained_on_as_the_chat(uri: str) -> None:
    """row_data of gs://... or s3://... was trained on as if the path were the chat."""
    assert convert(row(row_data=uri)) == Rejection(data_row_id="dr-1", reason=Reason.ROW_DATA_STORAGE_URI)


@pytest.mark.parametrize(
    "text",
    ["see https://example.com/help for details", "Agent: try s3://bucket/key\nCustomer: thanks", "ratio 3://4"],
)
def test_text_that_mentions_a_uri_is_still_text(text: str) -> None:
    assert not isinstance(convert(row(row_data=text)), Rejection)


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


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = _deep(50_000)  # str() or repr() of it raises RecursionError; as a dict key it raises TypeError


@pytest.mark.parametrize(
    "path,value,reason",
    [
        # values that the converter used as dictionary keys or turned into text, and crashed on
        (["_row_data_error"], ["row_data_fetch_failed"], Reason.ROW_DATA_FETCH_FAILED),
        (["_row_data_error"], {"code": "row_data_too_large"}, Reason.ROW_DATA_FETCH_FAILED),
        (["data_row", "id"], ["dr-1"], Reason.MALFORMED),
        (["data_row", "id"], DEEP, Reason.MALFORMED),
        (["data_row", "id"], 42, Reason.MALFORMED),
        (["data_row", "id"], "dr\x00-1", Reason.MALFORMED),  # written to rejected.ndjson and eval.jsonl
        (["data_row", "id"], "dr-\ud800", Reason.MALFORMED),  # no UTF-8 encoder writes it
        (["projects", PROJECT, "project_details", "workflow_status"], DEEP, Reason.NOT_DONE),
        (["projects", PROJECT, "project_details", "workflow_status"], ["DONE"], Reason.NOT_DONE),
        (
            ["projects", PROJECT, "labels", 0, "annotations", "classifications", 0, "text_answer", "content"],
            DEEP,
            Reason.MALFORMED,
        ),
        (
            ["projects", PROJECT, "labels", 0, "annotations", "classifications", 0, "text_answer", "content"],
            42,
            Reason.MALFORMED,
        ),
        (
            ["projects", PROJECT, "labels", 0, "annotations", "classifications", 0, "text_answer", "content"],
            {"text": SUMMARY},
            Reason.MALFORMED,
        ),
        (["data_row", "row_data"], DEEP, Reason.MALFORMED),
        (["data_row", "row_data"], '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", Reason.MALFORMED),
    ],
    ids=[
        "fetch-error-list",
        "fetch-error-dict",
        "id-list",
        "id-deep",
        "id-int",
        "id-null-byte",
        "id-lone-surrogate",
        "status-deep",
        "status-list",
        "response-deep",
        "response-int",
        "response-dict",
        "row-data-deep-list",
        "row-data-deeply-nested-json",
    ],
)
def test_values_of_the_wrong_type_are_rejected_not_raised(path: list[Any], value: Any, reason: str) -> None:
    # Each of these crashed the whole PrepareDataset step (TypeError, RecursionError) or, for ids, would
    # have crashed the writer of eval.jsonl; a row that cannot be read is rejected, with its id if usable.
    result = convert(_set(path, value))
    assert rejected(result, reason), result
    assert result.data_row_id == (None if path == ["data_row", "id"] else "dr-1")


def test_a_v2_conversation_whose_actor_id_is_not_a_string_keeps_the_default_speaker() -> None:
    # actorId was used as a dictionary key: a list there raised TypeError (unhashable).
    conversation = copy.deepcopy(CONVERSATIONAL_V2)
    conversation["messages"]["m1"]["actorId"] = ["a-human"]
    conversation["messages"]["m2"]["actorId"] = {"id": "a-model"}
    result = convert(row(row_data=json.dumps(conversation)))
    assert isinstance(result, ChatExample)
    assert result.prompt == "Speaker: Where is my parcel?\nSpeaker: It ships today."


def test_a_legacy_prompt_classification_of_the_wrong_type_is_malformed() -> None:
    mapping = FieldMapping(prompt_from="prompt-text", response_classification="response-text")
    r = row([label(text("prompt-text", ["a", "list"]), text("response-text", "an answer"))], row_data="")
    assert convert(r, mapping) == Rejection(data_row_id="dr-1", reason=Reason.MALFORMED)


def test_wrongly_typed_keys_and_dates_read_as_missing() -> None:
    # global_key: the split falls back to the data row id; label id: empty; label dates: no ordering.
    r = _set(["data_row", "global_key"], DEEP)
    r["projects"][PROJECT]["labels"][0]["id"] = DEEP
    r["projects"][PROJECT]["labels"].append(label(text("summary", "Older summary."), label_id="old"))
    r["projects"][PROJECT]["labels"][1]["label_details"] = {"updated_at": DEEP, "created_at": [1]}
    result = convert(r)
    assert isinstance(result, ChatExample)
    assert (result.split_key, result.label_id, result.response) == ("dr-1", "", SUMMARY)


def test_data_row_id_of_never_raises() -> None:
    from labeltune.domain.conversion import data_row_id_of

    class Exploding(dict[str, Any]):
        def get(self, *args: Any) -> Any:
            raise RuntimeError("boom")

    assert data_row_id_of(row()) == "dr-1"
    bad: Any
    for bad in (None, [], DEEP, {"data_row": DEEP}, {"data_row": {"id": DEEP}}, Exploding()):
        assert data_row_id_of(bad) is None


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


# --- text hygiene --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chat,reason",
    [
        ("Ann Lee: \ud83d half an emoji", Reason.INVALID_UTF8),
        ("Ann Lee: caf\ufffd", Reason.INVALID_UTF8),
        ("Ann Lee: bell\x07", Reason.CONTROL_CHARACTERS),
        ("Ann Lee: form\x0cfeed", Reason.CONTROL_CHARACTERS),
        ("Ann Lee: del\x7f", Reason.CONTROL_CHARACTERS),
        ("Ann Lee: \u00e9t\u00e9 \x9d", Reason.CONTROL_CHARACTERS),  # a C1 control among Latin-1 letters
    ],
)
def test_garbage_text_in_the_prompt(chat: str, reason: str) -> None:
    assert convert(row(row_data=chat)) == Rejection(data_row_id="dr-1", reason=reason)


def test_garbage_text_in_the_response() -> None:
    assert rejected(convert(row([label(text("summary", "fine\x00"))])), Reason.CONTROL_CHARACTERS)


def test_clean_unicode_is_kept() -> None:
    chat = "Zoë Müller: 注文が届きません 🙂\tthanks\r\nBob: \u2028ok"
    result = convert(row(row_data=chat))
    assert isinstance(result, ChatExample) and result.prompt == chat


def test_text_defect_on_ascii_and_unicode_paths() -> None:
    from labeltune.domain.conversion import text_defect

    for clean in ("", "plain ascii\twith\nbreaks\r", "ünïcödé\n", "🙂"):
        assert text_defect(clean) is None, clean
    for control in ("\x00", "a\x1fb", "é\x1f", "\x7f", "é\x80"):
        assert text_defect(control) == Reason.CONTROL_CHARACTERS, repr(control)
    for broken in ("\ud800", "é\udfff", "\ufffd"):
        assert text_defect(broken) == Reason.INVALID_UTF8, repr(broken)


def test_text_defect_of_ascii_text_is_the_general_rule() -> None:
    # text_defect() has a shortcut for ASCII text (kept for the builder's throughput): the regex's answer.
    from labeltune.domain.conversion import _GARBAGE, text_defect

    for code in range(0x80):
        for text in (chr(code), f"ab{chr(code)}cd"):
            expected = Reason.CONTROL_CHARACTERS if _GARBAGE.search(text) else None
            assert text_defect(text) == expected, repr(text)


def test_normalise_of_ascii_text_is_the_general_rule() -> None:
    # normalise() has a shortcut for ASCII text (kept for the builder's throughput): the same bytes as the rule.
    from labeltune.domain.conversion import normalise

    alphabet = [chr(c) for c in range(0x80)]
    rng = random.Random(12)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 10)))
        assert normalise(text) == "".join(text.casefold().split()).encode("utf-8"), repr(text)


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda: row([], status="IN_REVIEW"), Reason.NOT_DONE),
        (lambda: row([label(text("summary", SUMMARY), text("notes", "x"))], row_data=None), Reason.AMBIGUOUS_RESPONSE),
        (lambda: row([label(text("summary", " "))], row_data="https://x.example/chat.txt"), Reason.EMPTY_RESPONSE),
        (lambda: row([label(text("summary", "ok\x07"))], row_data="gs://bucket/chat.txt"), Reason.ROW_DATA_STORAGE_URI),
        (lambda: row([label(text("summary", "ok\x07"))], row_data="Ann: caf\ufffd"), Reason.INVALID_UTF8),
        (lambda: row([label(text("summary", "caf\ufffd"))], row_data="Ann: \x07"), Reason.CONTROL_CHARACTERS),
        (lambda: row([label(text("summary", 42))], row_data=None), Reason.MALFORMED),
    ],
    ids=[
        "not-done-before-no-label",
        "ambiguous-before-missing-prompt",
        "empty-response-before-url",
        "storage-uri-before-hygiene",
        "prompt-hygiene-before-response-hygiene",
        "prompt-hygiene-before-response-hygiene-2",
        "non-text-answer-before-missing-prompt",
    ],
)
def test_a_row_failing_several_checks_gets_the_first_ones_code(make: Any, reason: str) -> None:
    assert convert(make()) == Rejection(data_row_id="dr-1", reason=reason)


# --- row_data fetched by the export stage --------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        Reason.ROW_DATA_URL_SCHEME,
        Reason.ROW_DATA_FETCH_TIMEOUT,
        Reason.ROW_DATA_FETCH_FAILED,
        Reason.ROW_DATA_TOO_LARGE,
        Reason.ROW_DATA_NOT_UTF8,
    ],
)
def test_a_row_data_fetch_failure_is_the_rows_reason(code: str) -> None:
    from labeltune.domain.conversion import ROW_DATA_ERROR_KEY

    r = row(row_data="https://files.example.com/chat.txt")
    r[ROW_DATA_ERROR_KEY] = code
    assert convert(r) == Rejection(data_row_id="dr-1", reason=code)
    r[ROW_DATA_ERROR_KEY] = "something_new"
    assert convert(r) == Rejection(data_row_id="dr-1", reason=Reason.ROW_DATA_FETCH_FAILED)


# --- Labelbox conversational rows ----------------------------------------------------------------

CONVERSATIONAL_V1 = {
    "type": "application/vnd.labelbox.conversational",
    "version": 1,
    "messages": [
        {
            "messageId": "message-0",
            "timestampUsec": 1530718491,
            "content": "Hi, my order ORD-123456 never arrived.",
            "user": {"userId": "customer-1", "name": "Ann Lee"},
            "align": "left",
            "canLabel": True,
        },
        {
            "messageId": "message-1",
            "timestampUsec": 1530718499,
            "content": "  Sorry Ann,\nI will resend it.  ",
            "user": {"userId": "agent-7"},
            "align": "right",
            "canLabel": True,
        },
        {"messageId": "message-2", "content": "   ", "user": {"userId": "customer-1", "name": "Ann Lee"}},
    ],
    "modelOutputs": [{"title": "Response 1", "content": "not part of the chat", "modelConfigName": "m"}],
}
CONVERSATIONAL_V2: dict[str, Any] = {
    "type": "application/vnd.labelbox.conversational.model-chat-evaluation",
    "version": 2,
    "actors": {
        "a-human": {"role": "human", "metadata": {"name": "Ann Lee"}},
        "a-model": {"role": "model", "metadata": {"modelConfigName": "support-bot"}},
    },
    "messages": {
        "m1": {
            "actorId": "a-human",
            "content": [{"type": "text", "content": "Where is my parcel?"}],
            "childMessageIds": ["m2"],
        },
        "m2": {
            "actorId": "a-model",
            "content": [{"type": "text", "content": "It ships today."}],
            "childMessageIds": [],
        },
    },
    "rootMessageIds": ["m1"],
}


def test_conversational_v1_as_a_json_string_is_a_transcript() -> None:
    # Labelbox exports a conversational data row's row_data as a JSON *string*.
    result = convert(row(row_data=json.dumps(CONVERSATIONAL_V1)))
    assert isinstance(result, ChatExample)
    assert result.prompt == "Ann Lee: Hi, my order ORD-123456 never arrived.\nagent-7: Sorry Ann,\nI will resend it."


def test_conversational_v1_as_an_object_and_without_its_type() -> None:
    untyped = {k: v for k, v in CONVERSATIONAL_V1.items() if k != "type"}
    for row_data in (CONVERSATIONAL_V1, json.dumps(untyped)):
        result = convert(row(row_data=row_data))
        assert isinstance(result, ChatExample) and result.prompt.startswith("Ann Lee: Hi,")


def test_conversational_v2_linear_chat() -> None:
    result = convert(row(row_data=json.dumps(CONVERSATIONAL_V2)))
    assert isinstance(result, ChatExample)
    assert result.prompt == "Ann Lee: Where is my parcel?\nsupport-bot: It ships today."


def test_the_speaker_names_of_a_conversation_are_found_as_pii() -> None:
    from labeltune.domain.pii import NAME, extract_pii

    result = convert(row(row_data=json.dumps(CONVERSATIONAL_V1)))
    assert isinstance(result, ChatExample)
    assert {"Ann Lee", "Ann", "Lee"} <= extract_pii(result.prompt)[NAME]


@pytest.mark.parametrize(
    "conversation",
    [
        {"type": "application/vnd.labelbox.conversational", "messages": "nope"},
        {"type": "application/vnd.labelbox.conversational", "messages": []},
        {"type": "application/vnd.labelbox.conversational", "messages": [{"content": 3, "user": {}}]},
        {"type": "application/vnd.labelbox.conversational", "messages": [{"content": " ", "user": {}}]},
        {
            **CONVERSATIONAL_V2,
            "messages": {
                **CONVERSATIONAL_V2["messages"],
                "m1": {**CONVERSATIONAL_V2["messages"]["m1"], "childMessageIds": ["m2", "m3"]},
            },
        },  # a branch: two replies
        {**CONVERSATIONAL_V2, "rootMessageIds": ["missing"]},
        {**CONVERSATIONAL_V2, "messages": {"m1": {**CONVERSATIONAL_V2["messages"]["m1"], "childMessageIds": ["m1"]}}},
    ],
    ids=["messages-str", "empty", "content-int", "blank", "branching", "dangling-root", "cycle"],
)
def test_unreadable_conversations(conversation: dict[str, Any]) -> None:
    assert convert(row(row_data=json.dumps(conversation))) == Rejection(
        data_row_id="dr-1", reason=Reason.UNREADABLE_CONVERSATION
    )


@pytest.mark.parametrize("chat", ["{not json, just a brace", '{"some": "other json"}', '  {"messages": 5}'])
def test_text_that_merely_looks_like_json_stays_text(chat: str) -> None:
    result = convert(row(row_data=chat))
    assert isinstance(result, ChatExample) and result.prompt == chat.strip()


def test_every_reason_code_is_a_distinct_stable_string() -> None:
    codes = Reason.all()
    assert len(codes) == len(set(codes)) == 27  # 25, and reserved_keyword and over_record_limit for Bedrock
    assert all(code == code.lower() and " " not in code for code in codes)
    assert Reason.MALFORMED == "malformed_row" and Reason.NO_RESPONSE == "missing_response"  # unchanged names
    documented = Reason.__doc__ or ""
    assert all(code in documented for code in codes)


def test_bedrocks_reason_codes_sit_in_check_order() -> None:
    # A row gets the code of the first check it fails: reserved keywords are found before tokens are counted
    # (the rewritten chat is what is counted), and the record limit is the last check of all.
    codes = Reason.all()
    assert (
        codes.index(Reason.DUPLICATE_PROMPT)
        < codes.index(Reason.RESERVED_KEYWORD)
        < codes.index(Reason.TOO_MANY_TOKENS)
    )
    assert codes[-1] == Reason.OVER_RECORD_LIMIT == "over_record_limit"
    assert Reason.RESERVED_KEYWORD == "reserved_keyword"


def _two_label_row(history: list[dict] | None) -> dict:
    def label(label_id: str, updated: str, summary: str) -> dict:
        return {
            "id": label_id,
            "label_details": {"created_at": updated, "updated_at": updated},
            "annotations": {
                "classifications": [{"name": "summary", "value": "summary", "text_answer": {"content": summary}}]
            },
        }

    details: dict = {"workflow_status": "DONE"}
    if history is not None:
        details["workflow_history"] = history
    return {
        "data_row": {"id": "dr-1", "row_data": "Ann Lee: my parcel is late"},
        "projects": {
            "p": {
                "labels": [
                    label("approved", "2026-11-01T10:00:00.000+00:00", "The approved summary."),
                    label("later", "2026-11-02T09:00:00.000+00:00", "A later, unreviewed relabel."),
                ],
                "project_details": details,
            }
        },
    }


def test_the_label_that_reached_done_wins_over_a_later_one() -> None:
    history = [
        {"action": "Submit", "next_task_name": "Review", "created_at": "2026-11-01T09:00:00.000+00:00"},
        {"action": "Approve", "next_task_name": "Done", "created_at": "2026-11-01T11:00:00.000+00:00"},
    ]
    example = convert_row(_two_label_row(history), "p", FieldMapping(), "sys")
    assert isinstance(example, ChatExample) and example.label_id == "approved"


def test_without_workflow_history_the_latest_label_wins() -> None:
    example = convert_row(_two_label_row(None), "p", FieldMapping(), "sys")
    assert isinstance(example, ChatExample) and example.label_id == "later"


def test_a_done_move_older_than_every_label_falls_back_to_the_latest() -> None:
    history = [{"action": "Approve", "next_task_name": "Done", "created_at": "2026-10-01T00:00:00.000+00:00"}]
    example = convert_row(_two_label_row(history), "p", FieldMapping(), "sys")
    assert isinstance(example, ChatExample) and example.label_id == "later"

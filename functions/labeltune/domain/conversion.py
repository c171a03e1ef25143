"""One Labelbox export row -> one chat fine-tuning example, or a rejection with a reason code.

Rules that are easy to get wrong, made explicit here:
- only rows whose workflow status in *this* project is DONE are trained on;
- a row with several labels (rework, consensus) uses the one that reached Done, else the latest (`LABEL_CHOICE_RULE`);
- prompt and response are found by classification name/value or feature schema id, never by position;
- the prompt is the data row's text for Text projects, or a classification for legacy prompt/response projects;
- a data row holding Labelbox conversational JSON (not plain text) is rendered as a "Speaker: text" transcript;
- text that is not clean Unicode (unpaired surrogates, U+FFFD left by a lossy decode, control characters)
  is rejected, never trained on;
- a field of the wrong type reads as missing, and a text of the wrong type (a prompt or response that is not a
  string, row_data JSON nested too deeply to read) makes the row malformed: conversion never raises on data,
  and it never uses a value of unknown type as a dictionary key or turns it into text.

Every reason code a row can be rejected with, here or by the dataset builder, is listed in `Reason`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.models import ChatExample, Rejection
from labeltune.domain.row_data import WEB_SCHEMES, uri_scheme

LABEL_CHOICE_RULE = (
    "the label that reached Done: the latest label (label_details.updated_at, else created_at) written no later "
    "than the row's last move into Done in project_details.workflow_history; without that history, the latest label"
)
DONE = "DONE"


class FieldMapping(BaseModel):
    """Where the prompt and the response live in a project's export."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    prompt_from: str = Field(
        "row_data", min_length=1, max_length=256, description='"row_data", or a classification name / feature schema id'
    )
    response_classification: str | None = Field(
        None, min_length=1, max_length=256, description="None: the row's single free-text classification"
    )


class Reason:
    """Why a row is not in the dataset: stable strings, counted per code in reports and on the run record.

    The one list of reason codes. Each rejected row is written to rejected.ndjson as its data row id (when
    known), its 1-based export line number and one of these codes, never its content. A row gets the code
    of the first check it fails, in this order:

    Reading the line (dataset builder)
      invalid_utf8            the line's bytes are not UTF-8 (and later: a prompt or response holding unpaired
                              surrogates or U+FFFD replacement characters, i.e. bytes already lost upstream)
      invalid_json            the line is not parseable JSON, or nested deeper than the parser goes (an
                              adapter's {"_malformed": true} marker too)
      malformed_row           JSON, but not an export row: no data_row.id of clean text (and later: a prompt or
                              response that is not a string, row_data JSON nested too deeply to read). Also
                              any row whose conversion failed unexpectedly: the dataset builder's per-row
                              guard rejects that one row instead of failing the run
    The row in this project (convert_row)
      not_in_project          the row has no entry for the project being built (another project's row)
      not_done                the row's workflow status in this project is not DONE
      no_label                no label on the row
      ambiguous_response      several free-text classifications and no mapping says which is the response
      missing_response        the chosen (latest) label has no response classification
      empty_response          the response is empty or whitespace only
      row_data_url_scheme     the export stage would not fetch row_data's URL (not https)
      row_data_fetch_timeout  fetching row_data's URL timed out
      row_data_fetch_failed   fetching row_data's URL failed (HTTP error, connection)
      row_data_too_large      row_data's URL holds more text than the fetch limit
      row_data_not_utf8       row_data's URL holds bytes that are not UTF-8 text
      row_data_storage_uri    row_data names a storage object (gs://, s3://, ...) labeltune does not read
      unreadable_conversation row_data is Labelbox conversational JSON without a readable, linear transcript
      missing_prompt          no prompt: no row_data, or no prompt classification (legacy projects)
      empty_prompt            the prompt is empty or whitespace only
      prompt_is_url           row_data is a URL to the text, not the text itself
      control_characters      prompt or response holds control characters (other than tab, CR, LF)
    The example in the dataset (dataset builder)
      duplicate_data_row      a data row already seen earlier in the same export (the first one is kept)
      duplicate_example       the same prompt and response as an earlier kept row, once whitespace and case
                              are normalised away
      duplicate_prompt        the same prompt (chat) as an earlier kept row, with a different response: one
                              chat is never in two splits, whatever its data rows' identities
      reserved_keyword        (Bedrock) the chat, the summary or the system prompt holds a word Amazon Nova
                              reserves (User:, Bot:, Assistant:, System:, Thought:, <image>, <video>, [EOS],
                              <unk>, in any case) that is not a speaker label the builder rewrites
      too_many_tokens         longer than the base model's per-example token limit
      invalid_example         fails the provider's training format checks (a guard: should never happen)
      over_record_limit       (Bedrock) passed every check, but the model's most training + validation records
                              were already kept (the first ones in export order)
    """

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    MALFORMED = "malformed_row"
    NOT_IN_PROJECT = "not_in_project"
    NOT_DONE = "not_done"
    NO_LABEL = "no_label"
    AMBIGUOUS_RESPONSE = "ambiguous_response"
    NO_RESPONSE = "missing_response"
    EMPTY_RESPONSE = "empty_response"
    ROW_DATA_URL_SCHEME = "row_data_url_scheme"
    ROW_DATA_FETCH_TIMEOUT = "row_data_fetch_timeout"
    ROW_DATA_FETCH_FAILED = "row_data_fetch_failed"
    ROW_DATA_TOO_LARGE = "row_data_too_large"
    ROW_DATA_NOT_UTF8 = "row_data_not_utf8"
    ROW_DATA_STORAGE_URI = "row_data_storage_uri"
    UNREADABLE_CONVERSATION = "unreadable_conversation"
    NO_PROMPT = "missing_prompt"
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_IS_URL = "prompt_is_url"
    CONTROL_CHARACTERS = "control_characters"
    DUPLICATE_DATA_ROW = "duplicate_data_row"
    DUPLICATE_EXAMPLE = "duplicate_example"
    DUPLICATE_PROMPT = "duplicate_prompt"
    RESERVED_KEYWORD = "reserved_keyword"
    TOO_MANY_TOKENS = "too_many_tokens"
    INVALID_EXAMPLE = "invalid_example"
    OVER_RECORD_LIMIT = "over_record_limit"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every code, in check order."""
        return tuple(value for name, value in vars(cls).items() if name.isupper())


_MAP = (dict, Mapping)  # dict first: isinstance(x, Mapping) alone costs an ABC check per call, per row

MALFORMED_MARKER_KEY = "_malformed"
"""Export services pass an unparsable export line on as {"_malformed": True}, so it is counted, not fatal."""


def malformed_row() -> dict[str, Any]:
    """The marker row an export service yields for a line it could not parse (rejected as invalid_json)."""
    return {MALFORMED_MARKER_KEY: True}


ROW_DATA_ERROR_KEY = "_row_data_error"
"""Set on a row by the export stage when row_data was a URL it could not fetch; the value is a row_data_* code."""
_ROW_DATA_ERRORS = frozenset(
    {
        Reason.ROW_DATA_URL_SCHEME,
        Reason.ROW_DATA_FETCH_TIMEOUT,
        Reason.ROW_DATA_FETCH_FAILED,
        Reason.ROW_DATA_TOO_LARGE,
        Reason.ROW_DATA_NOT_UTF8,
        Reason.ROW_DATA_STORAGE_URI,
    }
)

CONVERSATIONAL_TYPE = "application/vnd.labelbox.conversational"
"""Labelbox's conversational data row type; version 2 is `...conversational.model-chat-evaluation`."""


# Characters that make a text garbage rather than language: C0 controls except tab, LF and CR; DEL; C1
# controls (typically cp1252 bytes decoded as Latin-1); unpaired surrogates (JSON "\ud800" escapes that
# no UTF-8 encoder accepts); U+FFFD, which a lossy decode leaves where bytes were lost.
_GARBAGE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")
_NOT_UNICODE = re.compile("[\ud800-\udfff\ufffd]")


# The ASCII characters str.split() takes for whitespace.
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def normalise(text: str) -> bytes:
    """The text with all whitespace removed and Unicode case-folded, as UTF-8: what deduplication compares
    (see labeltune.dataset.dedupe). Removing whitespace rather than collapsing runs of it to one space is the
    stricter normalisation: it also merges texts that differ only where a space is."""
    if text.isascii():
        # The general rule's bytes (for ASCII, casefold() is lower() and str.split() splits at
        # _ASCII_WHITESPACE) without building a list of words. Kept for the dataset builder's throughput
        # floor (benchmarks/README.md): without it the builder measured below 0.6 of the bare pass.
        return text.lower().encode("ascii").translate(None, _ASCII_WHITESPACE)
    return "".join(text.casefold().split()).encode("utf-8")


# The ASCII characters of _GARBAGE: the C0 controls but tab, LF and CR, and DEL.
_ASCII_CONTROLS = bytes(c for c in range(0x20) if c not in b"\t\n\r") + b"\x7f"


def text_defect(text: str) -> str | None:
    """The reason code for a text that is not clean Unicode, or None for a clean one."""
    if text.isascii():
        # The regex's answer (ASCII holds no surrogate and no U+FFFD: only a control character can be wrong)
        # at a third of its cost. Kept, like normalise's ASCII case, for the dataset builder's throughput
        # floor (benchmarks/README.md): with the regex alone the builder measured 0.54 to 0.64 of the bare pass.
        has_control = len(text.encode("ascii").translate(None, _ASCII_CONTROLS)) < len(text)
        return Reason.CONTROL_CHARACTERS if has_control else None
    if _GARBAGE.search(text) is None:
        return None
    return Reason.INVALID_UTF8 if _NOT_UNICODE.search(text) else Reason.CONTROL_CHARACTERS


def _checked_normal_form(text: str) -> bytes | str:
    """normalise(text) when the text is clean, else the reason code of its defect (`text_defect`)."""
    return text_defect(text) or normalise(text)


class _Rejected(Exception):
    """Raised by a step of `extract_example` when the row fails that step's check; carries the reason code.

    The steps raise rather than return a code so that each one returns only what it found, and
    `extract_example` reads as the checks in their order."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one: a wrongly typed field reads as missing."""
    return value if isinstance(value, _MAP) else {}


def _string(value: Any) -> str:
    """`value` when it is a string, else "": a wrongly typed field reads as missing (never str() of a
    container, which could be anything, as large or as deeply nested as the row)."""
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text_classifications(label: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The label's free-text classifications (those with a `text_answer` object), in export order."""
    annotations = label.get("annotations")
    classifications = annotations.get("classifications") if isinstance(annotations, _MAP) else None
    if not isinstance(classifications, list):
        return []
    return [c for c in classifications if isinstance(c, _MAP) and isinstance(c.get("text_answer"), _MAP)]


def _matches(classification: Mapping[str, Any], wanted: str) -> bool:
    return wanted in (classification.get("name"), classification.get("value"), classification.get("feature_schema_id"))


def _recency(label: Mapping[str, Any]) -> str:
    details = _mapping(label.get("label_details"))
    return _string(details.get("updated_at")) or _string(details.get("created_at"))


def _reached_done_at(details: Any) -> str:
    """When the row last moved into Done, from `project_details.workflow_history` ("" when unknown).

    Labelbox does not document the entries; they carry an action, the task moved to and a timestamp.
    An entry counts when it names Done as where the row went (or is an approval without a target)."""
    history = details.get("workflow_history") if isinstance(details, _MAP) else None
    latest = ""
    for entry in _list(history):
        if not isinstance(entry, _MAP):
            continue
        target = _string(entry.get("next_task_name") or entry.get("to") or entry.get("next_workflow_status"))
        action = _string(entry.get("action")).upper()
        into_done = target.upper() in ("DONE", DONE) or (not target and action in ("APPROVE", "APPROVED"))
        stamp = _string(entry.get("created_at"))
        if into_done and stamp > latest:
            latest = stamp
    return latest


def _choose_label(labels: list[Mapping[str, Any]], details: Any) -> Mapping[str, Any]:
    """`LABEL_CHOICE_RULE`: the label that reached Done — the latest one written no later than the row's last
    move into Done (from `details`, the project's project_details) — else (no history, or every label is
    newer) the latest label."""
    if len(labels) == 1:
        return labels[0]
    done_at = _reached_done_at(details)
    if done_at:
        before = [label for label in labels if (_recency(label) or "~") <= done_at]
        if before:
            return max(before, key=_recency)
    return max(labels, key=_recency)


def _answer(classification: Mapping[str, Any]) -> str:
    """A free-text classification's answer: "" when it has none; malformed_row when it is not text."""
    content = classification["text_answer"].get("content")
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    raise _Rejected(Reason.MALFORMED)


def _find_text(classifications: list[Mapping[str, Any]], wanted: str) -> str | None:
    """The answer of the first classification named `wanted` (name, value or feature schema id), else None."""
    for classification in classifications:
        if _matches(classification, wanted):
            return _answer(classification)
    return None


class _Unreadable(Exception):
    """Raised inside the conversation renderer; becomes Reason.UNREADABLE_CONVERSATION."""


def _speaker(user: Any, fallback: str) -> str:
    user = _mapping(user)
    for key in ("name", "userId"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return fallback


def _v1_lines(conversation: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Version 1: an ordered "messages" list of {"content", "user": {"userId", "name"}}."""
    messages = conversation.get("messages")
    if not isinstance(messages, list):
        raise _Unreadable
    lines = []
    for message in messages:
        if not isinstance(message, _MAP) or not isinstance(message.get("content"), str):
            raise _Unreadable
        lines.append((_speaker(message.get("user"), "Speaker"), message["content"]))
    return lines


def _v2_lines(conversation: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Version 2 (model-chat-evaluation): messages keyed by id, linked by rootMessageIds/childMessageIds,
    spoken by "actors". Only a linear conversation is a transcript: a branch (two replies to compare)
    has no single reading, so it is unreadable rather than silently cut to one branch."""
    messages, actors = conversation.get("messages"), _mapping(conversation.get("actors"))
    roots = conversation.get("rootMessageIds")
    if not isinstance(messages, _MAP) or not isinstance(roots, list) or len(roots) != 1:
        raise _Unreadable
    lines: list[tuple[str, str]] = []
    seen: set[str] = set()
    current: Any = roots[0]
    while current is not None:
        message = messages.get(current) if isinstance(current, str) else None
        if not isinstance(message, _MAP) or current in seen:
            raise _Unreadable
        seen.add(current)
        actor_id = message.get("actorId")
        actor = _mapping(actors.get(actor_id)) if isinstance(actor_id, str) else {}
        metadata = _mapping(actor.get("metadata"))
        speaker = next(
            (
                v.strip()
                for v in (metadata.get("name"), metadata.get("modelConfigName"), actor.get("role"))
                if isinstance(v, str) and v.strip()
            ),
            "Speaker",
        )
        parts = message.get("content")
        if isinstance(parts, str):
            text = parts
        elif isinstance(parts, list):
            texts = [_mapping(p).get("content") for p in parts if _mapping(p).get("type", "text") == "text"]
            strings = [t for t in texts if isinstance(t, str)]
            if len(strings) != len(texts):
                raise _Unreadable
            text = "\n".join(strings)
        else:
            raise _Unreadable
        lines.append((speaker, text))
        children = message.get("childMessageIds") or []
        if not isinstance(children, list) or len(children) > 1:
            raise _Unreadable
        current = children[0] if children else None
    return lines


def _as_conversation(row_data: Any) -> Mapping[str, Any] | None:
    """row_data as a Labelbox conversational object, or None when it is plain text. malformed_row when it is
    JSON nested too deeply to parse: it might be a conversation, and it is no chat to train on."""
    if isinstance(row_data, _MAP):
        return row_data
    if not isinstance(row_data, str) or not row_data.lstrip().startswith("{"):
        return None  # plain text, as nearly every chat is (lstrip() copies nothing when there is nothing to strip)
    try:
        parsed = json.loads(row_data)
    except ValueError:
        return None  # text that merely starts with "{"
    except RecursionError:
        raise _Rejected(Reason.MALFORMED) from None
    if not isinstance(parsed, _MAP):
        return None
    kind = parsed.get("type")
    if isinstance(kind, str) and kind.startswith(CONVERSATIONAL_TYPE):
        return parsed
    if kind is None and isinstance(parsed.get("messages"), list):
        return parsed  # version 1 without its type field (older uploads)
    return None  # some other JSON document: trained on as text


def render_conversation(conversation: Mapping[str, Any]) -> str | None:
    """A Labelbox conversational row as a readable transcript, one "Speaker: text" line per message
    (the format of plain-text chats, so PII evaluation finds speaker names the same way). None when
    there is no readable transcript. Model outputs to compare (`modelOutputs`) are not part of it."""
    read = _v2_lines if isinstance(conversation.get("messages"), _MAP) else _v1_lines
    try:
        lines = read(conversation)
    except _Unreadable:
        return None
    lines = [(speaker, text.strip()) for speaker, text in lines if text.strip()]
    if not lines:
        return None
    return "\n".join(f"{speaker}: {text}" for speaker, text in lines)


class ExampleFields(NamedTuple):
    """What a row contributes to its example (the system prompt comes from the configuration), and the
    normal forms of its texts for deduplication (`normalise`), found by the text hygiene step."""

    data_row_id: str
    split_key: str
    label_id: str
    prompt: str
    response: str
    prompt_normal: bytes
    response_normal: bytes


def convert_row(
    row: Mapping[str, Any], project_id: str, mapping: FieldMapping, system_prompt: str
) -> ChatExample | Rejection:
    """Convert one export row. Never raises on bad data: every problem becomes a Rejection."""
    fields = extract_example(row, project_id, mapping)
    if isinstance(fields, Rejection):
        return fields
    return ChatExample(
        data_row_id=fields.data_row_id,
        split_key=fields.split_key,
        label_id=fields.label_id,
        system=system_prompt,
        prompt=fields.prompt,
        response=fields.response,
    )


def _usable_id(value: Any) -> TypeGuard[str]:
    """A data row id is a non-empty string of clean text: it is written to rejected.ndjson and eval.jsonl."""
    return isinstance(value, str) and value != "" and text_defect(value) is None


def data_row_id_of(row: Any) -> str | None:
    """The row's data row id when it has a usable one, else None. Never raises."""
    try:
        data_row = row.get("data_row") if isinstance(row, _MAP) else None
        value = data_row.get("id") if isinstance(data_row, _MAP) else None
    except Exception:  # a Mapping that is not a dict may raise anything from get()
        return None
    return value if _usable_id(value) else None


# --- extract_example, step by step: each step returns what it found or raises _Rejected ----------------


def extract_example(row: Mapping[str, Any], project_id: str, mapping: FieldMapping) -> ExampleFields | Rejection:
    """`convert_row` without building the pydantic model: the dataset builder's per-row path.

    One named step per check, in the order of `Reason`; the row gets the reason code of the first step it
    fails. A rejection names the data row once the row is known to have a usable id."""
    data_row_id: str | None = None
    try:
        data_row, data_row_id = _identify(row)
        project = _project_entry(row, project_id)
        _check_done(project)
        label = _chosen_label(project)
        response = _response(label, mapping)
        prompt = _prompt(row, data_row, label, mapping)
        prompt_normal = _hygienic_normal_form(prompt)
        response_normal = _hygienic_normal_form(response)
    except _Rejected as rejected:
        return Rejection(data_row_id=data_row_id, reason=rejected.reason)
    return ExampleFields(
        data_row_id=data_row_id,
        split_key=_split_key(data_row, data_row_id),
        label_id=_label_id(label),
        prompt=prompt,
        response=response,
        prompt_normal=prompt_normal,
        response_normal=response_normal,
    )


def _identify(row: Any) -> tuple[Mapping[str, Any], str]:
    """The row's data row and its id. Every rejection names its data row, and the id is written to
    rejected.ndjson and eval.jsonl, so a row without a usable one is not an export row (malformed_row); the
    export service's marker for a line it could not parse is invalid_json."""
    data_row: Any = row.get("data_row") if isinstance(row, _MAP) else None
    data_row_id = data_row.get("id") if isinstance(data_row, _MAP) else None
    if _usable_id(data_row_id):
        return data_row, data_row_id
    if data_row is None and isinstance(row, _MAP) and row.get(MALFORMED_MARKER_KEY) is True:
        raise _Rejected(Reason.INVALID_JSON)
    raise _Rejected(Reason.MALFORMED)


def _project_entry(row: Mapping[str, Any], project_id: str) -> Mapping[str, Any]:
    """The row's entry for the project being built: a data row can sit in several projects, and only this
    one's labels and workflow status count (not_in_project)."""
    projects = row.get("projects")
    project = projects.get(project_id) if isinstance(projects, _MAP) else None
    if not isinstance(project, _MAP):
        raise _Rejected(Reason.NOT_IN_PROJECT)
    return project


def _check_done(project: Mapping[str, Any]) -> None:
    """Only rows that are DONE in this project's workflow (in any letter case) are trained on: a row in
    review or rework may still change (not_done)."""
    details = project.get("project_details")
    status = details.get("workflow_status") if isinstance(details, _MAP) else None
    if not (status == DONE or (isinstance(status, str) and status.upper() == DONE)):
        raise _Rejected(Reason.NOT_DONE)


def _chosen_label(project: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one label to train on when rework or consensus left several (`LABEL_CHOICE_RULE`); a row
    without a label has nothing to train on (no_label)."""
    labels = [label for label in _list(project.get("labels")) if isinstance(label, _MAP)]
    if not labels:
        raise _Rejected(Reason.NO_LABEL)
    return _choose_label(labels, project.get("project_details"))


def _response(label: Mapping[str, Any], mapping: FieldMapping) -> str:
    """The assistant's text, stripped, found by classification and never by position: the mapped
    classification, else the label's one free-text answer that is not the prompt. Two such answers are
    ambiguous_response (guessing would train on the wrong text), none is missing_response, a blank one
    empty_response."""
    classifications = _text_classifications(label)
    if mapping.response_classification is None:
        candidates = [c for c in classifications if not _matches(c, mapping.prompt_from)]
        if len(candidates) > 1:
            raise _Rejected(Reason.AMBIGUOUS_RESPONSE)
        response = _answer(candidates[0]) if candidates else None
    else:
        response = _find_text(classifications, mapping.response_classification)
    if response is None:
        raise _Rejected(Reason.NO_RESPONSE)
    response = response.strip()
    if not response:
        raise _Rejected(Reason.EMPTY_RESPONSE)
    return response


def _prompt(
    row: Mapping[str, Any], data_row: Mapping[str, Any], label: Mapping[str, Any], mapping: FieldMapping
) -> str:
    """The user's text, stripped: the data row's text (Text projects) or a classification's answer (legacy
    prompt/response projects). Absent is missing_prompt, blank empty_prompt; a URI is never the chat
    itself: a web URL is prompt_is_url, a storage object (gs://, s3://, ...) row_data_storage_uri."""
    if mapping.prompt_from == "row_data":
        prompt = _row_data_text(row, data_row)
    else:
        prompt = _find_text(_text_classifications(label), mapping.prompt_from)
    if prompt is None:
        raise _Rejected(Reason.NO_PROMPT)
    prompt = prompt.strip()
    if not prompt:
        raise _Rejected(Reason.EMPTY_PROMPT)
    scheme = uri_scheme(prompt)
    if scheme is not None:
        raise _Rejected(Reason.PROMPT_IS_URL if scheme in WEB_SCHEMES else Reason.ROW_DATA_STORAGE_URI)
    return prompt


def _row_data_text(row: Mapping[str, Any], data_row: Mapping[str, Any]) -> str | None:
    """row_data as text (None when absent). The export stage marks a row whose row_data URL it could not
    fetch (its row_data_* code, row_data_fetch_failed when the mark is unknown); Labelbox conversational
    JSON becomes a "Speaker: text" transcript (unreadable_conversation when it has no linear one); any
    other value that is not text is malformed_row."""
    fetch_error = row.get(ROW_DATA_ERROR_KEY)
    if fetch_error is not None:
        known = isinstance(fetch_error, str) and fetch_error in _ROW_DATA_ERRORS
        raise _Rejected(fetch_error if known else Reason.ROW_DATA_FETCH_FAILED)
    row_data = data_row.get("row_data")
    conversation = _as_conversation(row_data)
    if conversation is not None:
        transcript = render_conversation(conversation)
        if transcript is None:
            raise _Rejected(Reason.UNREADABLE_CONVERSATION)
        return transcript
    if row_data is None or isinstance(row_data, str):
        return row_data
    raise _Rejected(Reason.MALFORMED)


def _hygienic_normal_form(text: str) -> bytes:
    """The text's normal form for deduplication (`normalise`), once the text is known to be clean: text
    with control characters, unpaired surrogates or U+FFFD is garbage, never trained on (`text_defect`)."""
    checked = _checked_normal_form(text)
    if isinstance(checked, str):
        raise _Rejected(checked)
    return checked


def _split_key(data_row: Mapping[str, Any], data_row_id: str) -> str:
    """What the split hashes: the global key, which stays with the data in Labelbox, else the data row id."""
    global_key = data_row.get("global_key")
    return global_key if global_key and isinstance(global_key, str) else data_row_id


def _label_id(label: Mapping[str, Any]) -> str:
    """The chosen label's id, for the record ("" when it has none usable)."""
    label_id = label.get("id")
    return label_id if isinstance(label_id, str) else ""

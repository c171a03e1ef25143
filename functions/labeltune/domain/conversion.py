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
      too_many_tokens         longer than the base model's per-example token limit
      invalid_example         fails OpenAI's chat fine-tuning format checks (a guard: should never happen)
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
    TOO_MANY_TOKENS = "too_many_tokens"
    INVALID_EXAMPLE = "invalid_example"

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


def _ascii_control(b: int) -> bool:
    """The ASCII control characters of _GARBAGE: C0 but tab, LF and CR; and DEL."""
    return b < 0x09 or b in (0x0B, 0x0C) or 0x0E <= b < 0x20 or b == 0x7F


# ASCII bytes -> 0 for the control characters of _GARBAGE, 1 for every other byte.
_ASCII_CONTROL_MAP = bytes(0 if _ascii_control(b) else 1 for b in range(256))
# For normalise(): the characters str.split() treats as whitespace in ASCII text, and upper -> lower case.
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_ASCII_LOWER = bytes.maketrans(bytes(range(ord("A"), ord("Z") + 1)), bytes(range(ord("a"), ord("z") + 1)))
# Both in one pass, for ASCII text: lower case, with space, tab, LF and CR deleted and every control character
# of _GARBAGE (the other whitespace controls included) made NUL. A text without NUL in the result is clean,
# and then the result is normalise(text).
_ASCII_FOLD = bytes(0 if _ascii_control(b) else b for b in range(256)).translate(_ASCII_LOWER)
_ASCII_SPACES = b" \t\n\r"


def normalise(text: str) -> bytes:
    """The text with all whitespace removed and Unicode case-folded, as UTF-8: what deduplication compares
    (see labeltune.dataset.dedupe). Removing whitespace rather than collapsing runs of it to one space is the
    stricter normalisation: it also merges texts that differ only where a space is."""
    if text.isascii():  # one translate pass does both (casefold() of ASCII is lower())
        return text.encode("ascii").translate(_ASCII_LOWER, _ASCII_WHITESPACE)
    return "".join(text.casefold().split()).encode("utf-8")


def _checked_normal_form(text: str) -> bytes | str:
    """normalise(text) when text_defect(text) is None, else the defect's reason code: one pass over ASCII."""
    if text.isascii():
        folded = text.encode("ascii").translate(_ASCII_FOLD, _ASCII_SPACES)
        return Reason.CONTROL_CHARACTERS if 0 in folded else folded
    return text_defect(text) or normalise(text)


def text_defect(text: str) -> str | None:
    """The reason code for a text that is not clean Unicode, or None for a clean one."""
    if text.isascii():  # the common case: a table translation and a memchr instead of a regex scan
        return Reason.CONTROL_CHARACTERS if 0 in text.encode("ascii").translate(_ASCII_CONTROL_MAP) else None
    if _GARBAGE.search(text) is None:
        return None
    return Reason.INVALID_UTF8 if _NOT_UNICODE.search(text) else Reason.CONTROL_CHARACTERS


class _Malformed(Exception):
    """Raised while reading a row whose text fields have a shape no export row has; becomes Reason.MALFORMED."""


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


def _choose_label(labels: list[Mapping[str, Any]], done_at: str = "") -> Mapping[str, Any]:
    """`LABEL_CHOICE_RULE`: the label that reached Done — the latest one written no later than the row's last
    move into Done — else (no history, or every label is newer) the latest label."""
    if len(labels) == 1:
        return labels[0]
    if done_at:
        before = [label for label in labels if (_recency(label) or "~") <= done_at]
        if before:
            return max(before, key=_recency)
    return max(labels, key=_recency)


def _answer(classification: Mapping[str, Any]) -> str:
    """A free-text classification's answer: "" when it has none, _Malformed when it is not text."""
    content = classification["text_answer"].get("content")
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    raise _Malformed


def _find_text(classifications: list[Mapping[str, Any]], wanted: str) -> str | None:
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


_MAYBE_JSON = frozenset(("{", " ", "\n", "\t", "\r", ""))  # the first characters of a text that may be JSON


def _as_conversation(row_data: Any) -> Mapping[str, Any] | None:
    """row_data as a Labelbox conversational object, or None when it is plain text. _Malformed when it is
    JSON nested too deeply to parse: it might be a conversation, and it is no chat to train on."""
    if type(row_data) is str and row_data[:1] not in _MAYBE_JSON:
        return None  # the common case costs one look at the first character: chats are not JSON
    if isinstance(row_data, _MAP):
        return row_data
    if not isinstance(row_data, str) or not row_data.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(row_data)
    except ValueError:
        return None  # text that merely starts with "{"
    except RecursionError:
        raise _Malformed from None
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
    normal forms of its texts for deduplication (`normalise`), found by the same pass as their hygiene check."""

    data_row_id: str
    split_key: str
    label_id: str
    prompt: str
    response: str
    prompt_normal: bytes
    response_normal: bytes


_new_fields = tuple.__new__  # ExampleFields from a tuple of its fields, without the Python-level __new__


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


def _rejected(data_row_id: str, reason: str) -> Rejection:
    return Rejection(data_row_id=data_row_id, reason=reason)


def extract_example(row: Mapping[str, Any], project_id: str, mapping: FieldMapping) -> ExampleFields | Rejection:
    """`convert_row` without building the pydantic model: the dataset builder's per-row path.

    Written for speed (it runs once per export row): the common shape (one label, one free-text answer,
    plain-text row_data) takes a short path of type checks, and each text is scanned once for both its
    hygiene and its normal form; every other shape takes the general path, with the same checks in the same
    order."""
    data_row = row.get("data_row") if isinstance(row, _MAP) else None
    if not isinstance(data_row, _MAP):
        if isinstance(row, _MAP) and row.get(MALFORMED_MARKER_KEY) is True and data_row is None:
            return Rejection(data_row_id=None, reason=Reason.INVALID_JSON)
        return Rejection(data_row_id=None, reason=Reason.MALFORMED)
    data_row_id = data_row.get("id")
    if not _usable_id(data_row_id):
        return Rejection(data_row_id=None, reason=Reason.MALFORMED)
    try:
        projects = row.get("projects")
        project = projects.get(project_id) if isinstance(projects, _MAP) else None
        if not isinstance(project, _MAP):
            return _rejected(data_row_id, Reason.NOT_IN_PROJECT)
        details = project.get("project_details")
        status = details.get("workflow_status") if isinstance(details, _MAP) else None
        if status != DONE and not (isinstance(status, str) and status.upper() == DONE):
            return _rejected(data_row_id, Reason.NOT_DONE)
        labels = project.get("labels")
        label: Mapping[str, Any]
        if type(labels) is list and len(labels) == 1 and type(labels[0]) is dict:
            label = labels[0]
        else:
            candidates = [candidate for candidate in _list(labels) if isinstance(candidate, _MAP)]
            if not candidates:
                return _rejected(data_row_id, Reason.NO_LABEL)
            label = _choose_label(candidates, _reached_done_at(details))

        prompt_from = mapping.prompt_from
        if mapping.response_classification is None:  # the label's single free-text answer that is not the prompt
            annotations = label.get("annotations")
            classifications = annotations.get("classifications") if isinstance(annotations, _MAP) else None
            chosen = None
            for c in classifications if isinstance(classifications, list) else ():
                if (
                    isinstance(c, _MAP)
                    and isinstance(c.get("text_answer"), _MAP)
                    and prompt_from not in (c.get("name"), c.get("value"), c.get("feature_schema_id"))
                ):
                    if chosen is not None:
                        return _rejected(data_row_id, Reason.AMBIGUOUS_RESPONSE)
                    chosen = c
            if chosen is None:
                response = None
            else:
                response = chosen["text_answer"].get("content")
                if type(response) is not str:
                    response = _answer(chosen)
        else:
            response = _find_text(_text_classifications(label), mapping.response_classification)
        if response is None:
            return _rejected(data_row_id, Reason.NO_RESPONSE)
        if not response or response.isspace():  # blank: isspace() makes no copy, unlike strip()
            return _rejected(data_row_id, Reason.EMPTY_RESPONSE)

        if prompt_from == "row_data":
            fetch_error = row.get(ROW_DATA_ERROR_KEY)
            if fetch_error is not None:
                known = isinstance(fetch_error, str) and fetch_error in _ROW_DATA_ERRORS
                return _rejected(data_row_id, fetch_error if known else Reason.ROW_DATA_FETCH_FAILED)
            prompt = data_row.get("row_data")
            if type(prompt) is not str or prompt[:1] in _MAYBE_JSON:  # else plain text, as nearly every chat is
                conversation = _as_conversation(prompt)
                if conversation is not None:
                    prompt = render_conversation(conversation)
                    if prompt is None:
                        return _rejected(data_row_id, Reason.UNREADABLE_CONVERSATION)
                elif prompt is not None and not isinstance(prompt, str):
                    return _rejected(data_row_id, Reason.MALFORMED)
        else:
            prompt = _find_text(_text_classifications(label), prompt_from)
        if prompt is None:
            return _rejected(data_row_id, Reason.NO_PROMPT)
        prompt = prompt.strip()
        if not prompt:
            return _rejected(data_row_id, Reason.EMPTY_PROMPT)
        scheme = uri_scheme(prompt)
        if scheme is not None:  # a URI is never the chat itself
            reason = Reason.PROMPT_IS_URL if scheme in WEB_SCHEMES else Reason.ROW_DATA_STORAGE_URI
            return _rejected(data_row_id, reason)
        response = response.strip()
        # text_defect(prompt) or text_defect(response), and their normal forms, in one pass per text
        prompt_normal = _checked_normal_form(prompt)
        if type(prompt_normal) is str:
            return _rejected(data_row_id, prompt_normal)
        response_normal = _checked_normal_form(response)
        if type(response_normal) is str:
            return _rejected(data_row_id, response_normal)

        global_key = data_row.get("global_key")
        label_id = label.get("id")
        return _new_fields(
            ExampleFields,
            (
                data_row_id,
                global_key if global_key and isinstance(global_key, str) else data_row_id,
                label_id if isinstance(label_id, str) else "",
                prompt,
                response,
                prompt_normal,
                response_normal,
            ),
        )
    except _Malformed:
        return _rejected(data_row_id, Reason.MALFORMED)

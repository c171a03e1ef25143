"""A malformed row never stops a build: every row is trained on or rejected with a reason code, and only
failures of the input or the outputs (source, sink, upload) fail the build."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labeltune.dataset import DirectorySink, build_dataset
from labeltune.dataset import builder as builder_module
from labeltune.dataset import formats as formats_module
from labeltune.dataset.builder import FILES
from labeltune.domain.conversion import CONVERSATIONAL_TYPE, ROW_DATA_ERROR_KEY, Reason
from labeltune.domain.project_config import ProjectConfig

from .openai_rules import dataset_problems
from .rows import PROJECT, SYSTEM, line, row, valid_lines


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


# Values of the wrong type for any field: null, booleans, numbers (huge, tiny, 40 digits), empty and
# NUL-byte strings, empty and nested containers (200 levels: json reads and writes them, str() of them is
# as long as they are deep).
WRONG: list[Any] = [None, True, 0, -7, 1.5e308, 10**40, "", "\x00", [], {}, [[[]]], _deep(200), {"k": _deep(200)}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (dict key or list index) into `value`, outermost first."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def _mutated(base: dict[str, Any], path: tuple[Any, ...], value: Any = None, *, delete: bool = False) -> Any:
    mutated = copy.deepcopy(base)
    target = mutated
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return mutated


def _clean_text(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.strip() != ""
        and all(ch in "\t\n\r" or (ch >= " " and ch != "\x7f") for ch in value)
    )


def trainable(r: Any) -> bool:
    """Written from the export format, not from labeltune's converter: is a row made by rows.row() (one
    label with one free-text answer, a plain-text chat), possibly damaged, still one to train on?"""
    if not isinstance(r, dict) or r.get(ROW_DATA_ERROR_KEY) is not None:
        return False
    data_row = r.get("data_row")
    if not isinstance(data_row, dict) or not _clean_text(data_row.get("id")):
        return False
    chat = data_row.get("row_data")
    if not _clean_text(chat) or chat.strip().startswith(("http://", "https://", "{")):
        return False
    projects = r.get("projects")
    project = projects.get(PROJECT) if isinstance(projects, dict) else None
    if not isinstance(project, dict):
        return False
    details = project.get("project_details")
    status = details.get("workflow_status") if isinstance(details, dict) else None
    if not (isinstance(status, str) and status.upper() == "DONE"):
        return False
    labels = project.get("labels")
    labels = [lb for lb in labels if isinstance(lb, dict)] if isinstance(labels, list) else []
    if len(labels) != 1:
        return False
    annotations = labels[0].get("annotations")
    classifications = annotations.get("classifications") if isinstance(annotations, dict) else None
    answers = (
        [c["text_answer"] for c in classifications if isinstance(c, dict) and isinstance(c.get("text_answer"), dict)]
        if isinstance(classifications, list)
        else []
    )
    return len(answers) == 1 and _clean_text(answers[0].get("content"))


class Case:
    """One export line, whether it should be trained on, and the user message it should become."""

    def __init__(self, raw: bytes, good: bool, prompt: str | None = None, data_row_id: str | None = None) -> None:
        self.raw, self.good, self.prompt, self.data_row_id = raw, good, prompt, data_row_id


def _case(r: Any) -> Case:
    data_row = r.get("data_row") if isinstance(r, dict) else None
    data_row_id = data_row.get("id") if isinstance(data_row, dict) else None
    good = trainable(r)
    prompt = data_row["row_data"].strip() if good else None
    return Case(line(r), good, prompt, data_row_id if _clean_text(data_row_id) else None)


def adversarial_cases() -> list[Case]:
    cases: list[Case] = []
    number = 1000

    def fresh() -> dict[str, Any]:
        nonlocal number
        number += 1
        return row(number)  # its own data row id, global key, chat and summary

    # Every field at every level: replaced by each wrong value, and removed.
    for path in list(_paths(row(0))):
        for value in WRONG:
            cases.append(_case(_mutated(fresh(), path, value)))
        cases.append(_case(_mutated(fresh(), path, delete=True)))
    # The row itself of the wrong type.
    cases += [_case(value) for value in WRONG]

    # Lines no row of the export format can be, and fields only raw JSON can hold.
    def raw(text: str) -> bytes:
        return (text + "\n").encode("utf-8")

    good_row = fresh()
    text = json.dumps(good_row)
    cases += [
        Case(b"\x00\n", False),  # a NUL byte
        Case(text.replace('"Ann Lee', '"Ann\x00Lee', 1).encode() + b"\n", False),  # raw NUL inside a string
        Case(raw(text[:-1] + ', "huge": ' + "9" * 5000 + "}"), False),  # beyond int's 4,300-digit limit
        Case(raw("[" * 100_000 + "]" * 100_000), False),  # nested deeper than the parser goes
        Case(raw(text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"), False),
        Case(b"\xff\xfe" + text.encode() + b"\n", False),  # not UTF-8
    ]
    for field, literal in (("content", "1e999"), ("content", "NaN"), ("id", "-Infinity"), ("row_data", "1e-400")):
        r = fresh()
        as_text = json.dumps(r)
        value_start = as_text.index(f'"{field}": "') + len(f'"{field}": ')
        value_end = as_text.index('"', value_start + 1) + 1
        data_row_id = None if field == "id" else r["data_row"]["id"]
        cases.append(Case(raw(as_text[:value_start] + literal + as_text[value_end:]), False, data_row_id=data_row_id))
    for field in ("id", "row_data", "content", "project"):
        r = fresh()
        if field == "id":
            r["data_row"]["id"] += "\ud800"  # a lone surrogate: JSON can say it, UTF-8 cannot
        elif field == "row_data":
            r["data_row"]["row_data"] += " \ud83d"
        elif field == "content":
            r["projects"][PROJECT]["labels"][0]["annotations"]["classifications"][0]["text_answer"]["content"] += "\x00"
        else:
            r["projects"] = {PROJECT + "\x00": r["projects"][PROJECT]}
        cases.append(Case(raw(json.dumps(r)), False, data_row_id=None if field == "id" else r["data_row"]["id"]))

    # The rows the review found crashing the build.
    r = fresh()
    conversation = {
        "type": CONVERSATIONAL_TYPE + ".model-chat-evaluation",
        "version": 2,
        "actors": {"a": {"role": "human", "metadata": {"name": "Ann Lee"}}},
        "messages": {"m1": {"actorId": ["a"], "content": [{"type": "text", "content": f"Parcel {number} lost."}]}},
        "rootMessageIds": ["m1"],
    }
    r["data_row"]["row_data"] = json.dumps(conversation)
    cases.append(Case(line(r), True, f"Speaker: Parcel {number} lost.", r["data_row"]["id"]))
    r = fresh() | {ROW_DATA_ERROR_KEY: ["row_data_fetch_failed"]}
    cases.append(Case(line(r), False, data_row_id=r["data_row"]["id"]))
    r = fresh()
    r["data_row"]["row_data"] = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    cases.append(Case(line(r), False, data_row_id=r["data_row"]["id"]))
    return cases


def _as_rows(lines: list[bytes]) -> list[Any]:
    """What a label source passes on: parsed rows, an unparsable line as the {"_malformed": true} marker."""
    rows: list[Any] = []
    for raw in lines:
        try:
            rows.append(json.loads(raw))
        except (ValueError, RecursionError):
            rows.append({"_malformed": True})
    return rows


def build(items: Any, directory: Path, *, parsed: bool = False, **config: Any) -> Any:
    with DirectorySink(directory) as sink:
        return build_dataset(items, sink, PROJECT, ProjectConfig(system_prompt=SYSTEM, **config), parsed=parsed)


def _written(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(raw)
        for name in ("train", "validation", "eval")
        for raw in (directory / FILES[name]).read_text(encoding="utf-8").splitlines()
    ]


@pytest.mark.parametrize("form", ["lines", "rows"])
def test_adversarial_rows_are_each_rejected_with_a_reason_and_good_rows_are_kept(form: str, tmp_path: Path) -> None:
    cases = adversarial_cases()
    good = [c for c in cases if c.good]
    assert len(cases) > 500 and 100 < len(good) < len(cases) - 100  # both kinds, plenty of each
    lines = [c.raw for c in cases]
    items = lines if form == "lines" else _as_rows(lines)
    report = build(items, tmp_path, parsed=form == "rows")  # completes: nothing raised

    assert report.rows_read == len(cases)
    rejected = [json.loads(raw) for raw in (tmp_path / FILES["rejected"]).read_text().splitlines()]
    by_line = {record["line_number"]: record for record in rejected}
    assert len(by_line) == len(rejected) == report.rejected  # each rejected row once
    assert set(by_line) == {number for number, case in enumerate(cases, start=1) if not case.good}
    for number, record in by_line.items():
        assert record["reason"] in Reason.all()
        assert record["data_row_id"] == cases[number - 1].data_row_id or (
            record["reason"] in (Reason.INVALID_JSON, Reason.INVALID_UTF8) and record["data_row_id"] is None
        ), (number, record)
    written = _written(tmp_path)
    assert sorted(example["messages"][1]["content"] for example in written) == sorted(c.prompt for c in good)
    assert sum(report.examples.values()) == len(good)
    assert report.unexpected_errors == {}  # every case above is foreseen: the guard is the last line of defence
    assert dataset_problems(tmp_path, min_examples=1) == []


@pytest.mark.parametrize("value", ["", "   ", '{"data_row": {"id": "dr-1"}}', b"{}"])
def test_a_parsed_row_that_is_a_string_is_a_malformed_row_not_a_line(value: Any, tmp_path: Path) -> None:
    # A label source yields json.loads() of each line: the line '""' is the row "", not a blank line, and a
    # JSON string holding a row's JSON is not that row (the same lines read from a file are malformed too).
    report = build([*_as_rows(valid_lines(12)), value], tmp_path, parsed=True)
    assert (report.rows_read, report.blank_lines, report.rejected_by_reason) == (13, 0, {Reason.MALFORMED: 1})
    from_file = build([*valid_lines(12), line(value if isinstance(value, str) else value.decode())], tmp_path / "f")
    assert from_file.rejected_by_reason == {Reason.MALFORMED: 1}


def test_an_unforeseen_error_in_one_row_rejects_that_row_as_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug, or a row shape nobody foresaw, surfacing as an exception while one row is converted.
    real = builder_module.extract_example

    def flaky(r: Any, *args: Any) -> Any:
        if r["data_row"]["id"] == "dr-00004":
            raise KeyError("the chat of Ann Lee, ann@example.com")  # a message may quote the row
        return real(r, *args)

    monkeypatch.setattr(builder_module, "extract_example", flaky)
    report = build(valid_lines(20), tmp_path)
    rejected = [json.loads(raw) for raw in (tmp_path / FILES["rejected"]).read_text().splitlines()]
    assert rejected == [{"data_row_id": "dr-00004", "reason": Reason.MALFORMED, "line_number": 5}]
    assert report.unexpected_errors == {"KeyError": 1}
    assert sum(report.examples.values()) == 19
    assert any("1 rows could not be converted (KeyError 1)" in warning for warning in report.warnings)
    assert "ann@example.com" not in (tmp_path / FILES["report"]).read_text()  # the type only, never the message


def test_an_error_in_a_later_step_is_guarded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = formats_module.format_errors

    def broken(record: Any) -> list[str]:
        if "order 7." in record["messages"][1]["content"]:
            raise RecursionError("maximum recursion depth exceeded")
        return real(record)

    monkeypatch.setattr(formats_module, "format_errors", broken)
    report = build(valid_lines(20), tmp_path)
    assert report.rejected_by_reason == {Reason.MALFORMED: 1} and report.unexpected_errors == {"RecursionError": 1}
    assert sum(report.examples.values()) == 19


class FailingSink:
    """A sink whose writer for `name` fails on its first write, as a full disk or a lost connection would."""

    def __init__(self, name: str, error: BaseException) -> None:
        self.name, self.error = name, error
        self.lines: list[str] = []

    def writer(self, name: str) -> Callable[[str], Any]:
        if name != self.name:
            return self.lines.append

        def fail(text: str) -> None:
            raise self.error

        return fail


@pytest.mark.parametrize("name", ["train", "eval", "rejected", "report"])
def test_a_failing_sink_fails_the_build(name: str) -> None:
    lines = [*valid_lines(40), b"not json\n"]
    with pytest.raises(OSError, match="No space left"):
        build_dataset(lines, FailingSink(name, OSError(28, "No space left on device")), PROJECT, ProjectConfig())


def test_a_failing_source_fails_the_build(tmp_path: Path) -> None:
    def source() -> Iterator[bytes]:
        yield from valid_lines(5)
        raise ConnectionError("export download interrupted")

    with pytest.raises(ConnectionError, match="interrupted"):
        build(source(), tmp_path)


def test_memory_errors_are_not_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(builder_module, "extract_example", exhausted)
    with pytest.raises(MemoryError):
        build(valid_lines(3), tmp_path)

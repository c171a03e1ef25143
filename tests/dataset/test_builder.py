"""The dataset builder: every reason code, dedupe before the split, a stable split, exact OpenAI lines,
and every line it writes checked by the independent validator in openai_rules.py."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labeltune.dataset import DirectorySink, build_dataset, load_price_table
from labeltune.dataset import builder as builder_module
from labeltune.dataset import formats as formats_module
from labeltune.dataset.builder import FILES, iter_export_lines
from labeltune.dataset.dedupe import Deduplicator
from labeltune.dataset.report import DatasetReport
from labeltune.domain.conversion import CONVERSATIONAL_TYPE, ROW_DATA_ERROR_KEY, Reason
from labeltune.domain.project_config import Hyperparameters, ProjectConfig
from labeltune.domain.split import SplitRatios, assign_split

from .openai_rules import cookbook_tokens, dataset_problems, example_problems
from .rows import PROJECT, SYSTEM, label, line, row, text, valid_lines

EXPORT = Path(__file__).resolve().parents[2] / "examples" / "labelbox_export.ndjson"
SAMPLE_PROJECT = "clx-support-summaries-demo"


class Built:
    def __init__(self, directory: Path, report: DatasetReport) -> None:
        self.directory, self.report = directory, report

    def lines(self, name: str) -> list[dict[str, Any]]:
        text = (self.directory / FILES[name]).read_text(encoding="utf-8")
        return [json.loads(raw) for raw in text.splitlines()]  # splitlines(): also checks no U+2028 is left raw

    def rejected(self) -> list[dict[str, Any]]:
        return self.lines("rejected")

    def reasons_by_line(self) -> dict[int, str]:
        return {r["line_number"]: r["reason"] for r in self.rejected()}

    def split_of(self) -> dict[str, str]:
        """data row id -> split, for every example written (train/validation ids found by their prompt)."""
        splits = {}
        for line_ in self.lines("eval"):
            splits[line_["data_row_id"]] = "eval"
        return splits

    def prompts(self, name: str) -> list[str]:
        return [line_["messages"][1]["content"] for line_ in self.lines(name)]


def build(items: Any, directory: Path, project: str = PROJECT, **config: Any) -> Built:
    settings = {"system_prompt": SYSTEM, **config}
    with DirectorySink(directory) as sink:
        report = build_dataset(items, sink, project, ProjectConfig(**settings))
    return Built(directory, report)


# --- every reason code ---------------------------------------------------------------------------


def _respaced_recased_copy_of_row_3() -> dict[str, Any]:
    original = row(3)
    summary = original["projects"][PROJECT]["labels"][0]["annotations"]["classifications"][0]["text_answer"]["content"]
    return row(900, chat=original["data_row"]["row_data"].upper().replace(" ", "   "), summary=f"  {summary.lower()}")


def _relabelled_copy_of_row_3() -> dict[str, Any]:
    """Row 3's chat (respaced, recased) under another data row, with another summary: a second label of it."""
    chat = row(3)["data_row"]["row_data"]
    return row(900, chat=chat.replace(" ", "  ").lower(), summary="A different summary of the same chat.")


BAD_ROWS: dict[str, Callable[[], bytes]] = {
    Reason.INVALID_UTF8: lambda: b'{"data_row": {"id": "dr-bad", "row_data": "caf\xe9"}}\n',
    Reason.INVALID_JSON: lambda: b'{"data_row": {"id": "dr-cut-off", "row_da\n',
    Reason.MALFORMED: lambda: b"[1, 2, 3]\n",
    Reason.NOT_IN_PROJECT: lambda: line(row(900, project="another-project")),
    Reason.NOT_DONE: lambda: line(row(900, status="IN_REVIEW")),
    Reason.NO_LABEL: lambda: line(row(900, labels=[])),
    Reason.NO_RESPONSE: lambda: line(row(900, labels=[label()])),
    Reason.AMBIGUOUS_RESPONSE: lambda: line(row(900, labels=[label(text("summary", "a"), text("notes", "b"))])),
    Reason.EMPTY_RESPONSE: lambda: line(row(900, summary=" \n\t ")),
    Reason.NO_PROMPT: lambda: line(row(900, chat=None) | {"data_row": {"id": "dr-00900", "global_key": "k900"}}),
    Reason.EMPTY_PROMPT: lambda: line(row(900, chat="   \n")),
    Reason.PROMPT_IS_URL: lambda: line(row(900, chat="https://storage.example.com/chats/900.txt")),
    Reason.ROW_DATA_URL_SCHEME: lambda: line(row(900, chat="ftp://x/a") | {ROW_DATA_ERROR_KEY: "row_data_url_scheme"}),
    Reason.ROW_DATA_FETCH_TIMEOUT: lambda: line(row(900) | {ROW_DATA_ERROR_KEY: "row_data_fetch_timeout"}),
    Reason.ROW_DATA_FETCH_FAILED: lambda: line(row(900) | {ROW_DATA_ERROR_KEY: "row_data_fetch_failed"}),
    Reason.ROW_DATA_TOO_LARGE: lambda: line(row(900) | {ROW_DATA_ERROR_KEY: "row_data_too_large"}),
    Reason.ROW_DATA_NOT_UTF8: lambda: line(row(900) | {ROW_DATA_ERROR_KEY: "row_data_not_utf8"}),
    Reason.ROW_DATA_STORAGE_URI: lambda: line(row(900, chat="gs://acme-support/chats/900.txt")),
    Reason.UNREADABLE_CONVERSATION: lambda: line(
        row(900, chat=json.dumps({"type": CONVERSATIONAL_TYPE, "version": 1, "messages": "not a list"}))
    ),
    Reason.CONTROL_CHARACTERS: lambda: line(row(900, chat="Ann Lee: my card \x07\x07 was charged twice")),
    Reason.DUPLICATE_DATA_ROW: lambda: line(row(900, data_row_id="dr-00003", global_key="chat-00003")),
    Reason.DUPLICATE_EXAMPLE: lambda: line(_respaced_recased_copy_of_row_3()),
    Reason.DUPLICATE_PROMPT: lambda: line(_relabelled_copy_of_row_3()),
    Reason.TOO_MANY_TOKENS: lambda: line(row(900, chat="Ann Lee: " + "please help me " * 80)),
}


def test_every_reason_code_has_a_case_here() -> None:
    # invalid_example is a guard that no export row can reach; it has its own test below. Bedrock's own codes
    # (reserved_keyword, over_record_limit) have their cases in test_bedrock.py.
    from .test_bedrock import BEDROCK_BAD_ROWS

    assert set(BAD_ROWS) | {Reason.INVALID_EXAMPLE} | set(BEDROCK_BAD_ROWS) == set(Reason.all())


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_each_reason_code(reason: str, tmp_path: Path) -> None:
    lines = valid_lines(20)
    bad = BAD_ROWS[reason]()
    lines.insert(7, bad)  # line 8 of the export
    built = build(lines, tmp_path, max_tokens_per_example=200)
    rejected = built.rejected()
    assert [(r["reason"], r["line_number"]) for r in rejected] == [(reason, 8)], rejected
    record = rejected[0]
    assert set(record) == {"data_row_id", "reason", "line_number"}
    if reason in (Reason.INVALID_UTF8, Reason.INVALID_JSON, Reason.MALFORMED):
        assert record["data_row_id"] is None
    elif reason == Reason.DUPLICATE_DATA_ROW:
        assert record["data_row_id"] == "dr-00003"
    else:
        assert record["data_row_id"] == "dr-00900"
    assert built.report.rejected_by_reason == {reason: 1}
    assert built.report.rows_read == 21
    assert sum(built.report.examples.values()) == 20


def test_invalid_example_is_a_guard_on_every_written_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No export row can fail the format checks after conversion, so simulate a stricter rule: the
    # builder must reject the row, count the failed check, and write nothing for it.
    real = formats_module.format_errors

    def stricter(record: Any) -> list[str]:
        return ["missing_content"] if "order 5." in record["messages"][1]["content"] else real(record)

    monkeypatch.setattr(formats_module, "format_errors", stricter)
    built = build(valid_lines(20), tmp_path)
    assert built.reasons_by_line() == {6: Reason.INVALID_EXAMPLE}
    assert built.report.format_errors == {"missing_content": 1}
    assert any("format checks" in warning for warning in built.report.warnings)
    assert not any("order 5." in p for name in ("train", "validation", "eval") for p in built.prompts(name))


@pytest.mark.parametrize(
    "content,reason",
    [
        ("Ann Lee: \ud83d alone", Reason.INVALID_UTF8),  # an unpaired surrogate, from a "\ud83d" JSON escape
        ("Ann Lee: caf\ufffd au lait", Reason.INVALID_UTF8),  # bytes already lost in an earlier decode
        ("Ann Lee: hi\x00there", Reason.CONTROL_CHARACTERS),
        ("Ann Lee: price \x85 10", Reason.CONTROL_CHARACTERS),  # C1: cp1252 read as Latin-1
        ("Ann Lee: tabs\tand\r\nnewlines are fine", None),
        ("Ann Lee: ünïcödé, emoji 🙂 and CJK 漢字 are fine", None),
    ],
)
def test_text_hygiene(content: str, reason: str | None, tmp_path: Path) -> None:
    lines = [*valid_lines(12), (json.dumps(row(900, chat=content)) + "\n").encode("ascii")]
    built = build(lines, tmp_path)
    assert built.reasons_by_line() == ({13: reason} if reason else {})


def test_malformed_lines_are_counted_never_fatal(tmp_path: Path) -> None:
    lines = [b"\xff\xfe\x00", *valid_lines(15), b"not json\n", b"{}\n", b"null\n", b'"a string"\n']
    built = build(lines, tmp_path)
    assert built.report.rejected_by_reason == {Reason.INVALID_UTF8: 1, Reason.INVALID_JSON: 1, Reason.MALFORMED: 3}
    assert built.report.rows_read == 20
    assert sum(built.report.examples.values()) == 15


def test_blank_lines_are_skipped_not_rows(tmp_path: Path) -> None:
    lines = [b"\n", *valid_lines(3), b"   \r\n", *valid_lines(3, start=3), b""]
    built = build(lines, tmp_path)
    assert (built.report.rows_read, built.report.blank_lines, built.report.rejected) == (6, 3, 0)


# --- outputs -------------------------------------------------------------------------------------


def test_the_sample_export(tmp_path: Path) -> None:
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT)
    report = built.report
    assert report.ok and report.rows_read == 86
    assert report.examples == {"train": 62, "validation": 11, "eval": 7}
    assert report.rejected_by_reason == {
        Reason.NO_LABEL: 1,
        Reason.NOT_DONE: 3,
        Reason.EMPTY_RESPONSE: 1,
        Reason.NO_RESPONSE: 1,
    }
    assert dataset_problems(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES.values())
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(report.model_dump_json())


def test_the_json_of_a_clean_text_is_exactly_json_dumps() -> None:
    from labeltune.dataset.builder import _json_text
    from labeltune.domain.conversion import text_defect

    alphabet = ['"', "\\", "\t", "\r", "\n", " ", "a", "Z", "0", "~", "/", "é", "\u2028", "🙂", "\x07", "\x7f"]
    rng = random.Random(4)
    checked = 0
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        if text_defect(text) is None:  # the builder writes only texts that pass the hygiene check
            expected = json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028")
            assert f'"{_json_text(text)}"' == expected, repr(text)
            checked += 1
    assert checked > 1000


def test_lines_are_exactly_what_json_dumps_writes(tmp_path: Path) -> None:
    tricky = [
        'Ann Lee: she said "hi" \\ back\\slash',
        "Ann Lee: line\u2028separator and\u2029paragraph",
        "Ann Lee: 漢字 and emoji 🙂🙂, accents éè",
        "Ann Lee: a literal <|endoftext|> token",
        "Ann Lee: tab\there",
    ]
    lines = [*valid_lines(12), *(line(row(100 + i, chat=chat, summary=chat[9:])) for i, chat in enumerate(tricky))]
    built = build(lines, tmp_path)
    written = 0
    for name in ("train", "validation", "eval"):
        text = (tmp_path / FILES[name]).read_text(encoding="utf-8")
        assert "\u2028" not in text and "\u2029" not in text  # escaped: they would break str.splitlines()
        for raw in text.split("\n")[:-1]:
            expected = json.dumps(json.loads(raw), ensure_ascii=False)
            assert raw == expected.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            written += 1
    assert written == 17 and built.report.rejected == 0
    contents = {c for name in ("train", "validation", "eval") for c in built.prompts(name)}
    assert set(tricky) <= contents  # round-trips unchanged
    assert dataset_problems(tmp_path) == []


def test_train_and_validation_lines_hold_only_messages_eval_lines_the_row_id_too(tmp_path: Path) -> None:
    built = build(valid_lines(60), tmp_path)
    for name in ("train", "validation"):
        for record in built.lines(name):
            assert list(record) == ["messages"]
            assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
            assert all(set(m) == {"role", "content"} for m in record["messages"])
            assert record["messages"][0]["content"] == SYSTEM
    for record in built.lines("eval"):
        assert list(record) == ["data_row_id", "messages"]


def test_every_line_passes_the_independent_openai_validator_on_a_generated_export(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import PROJECT_ID, generate_rows

    built = build(list(generate_rows(400, seed=11)), tmp_path, PROJECT_ID)
    assert built.report.ok and sum(built.report.examples.values()) == 400
    assert dataset_problems(tmp_path) == []


def test_dict_rows_and_raw_lines_build_the_same_files(tmp_path: Path) -> None:
    rows = [json.loads(raw) for raw in EXPORT.read_bytes().splitlines()]
    from_lines = build(iter_export_lines(EXPORT), tmp_path / "lines", SAMPLE_PROJECT)
    from_rows = build(rows, tmp_path / "rows", SAMPLE_PROJECT)
    for name in FILES.values():
        assert (tmp_path / "lines" / name).read_bytes() == (tmp_path / "rows" / name).read_bytes(), name
    assert from_lines.report == from_rows.report


def test_conversational_rows_become_speaker_transcripts(tmp_path: Path) -> None:
    conversation = {
        "type": CONVERSATIONAL_TYPE,
        "version": 1,
        "messages": [
            {"messageId": "m0", "content": "My parcel never came.", "user": {"userId": "u1", "name": "Ann Lee"}},
            {"messageId": "m1", "content": "I will resend it.", "user": {"userId": "agent-7", "name": "Bob Stone"}},
        ],
    }
    lines = [*valid_lines(12), line(row(900, chat=json.dumps(conversation)))]
    built = build(lines, tmp_path)
    prompts = {p for name in ("train", "validation", "eval") for p in built.prompts(name)}
    assert "Ann Lee: My parcel never came.\nBob Stone: I will resend it." in prompts
    assert dataset_problems(tmp_path, min_examples=1) == []


def test_rejected_file_holds_no_content(tmp_path: Path) -> None:
    rows = [json.loads(raw) for raw in EXPORT.read_bytes().splitlines()]
    build(rows, tmp_path, SAMPLE_PROJECT)
    rejected = (tmp_path / "rejected.ndjson").read_text()
    report = (tmp_path / "report.json").read_text()
    for r in rows:
        for needle in (r["data_row"]["row_data"][:30], r["data_row"]["global_key"]):
            assert needle not in rejected and needle not in report


def test_rows_stream_through_one_at_a_time(tmp_path: Path) -> None:
    """Row k's output is written before row k+1 is read: nothing accumulates between input and output."""

    class RecordingSink:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def writer(self, name: str) -> Callable[[str], Any]:
            return self.lines.append

    sink = RecordingSink()
    read = 0

    def rows() -> Iterator[bytes]:
        nonlocal read
        for raw in [*valid_lines(30), b"garbage\n", *valid_lines(5, start=30)]:
            assert len(sink.lines) == read, "the builder read ahead of what it wrote"
            read += 1
            yield raw

    report = build_dataset(rows(), sink, PROJECT, ProjectConfig(system_prompt=SYSTEM))
    assert read == 36 and report.rows_read == 36
    assert len(sink.lines) == 37  # one line per row, then the report


# --- dedupe, split -------------------------------------------------------------------------------


def _key_in(split: str, prefix: str) -> str:
    """A global key that the stable split puts in `split`."""
    return next(f"{prefix}-{i}" for i in range(10_000) if assign_split(f"{prefix}-{i}", SplitRatios()) == split)


def test_duplicates_are_removed_before_the_split_so_held_out_sets_never_repeat_training(tmp_path: Path) -> None:
    rows = [row(n, global_key=_key_in("train", f"orig{n}")) for n in range(30)]
    copies = []
    for n in range(30):  # the same examples again, respaced and recased, under rows split to the held-out sets
        original = rows[n]
        chat = original["data_row"]["row_data"].replace(" ", "  ").replace("\n", " \n ").swapcase()
        summary = (
            "\t"
            + original["projects"][PROJECT]["labels"][0]["annotations"]["classifications"][0]["text_answer"][
                "content"
            ].upper()
        )
        split = "eval" if n % 2 else "validation"
        copies.append(row(1000 + n, chat=chat, summary=summary, global_key=_key_in(split, f"copy{n}")))
    built = build([line(r) for r in rows + copies], tmp_path)
    assert built.report.rejected_by_reason == {Reason.DUPLICATE_EXAMPLE: 30}
    assert built.report.duplicates_removed == 30
    assert built.report.examples == {"train": 30, "validation": 0, "eval": 0}
    assert {r["data_row_id"] for r in built.rejected()} == {f"dr-{1000 + n:05d}" for n in range(30)}


def test_no_example_is_in_two_splits(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import PROJECT_ID, generate_rows

    rows = list(generate_rows(300, seed=5))
    valid = [r for r in rows if not r["data_row"]["global_key"].startswith("chat-bad")]
    rows += [json.loads(json.dumps(r)) for r in random.Random(3).sample(valid, 60)]  # exact re-exports of rows
    for r in rows[-60:]:
        r["data_row"]["id"] += "-copy"
        r["data_row"]["global_key"] += "-copy"
    built = build(rows, tmp_path, PROJECT_ID)

    def normalised(record: dict[str, Any]) -> str:
        return json.dumps([" ".join(m["content"].split()).casefold() for m in record["messages"]])

    train = {normalised(r) for r in built.lines("train")}
    validation = {normalised(r) for r in built.lines("validation")}
    held_out = {normalised({"messages": r["messages"]}) for r in built.lines("eval")}
    assert not train & validation and not train & held_out and not validation & held_out
    assert built.report.duplicates_removed == built.report.rejected_by_reason[Reason.DUPLICATE_EXAMPLE] == 60
    assert dataset_problems(tmp_path) == []


def _relabelled(original: dict[str, Any], n: int, global_key: str) -> dict[str, Any]:
    """The chat of `original` (respaced, recased) labelled again under another data row: another summary."""
    chat = original["data_row"]["row_data"].replace(" ", "  ").replace("\n", " \n").swapcase()
    return row(n, chat=chat, summary=f"Another labeller's summary, number {n}.", global_key=global_key)


def test_one_chat_under_two_data_rows_is_in_one_split_only(tmp_path: Path) -> None:
    # The split hashes the data row's global key, so two labels of one chat on two data rows could land in
    # train.jsonl and eval.jsonl (or validation.jsonl, which OpenAI forbids). The second is rejected.
    originals = [row(n, global_key=_key_in("train", f"orig{n}")) for n in range(30)]
    copies = [
        _relabelled(o, 1000 + n, _key_in("eval" if n % 2 else "validation", f"copy{n}"))
        for n, o in enumerate(originals)
    ]
    built = build([line(r) for r in originals + copies], tmp_path)
    assert built.report.rejected_by_reason == {Reason.DUPLICATE_PROMPT: 30}
    assert built.report.duplicates_removed == 30
    assert built.report.examples == {"train": 30, "validation": 0, "eval": 0}
    assert {r["data_row_id"] for r in built.rejected()} == {f"dr-{1000 + n:05d}" for n in range(30)}
    assert dataset_problems(tmp_path) == []  # the independent check: no chat in two files


def test_which_copy_of_a_chat_is_kept_depends_on_export_order_only(tmp_path: Path) -> None:
    # Documented: the first row in export order that passes every check is kept, wherever it is split to.
    original = row(1, global_key=_key_in("train", "orig"))
    copy_ = _relabelled(original, 2, _key_in("eval", "copy"))
    first = build([line(original), line(copy_), *valid_lines(12, start=10)], tmp_path / "a")
    second = build([line(copy_), line(original), *valid_lines(12, start=10)], tmp_path / "b")
    assert [r["data_row_id"] for r in first.rejected()] == ["dr-00002"]
    assert [r["data_row_id"] for r in second.rejected()] == ["dr-00001"]
    assert "dr-00002" in {r["data_row_id"] for r in second.lines("eval")}
    assert dataset_problems(tmp_path / "a", min_examples=1) == dataset_problems(tmp_path / "b", min_examples=1) == []


def test_a_row_rejected_later_does_not_claim_its_chat(tmp_path: Path) -> None:
    too_long = row(1, summary="A summary that goes on and on. " * 40)
    shorter = _relabelled(too_long, 2, "chat-00002")
    built = build([line(too_long), line(shorter), *valid_lines(12, start=10)], tmp_path, max_tokens_per_example=300)
    assert built.reasons_by_line() == {1: Reason.TOO_MANY_TOKENS}
    assert sum(built.report.examples.values()) == 13


def test_no_chat_is_in_two_files_of_a_relabelled_generated_export(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import PROJECT_ID, generate_rows

    rows = list(generate_rows(300, seed=7))
    valid = [r for r in rows if not r["data_row"]["global_key"].startswith("chat-bad")]
    for n, original in enumerate(random.Random(5).sample(valid, 60)):  # labelled twice, as two data rows
        again = json.loads(json.dumps(original))
        again["data_row"].update(id=f"relabel-{n}", global_key=f"relabel-{n}")
        answer = again["projects"][PROJECT_ID]["labels"][-1]["annotations"]["classifications"][0]["text_answer"]
        answer["content"] = f"A second opinion, number {n}."
        rows.append(again)
    random.Random(2).shuffle(rows)
    built = build(rows, tmp_path, PROJECT_ID)
    assert built.report.rejected_by_reason[Reason.DUPLICATE_PROMPT] == 60
    written = [p for name in ("train", "validation", "eval") for p in built.prompts(name)]
    keys = ["".join(p.casefold().split()) for p in written]
    assert len(keys) == len(set(keys)) == 300
    assert dataset_problems(tmp_path) == []


def test_the_split_is_assign_split_of_the_global_key(tmp_path: Path) -> None:
    ratios = SplitRatios(train=0.5, validation=0.2, eval=0.3)
    rows = [row(n, global_key=f"key-{n}") for n in range(300)]
    built = build([line(r) for r in rows], tmp_path, split=ratios)
    prompt_split = {p: name for name in ("train", "validation", "eval") for p in built.prompts(name)}
    assert len(prompt_split) == 300
    for r in rows:
        assert prompt_split[r["data_row"]["row_data"]] == assign_split(r["data_row"]["global_key"], ratios)


def test_the_builder_splits_by_the_one_split_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One rule (labeltune.domain.split.assign_split), called by the builder, never a copy of its thresholds.
    calls: list[tuple[str, SplitRatios]] = []

    def everything_to_eval(key: str, ratios: SplitRatios) -> str:
        calls.append((key, ratios))
        return "eval"

    monkeypatch.setattr(builder_module, "assign_split", everything_to_eval)
    ratios = SplitRatios(train=0.5, validation=0.2, eval=0.3)
    built = build(valid_lines(20), tmp_path, split=ratios)
    assert built.report.examples == {"train": 0, "validation": 0, "eval": 20}
    assert [key for key, _ in calls] == [f"chat-{n:05d}" for n in range(20)]
    assert all(given == ratios for _, given in calls)


def test_the_split_is_stable_when_rows_are_added(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import PROJECT_ID, generate_rows

    rows = list(generate_rows(300, seed=9))
    first = build(rows[:150], tmp_path / "first", PROJECT_ID)
    later = rows[:150] + rows[150:]
    random.Random(1).shuffle(later)  # new labels arrive, and the export's order changes
    second = build(later, tmp_path / "second", PROJECT_ID)

    def splits(built: Built) -> dict[str, str]:
        return {p: name for name in ("train", "validation", "eval") for p in built.prompts(name)}

    before, after = splits(first), splits(second)
    assert before and all(after[prompt] == split for prompt, split in before.items())
    first_eval = {r["data_row_id"] for r in first.lines("eval")}
    second_eval = {r["data_row_id"] for r in second.lines("eval")}
    assert first_eval and first_eval < second_eval  # the held-out set only grows


def check(dedupe: Deduplicator, data_row_id: str, prompt: str, response: str) -> tuple[str | None, Any]:
    from labeltune.dataset.dedupe import normalise

    return dedupe.check(data_row_id, normalise(prompt), normalise(response))


def test_dedupe_keeps_a_fixed_size_digest_per_kept_prompt_not_the_text() -> None:
    dedupe = Deduplicator()
    reason, keys = check(dedupe, "dr-1", "x" * 100_000, "summary")
    assert reason is None
    dedupe.keep(keys)
    assert check(dedupe, "dr-2", " X" + "x" * 99_999, "SUMMARY ")[0] == Reason.DUPLICATE_EXAMPLE
    assert check(dedupe, "dr-3", "x" * 100_000, "another summary")[0] == Reason.DUPLICATE_PROMPT
    assert check(dedupe, "dr-1", "a new chat", "a new summary")[0] == Reason.DUPLICATE_DATA_ROW
    reason, keys = check(dedupe, "dr-4", "x" * 99_999, "summary")
    assert reason is None
    dedupe.keep(keys)
    assert dedupe.examples == 2
    assert all(isinstance(key, bytes) and len(key) == 16 for key in dedupe._prompts)
    assert all(isinstance(value, int) for value in dedupe._prompts.values())


def test_only_a_kept_example_claims_its_prompt() -> None:
    dedupe = Deduplicator()
    assert check(dedupe, "dr-1", "chat", "summary")[0] is None  # rejected later (say, too long): not kept
    reason, keys = check(dedupe, "dr-2", "chat", "another summary")
    assert reason is None
    dedupe.keep(keys)
    assert check(dedupe, "dr-3", "CHAT", "summary")[0] == Reason.DUPLICATE_PROMPT


def test_whitespace_and_case_normalisation() -> None:
    from labeltune.dataset.dedupe import normalise

    assert normalise("Hello  World\n") == normalise("hello world") == normalise("HELLO\u00a0WORLD") == b"helloworld"
    assert normalise("héllo world") == normalise("HÉLLO   WORLD") != normalise("hello world")
    assert normalise("Ok") != normalise("Ok!")
    dedupe = Deduplicator()
    dedupe.keep(check(dedupe, "dr-1", "Hello  World\n", "Ok")[1])
    assert check(dedupe, "dr-2", "hello world", "OK")[0] == Reason.DUPLICATE_EXAMPLE
    assert check(dedupe, "dr-3", "HELLO\u00a0WORLD", "ok")[0] == Reason.DUPLICATE_EXAMPLE  # Unicode whitespace
    assert check(dedupe, "dr-4", "Hello World", "Ok!")[0] == Reason.DUPLICATE_PROMPT
    assert check(dedupe, "dr-5", "héllo world", "ok")[0] is None


def test_conversion_finds_the_normal_forms_in_its_hygiene_pass() -> None:
    # One translation per ASCII text does both: it must agree with text_defect() and normalise() exactly.
    from labeltune.domain.conversion import _checked_normal_form, normalise, text_defect

    alphabet = [chr(c) for c in range(0x80)] + ["é", "É", "\u00a0", "\u2028", "ß", "\ufffd", "\ud800", "\x85", "🙂"]
    rng = random.Random(8)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
        defect = text_defect(text)
        assert _checked_normal_form(text) == (defect if defect is not None else normalise(text)), repr(text)


# --- tokens, limits, report ----------------------------------------------------------------------


def test_token_counts_match_an_independent_count(tmp_path: Path) -> None:
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT)
    counts = [cookbook_tokens(r["messages"]) for r in built.lines("train")]
    stats = built.report.tokens_per_example["train"]
    assert stats is not None
    assert (stats.examples, stats.total, stats.min, stats.max) == (len(counts), sum(counts), min(counts), max(counts))
    assert built.report.training.train_tokens == sum(counts)
    assert built.report.token_encoding == "o200k_base"


def test_the_per_example_limit(tmp_path: Path) -> None:
    built = build(valid_lines(20), tmp_path)
    longest = max(cookbook_tokens(r["messages"]) for name in ("train", "validation") for r in built.lines(name))
    assert built.report.max_tokens_per_example == 65_536
    assert "training example context length" in built.report.max_tokens_source
    tight = build(valid_lines(20), tmp_path / "tight", max_tokens_per_example=longest - 1)
    assert tight.report.rejected_by_reason[Reason.TOO_MANY_TOKENS] >= 1
    assert tight.report.max_tokens_source == "project configuration (max_tokens_per_example)"
    for name in ("train", "validation"):
        assert all(cookbook_tokens(r["messages"]) <= longest - 1 for r in tight.lines(name))
        assert all(example_problems(r, token_limit=longest - 1) == [] for r in tight.lines(name))


@pytest.mark.parametrize("n_train,epochs", [(5, 20), (3, 25), (40, 3), (10_000, 2), (30_000, 1)])
def test_the_cookbook_epoch_heuristic(n_train: int, epochs: int) -> None:
    from labeltune.dataset.report import default_epochs

    assert default_epochs(n_train) == epochs


def test_report_estimates_cost_from_the_price_table(tmp_path: Path) -> None:
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT)
    training, cost = built.report.training, built.report.cost
    assert (training.n_epochs, training.n_epochs_source) == (3, "cookbook heuristic")  # 62 examples x 3 >= 100
    assert training.billable_tokens == 3 * training.billing_tokens_per_epoch == 3 * training.train_tokens
    table = load_price_table()
    assert cost.priced_as == "gpt-4.1-mini-2025-04-14"
    assert cost.price_per_1m_training_tokens == table.training_per_1m_tokens["gpt-4.1-mini-2025-04-14"]
    assert cost.estimated_usd == round(training.billable_tokens * cost.price_per_1m_training_tokens / 1e6, 4)
    assert cost.price_table_as_of == table.as_of and cost.price_table_source == table.source


def test_explicit_epochs_and_an_unpriced_model(tmp_path: Path) -> None:
    built = build(
        iter_export_lines(EXPORT),
        tmp_path,
        SAMPLE_PROJECT,
        hyperparameters=Hyperparameters(n_epochs=7),
        base_model="gpt-5-future-2027-01-01",
    )
    training, cost = built.report.training, built.report.cost
    assert (training.n_epochs, training.n_epochs_source) == (7, "project configuration")
    assert training.billable_tokens == 7 * training.train_tokens
    assert cost.estimated_usd is None and "no training price" in cost.note
    assert any("no training price" in warning for warning in built.report.warnings)
    assert built.report.token_encoding == "o200k_base"


def test_too_small_a_dataset_is_reported_not_raised(tmp_path: Path) -> None:
    built = build(valid_lines(6), tmp_path)
    assert not built.report.ok
    assert built.report.problems and "need at least 10 training and 1 held-out" in built.report.problems[0]
    assert (tmp_path / "report.json").exists()


def test_a_small_but_valid_dataset_gets_a_warning(tmp_path: Path) -> None:
    built = build(valid_lines(30), tmp_path)
    assert built.report.ok
    assert any("recommends at least 50" in warning for warning in built.report.warnings)


def test_counts_add_up(tmp_path: Path) -> None:
    lines = [*valid_lines(40), b"{oops\n", line(row(3)), line(row(500, status="TO_LABEL"))]
    report = build(lines, tmp_path).report
    assert report.rows_read == sum(report.examples.values()) + report.rejected == 43
    assert report.rejected == sum(report.rejected_by_reason.values()) == 3
    for name, count in report.examples.items():
        stats = report.tokens_per_example[name]
        assert (stats.examples if stats else 0) == count


def test_an_unusable_system_prompt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="system prompt"), DirectorySink(tmp_path) as sink:
        build_dataset([], sink, PROJECT, ProjectConfig(system_prompt="\x07"))

"""The dataset builder: a Labelbox export in, OpenAI chat fine-tuning files and a report out, in one pass.

One builder, two entry points: the PrepareDataset state (`labeltune.pipeline.prepare`) and
`labeltune dataset build` run this same code. Input is an iterable of export lines (bytes or str, one
NDJSON row each) or of already parsed rows (pass `parsed=True`, so that a row that is a
JSON string is a malformed row, not a line to parse again); nothing is held but the current row, a digest
per kept example and a hash per data row (deduplication) and a token count per example (statistics).

Per row, in order (the first failing step names the row's reason code, see `Reason`), one method each:
  `_from_line`: decode UTF-8 -> parse JSON; `_from_row`: the per-row guard around `_example`: convert
  (`extract_example`, convert_row's core: project, DONE, label, response, prompt, text hygiene) -> data
  row seen before? -> same prompt kept before (same response: duplicate_example, another:
  duplicate_prompt)? -> count tokens with the base model's encoding -> per-example limit -> OpenAI format
  checks -> split by the data row's identity (`assign_split`) -> the output line; then `build` writes the
  line and counts it.

One chat, one split. The split is a pure function of the data row's identity (a hash of its global key),
so a chat exported under two data rows (labelled twice, with two summaries) could land in train.jsonl and
in eval.jsonl. Deduplication by normalised prompt prevents that: of the rows that share a prompt, the
FIRST ONE IN EXPORT ORDER that passes every check is kept and the others are rejected. Which copy is kept
therefore depends on the export's order (Labelbox does not promise one); which split a kept example goes
to never does.

A malformed row never fails the build: converting one row (everything from `extract_example` to the
formatted output line) runs under a per-row guard, and an exception there that the checks above did not
foresee rejects that row as malformed_row (with its data row id when it has one) and is counted by
exception type in the report. Reading the input and writing the outputs are outside the guard: a failing
source, sink or upload fails the build, as it must (and so does MemoryError).

Outputs, through a `DatasetSink` (`FILES` names them): train.jsonl and validation.jsonl exactly in OpenAI's
format; eval.jsonl (held out, never uploaded to OpenAI) with a leading "data_row_id" on each line;
rejected.ndjson with the data row id, line number and reason code of each rejected row and nothing of
its content; report.json (`DatasetReport`). The builder itself logs nothing.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, NamedTuple, Protocol

from labeltune.dataset.dedupe import Deduplicator
from labeltune.dataset.pricing import PriceTable, load_price_table
from labeltune.dataset.report import (
    RECOMMENDED_MIN_EXAMPLES,
    CostEstimate,
    DatasetReport,
    TokenStats,
    TrainingEstimate,
    default_epochs,
)
from labeltune.dataset.tokens import TOKENS_PER_EXAMPLE, TOKENS_PER_MESSAGE, TokenCounter, example_limit_for
from labeltune.dataset.validation import format_errors
from labeltune.domain.conversion import LABEL_CHOICE_RULE, Reason, data_row_id_of, extract_example, text_defect
from labeltune.domain.models import Rejection, SplitName
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.split import assign_split

SPLITS = ("train", "validation", "eval")
FILES: Mapping[str, str] = {
    "train": "train.jsonl",
    "validation": "validation.jsonl",
    "eval": "eval.jsonl",
    "rejected": "rejected.ndjson",
    "report": "report.json",
}
DUPLICATE_REASONS = (Reason.DUPLICATE_DATA_ROW, Reason.DUPLICATE_EXAMPLE, Reason.DUPLICATE_PROMPT)
RULES = {
    "label_choice": LABEL_CHOICE_RULE,
    "split": "SHA-256 of the data row's global key (else its id) -> [0, 1) against the split ratios",
    "dedupe": "before the split, by prompt: one example per user text (all whitespace removed, Unicode "
    "casefold); the first row in export order that passes every check is kept, a later row with the same "
    "prompt is duplicate_example (same assistant text) or duplicate_prompt (another one)",
    "tokens": "cookbook num_tokens_from_messages: 3 per message + role + content (+1 + name), 3 per example",
    "epochs": "cookbook heuristic (TARGET_EPOCHS=3, MIN_TARGET_EXAMPLES=100, MAX_TARGET_EXAMPLES=25000, "
    "epochs within 1..25) unless the configuration sets n_epochs",
}


class DatasetSink(Protocol):
    """Where the builder's outputs go: one text stream per name in FILES."""

    def writer(self, name: str) -> Callable[[str], Any]:
        """A function that appends text to the output `name`."""
        ...


class DirectorySink:
    """Writes the outputs as files in a directory (a Lambda's /tmp spool, or the CLI's --out)."""

    BUFFER = 1 << 20

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}

    def path(self, name: str) -> Path:
        return self.directory / FILES[name]

    def writer(self, name: str) -> Callable[[str], Any]:
        if name not in self._files:
            self._files[name] = self.path(name).open("w", encoding="utf-8", newline="\n", buffering=self.BUFFER)
        return self._files[name].write

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __enter__(self) -> DirectorySink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False), configured once


def _json_line(record: object) -> str:
    """One JSONL line: `json.dumps(record, ensure_ascii=False)` (UTF-8 text, not \\u escapes), with U+2028 and
    U+2029 escaped: JSON allows them raw, but str.splitlines() and older JavaScript break lines there."""
    text = _JSON.encode(record)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _json_text(text: str) -> str:
    """How one text appears inside the lines the builder writes, without its quotes."""
    return _json_line(text)[1:-2]


def _rejected_line(rejection: Rejection, line_number: int) -> str:
    """A line of rejected.ndjson: the data row id (when known), the reason code and the line number, never
    any of the row's content."""
    record = {"data_row_id": rejection.data_row_id, "reason": rejection.reason, "line_number": line_number}
    return json.dumps(record) + "\n"


def _blank(line: bytes | bytearray | str) -> bool:
    return not line or line.isspace()


def _messages(system: str, prompt: str, response: str) -> list[dict[str, str]]:
    """An example's chat, as OpenAI's chat fine-tuning format has it."""
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": response},
    ]


class _Kept(NamedTuple):
    """A row that passed every check: its split and its output line, and what is remembered (dedupe) and
    counted (the report) of it once the line is written."""

    split: SplitName
    line: str
    dedupe_keys: tuple[bytes, int]
    tokens: int
    response_tokens: int


@dataclass
class _Tally:
    """What the report counts, row by row. Token counts are kept per example (4 bytes each, for the
    report's statistics); nothing of the texts is."""

    rows_read: int = 0
    blank_lines: int = 0
    examples: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    format_errors: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, array] = field(default_factory=lambda: {name: array("I") for name in SPLITS})
    assistant_tokens: array = field(default_factory=lambda: array("I"))

    def kept(self, example: _Kept) -> None:
        self.examples[example.split] += 1
        self.tokens[example.split].append(example.tokens)
        if example.split == "train":
            self.assistant_tokens.append(example.response_tokens)


class DatasetBuilder:
    """Builds one dataset. `build` may be called once per instance."""

    def __init__(
        self,
        project_id: str,
        config: ProjectConfig,
        *,
        price_table: PriceTable | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        defect = text_defect(config.system_prompt)
        if defect is not None or not config.system_prompt.strip():
            raise ValueError(f"the configured system prompt is not usable ({defect or 'blank'})")
        self.project_id = project_id
        self.config = config
        self.price_table = price_table or load_price_table()
        self.counter = counter or TokenCounter(config.base_model)
        self.limit = example_limit_for(config.base_model, config.max_tokens_per_example)
        # The tokens every example of this build has in common, counted once rather than per row: the
        # example's and its three messages' framing, the three roles, and the system prompt.
        self.fixed_tokens = (
            TOKENS_PER_EXAMPLE
            + 3 * TOKENS_PER_MESSAGE
            + sum(self.counter.count(text) for text in ("system", "user", "assistant", config.system_prompt))
        )

    def build(
        self, items: Iterable[bytes | str | Mapping[str, Any]], sink: DatasetSink, *, parsed: bool = False
    ) -> DatasetReport:
        """Build from `items`: export lines (bytes or str) and parsed rows, told apart by type, or, with
        `parsed=True`, parsed rows only (whatever their type)."""
        write = {name: sink.writer(name) for name in (*SPLITS, "rejected")}
        dedupe = Deduplicator()
        tally = _Tally()
        for line_number, item in enumerate(items, start=1):
            if parsed or not isinstance(item, bytes | bytearray | str):
                outcome = self._from_row(item, dedupe, tally)
            elif _blank(item):
                tally.blank_lines += 1
                continue
            else:
                outcome = self._from_line(item, dedupe, tally)
            tally.rows_read += 1
            if isinstance(outcome, Rejection):
                tally.reasons[outcome.reason] += 1
                write["rejected"](_rejected_line(outcome, line_number))
            else:
                write[outcome.split](outcome.line)
                dedupe.keep(outcome.dedupe_keys)
                tally.kept(outcome)

        dedupe.release()  # done with: free the digests before the report's statistics need memory of their own
        report = self._report(tally)
        sink.writer("report")(report.model_dump_json(indent=2) + "\n")
        return report

    def _from_line(self, line: bytes | bytearray | str, dedupe: Deduplicator, tally: _Tally) -> _Kept | Rejection:
        """An export line, parsed and then converted: bytes that are not UTF-8 are invalid_utf8, text that is
        not JSON (or is nested deeper than the parser goes) is invalid_json."""
        try:
            row = json.loads(line if isinstance(line, str) else line.decode("utf-8"))
        except UnicodeDecodeError:
            return Rejection(data_row_id=None, reason=Reason.INVALID_UTF8)
        except (ValueError, RecursionError):
            return Rejection(data_row_id=None, reason=Reason.INVALID_JSON)
        return self._from_row(row, dedupe, tally)

    def _from_row(self, row: Any, dedupe: Deduplicator, tally: _Tally) -> _Kept | Rejection:
        """The per-row guard: nothing a row holds may stop the build (see the module docstring). An exception
        that no check foresaw rejects the row as malformed_row, counted by exception type (never its message,
        which may quote the row)."""
        try:
            return self._example(row, dedupe, tally)
        except MemoryError:
            raise
        except Exception as error:
            tally.unexpected[type(error).__name__] += 1
            return Rejection(data_row_id=data_row_id_of(row), reason=Reason.MALFORMED)

    def _example(self, row: Any, dedupe: Deduplicator, tally: _Tally) -> _Kept | Rejection:
        """One parsed row through the checks, in order: conversion, duplicates, the token limit, OpenAI's format
        checks; then its split and its line. Writes nothing and remembers nothing of a row that passes (that is
        `build`'s, once nothing can fail): a row rejected here claims no prompt."""
        example = extract_example(row, self.project_id, self.config.mapping)
        if isinstance(example, Rejection):
            return example
        data_row_id = example.data_row_id
        duplicate, dedupe_keys = dedupe.check(data_row_id, example.prompt_normal, example.response_normal)
        if duplicate is not None:
            return Rejection(data_row_id=data_row_id, reason=duplicate)
        response_tokens = self.counter.count(example.response)
        tokens = self.fixed_tokens + self.counter.count(example.prompt) + response_tokens
        if tokens > self.limit.tokens:
            return Rejection(data_row_id=data_row_id, reason=Reason.TOO_MANY_TOKENS)
        messages = _messages(self.config.system_prompt, example.prompt, example.response)
        failed = format_errors({"messages": messages})
        if failed:
            tally.format_errors.update(failed)
            return Rejection(data_row_id=data_row_id, reason=Reason.INVALID_EXAMPLE)
        split = assign_split(example.split_key, self.config.split)
        # eval.jsonl is never uploaded: its lines lead with the data row id, for per-example results.
        record = {"data_row_id": data_row_id, "messages": messages} if split == "eval" else {"messages": messages}
        return _Kept(split, _json_line(record), dedupe_keys, tokens, response_tokens)

    def _report(self, tally: _Tally) -> DatasetReport:
        config = self.config
        rows_read, reasons, errors, unexpected = tally.rows_read, tally.reasons, tally.format_errors, tally.unexpected
        examples, tokens = tally.examples, tally.tokens
        counts = {name: examples.get(name, 0) for name in SPLITS}
        n_train = counts["train"]
        problems, warnings = [], []
        if n_train < config.min_examples or counts["eval"] < 1:
            problems.append(
                f"{n_train} training and {counts['eval']} held-out examples from {rows_read} rows; "
                f"need at least {config.min_examples} training and 1 held-out"
            )
        elif n_train < RECOMMENDED_MIN_EXAMPLES:
            warnings.append(
                f"{n_train} training examples: OpenAI recommends at least {RECOMMENDED_MIN_EXAMPLES} "
                "for a clear improvement"
            )
        if errors:
            warnings.append(f"{reasons[Reason.INVALID_EXAMPLE]} examples failed OpenAI's format checks")
        if unexpected:
            kinds = ", ".join(f"{name} {n}" for name, n in sorted(unexpected.items()))
            warnings.append(
                f"{sum(unexpected.values())} rows could not be converted ({kinds}) and were rejected as "
                f"{Reason.MALFORMED}"
            )

        explicit_epochs = config.hyperparameters.n_epochs
        epochs_source: Literal["project configuration", "cookbook heuristic"]
        if isinstance(explicit_epochs, int):
            n_epochs, epochs_source = explicit_epochs, "project configuration"
        else:
            n_epochs, epochs_source = default_epochs(n_train), "cookbook heuristic"
        limit = self.limit.tokens
        train_tokens = sum(tokens["train"])
        per_epoch = sum(min(limit, n) for n in tokens["train"])
        training = TrainingEstimate(
            train_tokens=train_tokens,
            billing_tokens_per_epoch=per_epoch,
            n_epochs=n_epochs,
            n_epochs_source=epochs_source,
            billable_tokens=per_epoch * n_epochs,
            validation_tokens=sum(tokens["validation"]),
        )
        table = self.price_table
        priced = table.training_price(config.base_model)
        cost = CostEstimate(
            estimated_usd=round(training.billable_tokens * priced[1] / 1_000_000, 4) if priced else None,
            price_per_1m_training_tokens=priced[1] if priced else None,
            priced_as=priced[0] if priced else None,
            currency=table.currency,
            price_table_source=table.source,
            price_table_as_of=table.as_of,
            price_table_path=table.path,
            note="" if priced else f"no training price for {config.base_model} in the price table",
        )
        if not priced:
            warnings.append(cost.note)
        duplicates = sum(reasons.get(code, 0) for code in DUPLICATE_REASONS)
        return DatasetReport(
            ok=not problems,
            problems=problems,
            warnings=warnings,
            project_id=self.project_id,
            base_model=config.base_model,
            token_encoding=self.counter.encoding_name,
            max_tokens_per_example=limit,
            max_tokens_source=self.limit.source,
            rows_read=rows_read,
            blank_lines=tally.blank_lines,
            examples=counts,
            rejected=sum(reasons.values()),
            rejected_by_reason=dict(sorted(reasons.items())),
            duplicates_removed=duplicates,
            format_errors=dict(sorted(errors.items())),
            unexpected_errors=dict(sorted(unexpected.items())),
            tokens_per_example={name: TokenStats.of(tokens[name]) for name in SPLITS},
            assistant_tokens_per_example=TokenStats.of(tally.assistant_tokens),
            training=training,
            cost=cost,
            split_ratios=config.split.model_dump(),
            min_examples=config.min_examples,
            rules=RULES,
            files=dict(FILES),
        )


def build_dataset(
    items: Iterable[bytes | str | Mapping[str, Any]],
    sink: DatasetSink,
    project_id: str,
    config: ProjectConfig,
    *,
    price_table: PriceTable | None = None,
    counter: TokenCounter | None = None,
    parsed: bool = False,
) -> DatasetReport:
    """Build the dataset of `project_id` from export lines or rows (`parsed=True`: rows only) into `sink`;
    return the report (also in the sink)."""
    builder = DatasetBuilder(project_id, config, price_table=price_table, counter=counter)
    return builder.build(items, sink, parsed=parsed)


def iter_export_lines(path: Path) -> Iterable[bytes]:
    """The lines of an NDJSON export file as bytes (gzip when the name ends in .gz), read incrementally."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from handle

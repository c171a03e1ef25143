"""The dataset builder: a Labelbox export in, the provider's fine-tuning files and a report out, in one pass.

One builder, two entry points: the PrepareDataset state (`labeltune.pipeline.prepare`) and
`labeltune dataset build` run this same code. Input is an iterable of export lines (bytes or str, one
NDJSON row each) or of already parsed rows (pass `parsed=True`, so that a row that is a
JSON string is a malformed row, not a line to parse again); nothing is held but the current row, a digest
per kept example and a hash per data row (deduplication) and a token count per example (statistics).

What differs between providers (OpenAI's chat format, Bedrock's `bedrock-conversation-2024` for Amazon Nova)
is behind one `TrainingFormat` (`labeltune.dataset.formats`), chosen from the project's provider: how texts
are adapted (Bedrock rewrites reserved speaker labels), the training record and its checks, the tokens every
example shares, and the model's limits (records, tokens, validation file) from the model catalog.

Per row, in order (the first failing step names the row's reason code, see `Reason`), one method each:
  `_from_line`: decode UTF-8 -> parse JSON; `_from_row`: the per-row guard around `_example`: convert
  (`extract_example`, convert_row's core: project, DONE, label, response, prompt, text hygiene) -> data
  row seen before? -> same prompt kept before (same response: duplicate_example, another:
  duplicate_prompt)? -> the format adapts the texts (reserved_keyword) -> count tokens with the base model's
  encoding -> per-example limit -> the format's checks -> split by the data row's identity (`assign_split`;
  the validation share goes to training for a model that takes no validation file) -> the model's record
  limit (over_record_limit) -> the output line; then `build` writes the line and counts it.

One chat, one split. The split is a pure function of the data row's identity (a hash of its global key),
so a chat exported under two data rows (labelled twice, with two summaries) could land in train.jsonl and
in eval.jsonl. Deduplication by normalised prompt prevents that: of the rows that share a prompt, the
FIRST ONE IN EXPORT ORDER that passes every check is kept and the others are rejected. Which copy is kept
therefore depends on the export's order (Labelbox does not promise one); which split a kept example goes
to never does. The same holds for a model's record limit: the first records in export order are kept.

A malformed row never fails the build: converting one row (everything from `extract_example` to the
formatted output line) runs under a per-row guard, and an exception there that the checks above did not
foresee rejects that row as malformed_row (with its data row id when it has one) and is counted by
exception type in the report. Reading the input and writing the outputs are outside the guard: a failing
source, sink or upload fails the build, as it must (and so does MemoryError).

Outputs, through a `DatasetSink` (`FILES` names them): train.jsonl and validation.jsonl exactly in the
provider's format (validation.jsonl empty for a model that takes no validation file); eval.jsonl (held out,
never uploaded) in one neutral format for every provider, a leading "data_row_id" and the chat as system,
user and assistant messages, with the texts as trained on (so the evaluation asks what training taught);
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
from typing import IO, Any, NamedTuple, Protocol

from labeltune.catalog import ModelCatalog
from labeltune.dataset.dedupe import Deduplicator
from labeltune.dataset.formats import RESERVED_KEYWORDS, SPEAKER_LABEL_RULE, TrainingFormat, training_format_for
from labeltune.dataset.pricing import PriceTable, load_price_table
from labeltune.dataset.report import (
    RECOMMENDED_MIN_EXAMPLES,
    BedrockDetails,
    CostEstimate,
    DatasetReport,
    RecordLimitsReport,
    TokenStats,
    TrainingEstimate,
    bedrock_cost,
)
from labeltune.dataset.tokens import TokenCounter
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
}
"""The rules of every build; the training format adds its own (tokens, epochs, and Bedrock's)."""


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


class _Kept(NamedTuple):
    """A row that passed every check: its split and its output line, and what is remembered (dedupe) and
    counted (the report) of it once the line is written."""

    split: SplitName
    line: str
    dedupe_keys: tuple[bytes, int]
    tokens: int
    response_tokens: int
    rewritten: int
    """Speaker labels the format rewrote in the chat (Bedrock)."""


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
    eval_response_tokens: int = 0
    speaker_labels_rewritten: int = 0
    examples_rewritten: int = 0

    def kept(self, example: _Kept) -> None:
        self.examples[example.split] += 1
        self.tokens[example.split].append(example.tokens)
        if example.split == "train":
            self.assistant_tokens.append(example.response_tokens)
        elif example.split == "eval":
            self.eval_response_tokens += example.response_tokens
        if example.rewritten:
            self.examples_rewritten += 1
            self.speaker_labels_rewritten += example.rewritten

    def uploaded(self) -> int:
        """Examples written to the files the provider trains on."""
        return self.examples["train"] + self.examples["validation"]


class DatasetBuilder:
    """Builds one dataset. `build` may be called once per instance."""

    def __init__(
        self,
        project_id: str,
        config: ProjectConfig,
        *,
        price_table: PriceTable | None = None,
        counter: TokenCounter | None = None,
        catalog: ModelCatalog | None = None,
    ) -> None:
        """Refuses (ValueError) a system prompt no example could be trained with, before reading a row."""
        self.format: TrainingFormat = training_format_for(config, catalog)
        defect = text_defect(config.system_prompt)
        if defect is not None or not config.system_prompt.strip():
            raise ValueError(f"the configured system prompt is not usable ({defect or 'blank'})")
        unusable = self.format.system_problem(config.system_prompt)
        if unusable is not None:
            raise ValueError(f"the configured system prompt is not usable for {config.provider}: {unusable}")
        self.project_id = project_id
        self.config = config
        self.price_table = price_table or load_price_table()
        self.counter = counter or TokenCounter(config.base_model)
        self.limits = self.format.limits
        self.max_tokens = self.limits.max_record_tokens.tokens if self.limits.max_record_tokens else None
        # The tokens every example of this build has in common (framing, system prompt), counted once.
        self.fixed_tokens = self.format.fixed_tokens(self.counter, config.system_prompt)

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
        """One parsed row through the checks, in order: conversion, duplicates, the format's adaptation, the
        token limit, the format's checks; then its split, the record limit and its line. Writes nothing and
        remembers nothing of a row that passes (that is `build`'s, once nothing can fail): a row rejected here
        claims no prompt."""
        example = extract_example(row, self.project_id, self.config.mapping)
        if isinstance(example, Rejection):
            return example
        data_row_id = example.data_row_id
        duplicate, dedupe_keys = dedupe.check(data_row_id, example.prompt_normal, example.response_normal)
        if duplicate is not None:
            return Rejection(data_row_id=data_row_id, reason=duplicate)
        texts = self.format.adapt(example.prompt, example.response)
        if isinstance(texts, str):
            return Rejection(data_row_id=data_row_id, reason=texts)
        response_tokens = self.counter.count(texts.response)
        tokens = self.fixed_tokens + self.counter.count(texts.prompt) + response_tokens
        if self.max_tokens is not None and tokens > self.max_tokens:
            return Rejection(data_row_id=data_row_id, reason=Reason.TOO_MANY_TOKENS)
        record = self.format.record(self.config.system_prompt, texts.prompt, texts.response)
        failed = self.format.problems(record)
        if failed:
            tally.format_errors.update(failed)
            return Rejection(data_row_id=data_row_id, reason=Reason.INVALID_EXAMPLE)
        split = self._split(example.split_key)
        if split != "eval" and self.limits.max_records is not None and tally.uploaded() >= self.limits.max_records:
            return Rejection(data_row_id=data_row_id, reason=Reason.OVER_RECORD_LIMIT)
        if split == "eval":  # never uploaded: the data row id first, for per-example results, and the neutral chat
            record = {"data_row_id": data_row_id, "messages": self.format.chat(record)}
        return _Kept(split, _json_line(record), dedupe_keys, tokens, response_tokens, texts.rewritten)

    def _split(self, split_key: str) -> SplitName:
        """The one split rule; a model that takes no validation file trains on the validation share too."""
        split = assign_split(split_key, self.config.split)
        return "train" if split == "validation" and not self.limits.validation_set else split

    def _report(self, tally: _Tally) -> DatasetReport:
        config, fmt = self.config, self.format
        rows_read, reasons, errors, unexpected = tally.rows_read, tally.reasons, tally.format_errors, tally.unexpected
        examples, tokens = tally.examples, tally.tokens
        counts = {name: examples.get(name, 0) for name in SPLITS}
        problems, warnings = self._problems(tally, counts), self._warnings(tally, counts)

        n_epochs, epochs_source = fmt.epochs(counts["train"], config.hyperparameters.n_epochs)
        limit = self.max_tokens
        train_tokens = sum(tokens["train"])
        per_epoch = train_tokens if limit is None else sum(min(limit, n) for n in tokens["train"])
        training = TrainingEstimate(
            train_tokens=train_tokens,
            billing_tokens_per_epoch=per_epoch,
            n_epochs=n_epochs,
            n_epochs_source=epochs_source,
            billable_tokens=per_epoch * n_epochs,
            validation_tokens=sum(tokens["validation"]),
        )
        cost = self._cost(training, tally, counts)
        if cost.note:
            warnings.append(cost.note)
        duplicates = sum(reasons.get(code, 0) for code in DUPLICATE_REASONS)
        longest = self.limits.max_record_tokens
        return DatasetReport(
            ok=not problems,
            problems=problems,
            warnings=warnings,
            project_id=self.project_id,
            base_model=config.base_model,
            token_encoding=self.counter.encoding_name,
            max_tokens_per_example=limit,
            max_tokens_source=longest.source if longest else self._no_token_limit(),
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
            rules={**RULES, **fmt.rules},
            files=dict(FILES),
            bedrock=self._bedrock_details(tally) if fmt.provider == "bedrock" else None,
        )

    def _min_train(self) -> int:
        """The fewest training examples a run may start with: the project's floor, or the model's if higher."""
        return max(self.config.min_examples, self.limits.min_records or 0)

    def _problems(self, tally: _Tally, counts: Mapping[str, int]) -> list[str]:
        """Why this dataset cannot be trained on (the run fails on them, before any money is spent)."""
        n_train, minimum = counts["train"], self._min_train()
        if n_train >= minimum and counts["eval"] >= 1:
            return []
        model_minimum = self.limits.min_records
        why = (
            f" ({self.config.base_model} takes at least {model_minimum} training records on {self.format.provider})"
            if model_minimum is not None and model_minimum >= self.config.min_examples
            else ""
        )
        return [
            f"{n_train} training and {counts['eval']} held-out examples from {tally.rows_read} rows; "
            f"need at least {minimum} training and 1 held-out{why}"
        ]

    def _warnings(self, tally: _Tally, counts: Mapping[str, int]) -> list[str]:
        """What a reader should know about a dataset that can still be trained on."""
        reasons, warnings = tally.reasons, []
        n_train = counts["train"]
        if self.format.provider == "openai" and self._min_train() <= n_train < RECOMMENDED_MIN_EXAMPLES:
            warnings.append(
                f"{n_train} training examples: OpenAI recommends at least {RECOMMENDED_MIN_EXAMPLES} "
                "for a clear improvement"
            )
        if tally.format_errors:
            checks = "OpenAI's" if self.format.provider == "openai" else f"the {self.format.name}"
            warnings.append(f"{reasons[Reason.INVALID_EXAMPLE]} examples failed {checks} format checks")
        if tally.unexpected:
            kinds = ", ".join(f"{name} {n}" for name, n in sorted(tally.unexpected.items()))
            warnings.append(
                f"{sum(tally.unexpected.values())} rows could not be converted ({kinds}) and were rejected as "
                f"{Reason.MALFORMED}"
            )
        if reasons.get(Reason.RESERVED_KEYWORD):
            warnings.append(
                f"{reasons[Reason.RESERVED_KEYWORD]} rows hold a word Amazon Nova reserves "
                f"({', '.join(RESERVED_KEYWORDS)}) other than a speaker label, and were rejected as "
                f"{Reason.RESERVED_KEYWORD}"
            )
        if reasons.get(Reason.OVER_RECORD_LIMIT):
            warnings.append(
                f"{reasons[Reason.OVER_RECORD_LIMIT]} rows that passed every check were left out "
                f"({Reason.OVER_RECORD_LIMIT}): {self.config.base_model} takes at most {self.limits.max_records:,} "
                "training and validation records, and the first ones in export order were kept"
            )
        if self.format.provider != "openai" and self.limits.max_record_tokens is None:
            warnings.append(self._no_token_limit())
        if self.format.provider != "openai" and self.limits.min_records is None:
            warnings.append(f"{self.limits.source}: its record limits are not checked")
        return warnings

    def _no_token_limit(self) -> str:
        return (
            f"{self.config.base_model}'s longest training record is not published: records are not checked "
            "against a token limit"
        )

    def _cost(self, training: TrainingEstimate, tally: _Tally, counts: Mapping[str, int]) -> CostEstimate:
        """OpenAI: training at the table's price per 1M tokens. Bedrock: every part (`bedrock_cost`)."""
        config, table = self.config, self.price_table
        if self.format.provider == "bedrock":
            eval_tokens = sum(tally.tokens["eval"])
            return bedrock_cost(
                table,
                config.base_model,
                training,
                eval_examples=counts["eval"],
                eval_input_tokens=eval_tokens - tally.eval_response_tokens,
                eval_output_tokens=tally.eval_response_tokens,
            )
        priced = table.training_price(config.base_model)
        return CostEstimate(
            estimated_usd=round(training.billable_tokens * priced[1] / 1_000_000, 4) if priced else None,
            price_per_1m_training_tokens=priced[1] if priced else None,
            priced_as=priced[0] if priced else None,
            currency=table.currency,
            price_table_source=table.source,
            price_table_as_of=table.as_of,
            price_table_path=table.path,
            note="" if priced else f"no training price for {config.base_model} in the price table",
        )

    def _bedrock_details(self, tally: _Tally) -> BedrockDetails:
        limits, model = self.limits, self.config.base_model
        longest = limits.max_record_tokens
        longest_note = f"{longest.tokens:,} tokens ({longest.source})" if longest else self._no_token_limit()
        if limits.validation_set:
            validation = "written: validation.jsonl holds the validation share of the split"
        else:
            validation = (
                f"none: {model} trains without a validation file on Bedrock, so the validation share of the split "
                f"({self.config.split.validation:g}) went to training and validation.jsonl is empty (a run sends "
                "no validation file when it has no examples)"
            )
        return BedrockDetails(
            training_format=self.format.name,
            eval_format="neutral chat: data_row_id and system, user and assistant messages (every provider)",
            token_counts=self.format.token_note,
            record_limits=RecordLimitsReport(
                min_records=limits.min_records, max_records=limits.max_records, source=limits.source
            ),
            max_record_tokens_note=longest_note,
            validation=validation,
            speaker_labels_rewritten=tally.speaker_labels_rewritten,
            examples_with_speaker_labels_rewritten=tally.examples_rewritten,
            speaker_label_rule=SPEAKER_LABEL_RULE,
            reserved_keywords=list(RESERVED_KEYWORDS),
            over_record_limit=tally.reasons.get(Reason.OVER_RECORD_LIMIT, 0),
            epochs_note=self.format.rules["epochs"],
        )


def build_dataset(
    items: Iterable[bytes | str | Mapping[str, Any]],
    sink: DatasetSink,
    project_id: str,
    config: ProjectConfig,
    *,
    price_table: PriceTable | None = None,
    counter: TokenCounter | None = None,
    catalog: ModelCatalog | None = None,
    parsed: bool = False,
) -> DatasetReport:
    """Build the dataset of `project_id` from export lines or rows (`parsed=True`: rows only) into `sink`;
    return the report (also in the sink)."""
    builder = DatasetBuilder(project_id, config, price_table=price_table, counter=counter, catalog=catalog)
    return builder.build(items, sink, parsed=parsed)


def iter_export_lines(path: Path) -> Iterable[bytes]:
    """The lines of an NDJSON export file as bytes (gzip when the name ends in .gz), read incrementally."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from handle

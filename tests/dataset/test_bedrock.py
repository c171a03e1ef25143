"""The builder for Bedrock (Amazon Nova): bedrock-conversation-2024 lines, reserved keywords (speaker labels
rewritten, anything else rejected), the model's record and token limits from the catalog, Nova 2 Lite without a
validation file, Bedrock's epochs, and a cost estimate that says "unknown" rather than 0.

Expected values are written from the rules (/work/notes/bedrock_facts.md), not from the builder's code; AWS's
own validator runs over the same kind of output in test_nova_validator.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from labeltune.catalog import ModelCatalog, load_catalog
from labeltune.dataset import DirectorySink, build_dataset, load_price_table
from labeltune.dataset.builder import FILES, iter_export_lines
from labeltune.dataset.pricing import PriceTable
from labeltune.dataset.report import DatasetReport
from labeltune.domain.conversion import Reason
from labeltune.domain.project_config import Hyperparameters, ProjectConfig
from labeltune.domain.split import assign_split

from .rows import PROJECT, SYSTEM, line, row, valid_lines

EXPORT = Path(__file__).resolve().parents[2] / "examples" / "labelbox_export.ndjson"
SAMPLE_PROJECT = "clx-support-summaries-demo"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
SPLITS = ("train", "validation", "eval")


@lru_cache(maxsize=1)
def _o200k() -> Any:
    import tiktoken

    return tiktoken.get_encoding("o200k_base")


def tokens(*texts: str) -> int:
    return sum(len(_o200k().encode_ordinary(text)) for text in texts)


class Built:
    def __init__(self, directory: Path, report: DatasetReport) -> None:
        self.directory, self.report = directory, report

    def lines(self, name: str) -> list[dict[str, Any]]:
        text = (self.directory / FILES[name]).read_text(encoding="utf-8")
        return [json.loads(raw) for raw in text.splitlines()]

    def reasons_by_line(self) -> dict[int, str]:
        return {r["line_number"]: r["reason"] for r in self.lines("rejected")}

    def chats(self) -> dict[str, str]:
        """user text -> split, for every example written (train/validation: Bedrock lines; eval: neutral)."""
        found = {}
        for name in ("train", "validation"):
            for record in self.lines(name):
                found[record["messages"][0]["content"][0]["text"]] = name
        for record in self.lines("eval"):
            found[record["messages"][1]["content"]] = "eval"
        return found


def catalog(model: str = NOVA_MICRO, **limits: Any) -> ModelCatalog:
    """The packaged model catalog with some of `model`'s limits replaced."""
    packaged = load_catalog(environ={})
    models = tuple(m.model_copy(update=limits) if m.model == model else m for m in packaged.models)
    return packaged.model_copy(update={"models": models})


def build(
    items: Any,
    directory: Path,
    project: str = PROJECT,
    *,
    catalog: ModelCatalog | None = None,
    prices: PriceTable | None = None,
    **config: Any,
) -> Built:
    settings = {"system_prompt": SYSTEM, "provider": "bedrock", **config}
    with DirectorySink(directory) as sink:
        report = build_dataset(
            items,
            sink,
            project,
            ProjectConfig(**settings),
            catalog=catalog or load_catalog(environ={}),
            price_table=prices,
        )
    return Built(directory, report)


# --- the format ----------------------------------------------------------------------------------------


def test_train_and_validation_lines_are_bedrock_conversation_records(tmp_path: Path) -> None:
    built = build(valid_lines(60), tmp_path)
    assert built.report.base_model == NOVA_MICRO  # the provider's default model
    written = 0
    for name in ("train", "validation"):
        for record in built.lines(name):
            assert list(record) == ["schemaVersion", "system", "messages"]
            assert record["schemaVersion"] == "bedrock-conversation-2024"
            assert record["system"] == [{"text": SYSTEM}]
            user, assistant = record["messages"]
            assert set(user) == set(assistant) == {"role", "content"}
            assert (user["role"], assistant["role"]) == ("user", "assistant")
            assert len(user["content"]) == len(assistant["content"]) == 1
            assert list(user["content"][0]) == list(assistant["content"][0]) == ["text"]
            written += 1
    assert written == built.report.examples["train"] + built.report.examples["validation"] > 0


def test_eval_lines_stay_in_the_one_neutral_format(tmp_path: Path) -> None:
    openai = build(valid_lines(60), tmp_path / "openai", provider="openai")
    bedrock = build(valid_lines(60), tmp_path / "bedrock")
    assert openai.lines("eval") == bedrock.lines("eval") != []
    for record in bedrock.lines("eval"):
        assert list(record) == ["data_row_id", "messages"]
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) for m in record["messages"])


def test_the_same_rows_are_kept_and_split_alike_for_both_providers(tmp_path: Path) -> None:
    openai = build(iter_export_lines(EXPORT), tmp_path / "openai", SAMPLE_PROJECT, provider="openai")
    bedrock = build(iter_export_lines(EXPORT), tmp_path / "bedrock", SAMPLE_PROJECT)
    assert openai.report.examples == bedrock.report.examples == {"train": 62, "validation": 11, "eval": 7}
    assert openai.report.rejected_by_reason == bedrock.report.rejected_by_reason
    for name in ("train", "validation"):
        assert [r["messages"][1]["content"] for r in openai.lines(name)] == [
            r["messages"][0]["content"][0]["text"] for r in bedrock.lines(name)
        ]


# --- reserved keywords ---------------------------------------------------------------------------------

SPEAKER_LABELLED = {
    "User: my parcel never came.\nAssistant: I will resend it today.": (
        "User - my parcel never came.\nAssistant - I will resend it today.",
        2,
    ),
    "USER: hi\nassistant: hello\nUser: thanks": ("USER - hi\nassistant - hello\nUser - thanks", 3),
    "Ann Lee: my card was charged twice.\nChatbot: Let me check that.\nSystem: chat transferred to Bob.": (
        "Ann Lee: my card was charged twice.\nChatbot - Let me check that.\nSystem - chat transferred to Bob.",
        2,
    ),
    "[10:32] User: where is my order?\n[10:33] Virtual Assistant: It ships today.": (
        "[10:32] User - where is my order?\n[10:33] Virtual Assistant - It ships today.",
        2,
    ),
    "Ann Lee: My order is late.\n  bot: Sorry to hear that.": (  # indented (the chat itself is stripped)
        "Ann Lee: My order is late.\n  bot - Sorry to hear that.",
        1,
    ),
}


@pytest.mark.parametrize("chat", sorted(SPEAKER_LABELLED))
def test_speaker_labels_that_are_reserved_words_are_rewritten_and_counted(chat: str, tmp_path: Path) -> None:
    expected, labels = SPEAKER_LABELLED[chat]
    built = build([*valid_lines(12), line(row(900, chat=chat))], tmp_path)
    assert built.report.rejected == 0
    assert expected in built.chats()
    assert chat not in built.chats()
    details = built.report.bedrock
    assert details is not None
    assert (details.speaker_labels_rewritten, details.examples_with_speaker_labels_rewritten) == (labels, 1)


def test_a_rewritten_chat_is_evaluated_as_it_was_trained(tmp_path: Path) -> None:
    chat = "User: my parcel never came.\nAssistant: I will resend it today."
    rows = [row(n, chat=f"User: order {n} is late.\nAssistant: I will check order {n}.") for n in range(200)]
    built = build([*(line(r) for r in rows), line(row(900, chat=chat))], tmp_path)
    held_out = [r["messages"][1]["content"] for r in built.lines("eval")]
    assert held_out and all(text.startswith("User - order ") and "\nAssistant - " in text for text in held_out)
    assert built.report.bedrock is not None and built.report.bedrock.examples_with_speaker_labels_rewritten == 201


RESERVED_ELSEWHERE: dict[str, dict[str, Any]] = {
    "mid-line in the chat": {"chat": "Ann Lee: the app said User: unknown and logged me out."},
    "mid-line, other case": {"chat": "Ann Lee: it printed uSeR: null, then crashed."},
    "[EOS] in the chat": {"chat": "Ann Lee: my message ended in [EOS] somehow."},
    "<image> in the chat": {"chat": "Ann Lee: here is the receipt <image>"},
    "<video> in the chat": {"chat": "Ann Lee: I sent a <VIDEO> of the damage"},
    "<unk> in the chat": {"chat": "Ann Lee: the label shows <unk> instead of my name"},
    "Thought: mid-line": {"chat": "Ann Lee: just a Thought: can you hurry?"},
    "a label in the summary": {"summary": "User: reported a late order."},
    "mid-line in the summary": {"summary": "The customer typed Assistant: help and got no answer."},
    "[eos] in the summary": {"summary": "A late order.[eos]"},
    "a label two words deep": {"chat": "Please tell the user: your order is late."},
}


@pytest.mark.parametrize("case", sorted(RESERVED_ELSEWHERE))
def test_any_other_reserved_keyword_rejects_the_row(case: str, tmp_path: Path) -> None:
    lines = valid_lines(20)
    lines.insert(7, line(row(900, **RESERVED_ELSEWHERE[case])))
    built = build(lines, tmp_path)
    assert built.reasons_by_line() == {8: Reason.RESERVED_KEYWORD}
    assert built.report.rejected_by_reason == {Reason.RESERVED_KEYWORD: 1}
    assert any(Reason.RESERVED_KEYWORD in warning for warning in built.report.warnings)
    assert sum(built.report.examples.values()) == 20


@pytest.mark.parametrize("case", sorted(RESERVED_ELSEWHERE))
def test_openai_trains_on_those_rows_unchanged(case: str, tmp_path: Path) -> None:
    built = build([*valid_lines(12), line(row(900, **RESERVED_ELSEWHERE[case]))], tmp_path, provider="openai")
    assert built.report.rejected == 0 and sum(built.report.examples.values()) == 13
    assert "bedrock" not in json.loads((tmp_path / FILES["report"]).read_text())


@pytest.mark.parametrize(
    "system",
    [
        "Summarise the chat. Start with User: and the customer's problem.",
        "Summarise the chat; end with [EOS].",
        "Summarise the chat between the customer and the assistant: be brief.",  # "assistant:" in lower case
        "Describe any <image> the customer mentions.",
    ],
)
def test_a_system_prompt_holding_a_reserved_keyword_refuses_to_start(system: str, tmp_path: Path) -> None:
    read: list[bytes] = []

    def rows() -> Any:
        read.append(b"")
        yield from valid_lines(12)

    with pytest.raises(ValueError, match=r"system prompt is not usable for bedrock: .*reserved keyword"):
        build(rows(), tmp_path, system_prompt=system)
    assert read == []  # refused before a row was read
    build(valid_lines(12), tmp_path / "openai", system_prompt=system, provider="openai")  # OpenAI has no such rule


# --- the model's limits --------------------------------------------------------------------------------


def test_nova_2_lite_trains_without_a_validation_file(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import PROJECT_ID, generate_rows

    rows = list(generate_rows(300, seed=21))
    micro = build(rows, tmp_path / "micro", PROJECT_ID)
    lite = build(rows, tmp_path / "lite", PROJECT_ID, base_model=NOVA_2_LITE)
    assert micro.report.examples["validation"] > 0
    assert lite.report.examples == {
        "train": micro.report.examples["train"] + micro.report.examples["validation"],
        "validation": 0,
        "eval": micro.report.examples["eval"],
    }
    assert (tmp_path / "lite" / FILES["validation"]).read_bytes() == b""
    assert lite.report.ok and lite.report.examples["train"] >= 200
    assert lite.report.bedrock is not None and lite.report.bedrock.validation.startswith("none:")
    assert "went to training" in lite.report.bedrock.validation
    assert micro.report.bedrock is not None and micro.report.bedrock.validation.startswith("written")
    assert {k: v for k, v in lite.chats().items() if v == "eval"} == {
        k: v for k, v in micro.chats().items() if v == "eval"
    }


@pytest.mark.parametrize(
    "model,rows,minimum",
    [(NOVA_2_LITE, 150, 200), (NOVA_MICRO, 8, 10)],  # Nova Micro takes 8, the project's own floor is 10
)
def test_too_few_records_for_the_model_is_a_problem(model: str, rows: int, minimum: int, tmp_path: Path) -> None:
    built = build(valid_lines(rows), tmp_path, base_model=model)
    assert not built.report.ok
    assert f"need at least {minimum} training and 1 held-out" in built.report.problems[0]
    if model == NOVA_2_LITE:
        assert f"{NOVA_2_LITE} takes at least 200 training records" in built.report.problems[0]


def test_the_catalog_minimum_counts_when_it_is_the_higher_one(tmp_path: Path) -> None:
    built = build(valid_lines(40), tmp_path, catalog=catalog(min_records=50))
    assert not built.report.ok and "need at least 50 training" in built.report.problems[0]
    assert built.report.bedrock is not None and built.report.bedrock.record_limits.min_records == 50


def test_too_many_records_keeps_the_first_in_export_order(tmp_path: Path) -> None:
    rows = [row(n) for n in range(60)]
    built = build([line(r) for r in rows], tmp_path, catalog=catalog(max_records=20))
    uploaded = built.report.examples["train"] + built.report.examples["validation"]
    assert uploaded == 20
    splits = [assign_split(r["data_row"]["global_key"], ProjectConfig().split) for r in rows]
    kept_in_order = [n for n, split in enumerate(splits) if split != "eval"][:20]
    left_out = [n for n, split in enumerate(splits) if split != "eval"][20:]
    assert built.reasons_by_line() == {n + 1: Reason.OVER_RECORD_LIMIT for n in left_out}
    written = built.chats()
    assert all(written[rows[n]["data_row"]["row_data"]] in ("train", "validation") for n in kept_in_order)
    assert built.report.examples["eval"] == splits.count("eval")  # eval.jsonl is never uploaded, never capped
    assert built.report.bedrock is not None and built.report.bedrock.over_record_limit == len(left_out) > 0
    assert any("takes at most 20" in w and "first ones in export order" in w for w in built.report.warnings)
    assert built.report.ok


def test_a_row_left_out_for_the_record_limit_claims_no_chat(tmp_path: Path) -> None:
    rows = [row(n) for n in range(40)]
    over = catalog(max_records=5)
    first = build([line(r) for r in rows], tmp_path / "a", catalog=over)
    left_out = [n for n, reason in first.reasons_by_line().items() if reason == Reason.OVER_RECORD_LIMIT]
    assert left_out
    relabelled = dict(rows[left_out[0] - 1])
    relabelled["data_row"] = {**relabelled["data_row"], "id": "dr-again", "global_key": "again"}
    second = build([line(r) for r in rows] + [line(relabelled)], tmp_path / "b", catalog=over)
    assert second.reasons_by_line().get(41) != Reason.DUPLICATE_PROMPT


def test_the_longest_record_comes_from_the_catalog(tmp_path: Path) -> None:
    built = build(valid_lines(20), tmp_path)
    assert built.report.max_tokens_per_example == 32_000
    assert "model catalog" in built.report.max_tokens_source

    def record_tokens(record: dict[str, Any]) -> int:
        return tokens(record["system"][0]["text"], *(m["content"][0]["text"] for m in record["messages"]))

    longest = max(record_tokens(r) for name in ("train", "validation") for r in built.lines(name))
    tight = build(valid_lines(20), tmp_path / "tight", catalog=catalog(max_record_tokens=longest - 1))
    assert tight.report.max_tokens_per_example == longest - 1
    assert tight.report.rejected_by_reason[Reason.TOO_MANY_TOKENS] >= 1
    assert all(record_tokens(r) < longest for name in ("train", "validation") for r in tight.lines(name))


def test_nova_2_lite_has_no_published_record_length_and_the_report_says_so(tmp_path: Path) -> None:
    long_chat = "Ann Lee: " + "my parcel is late, please help " * 5000  # ~35k tokens, over Nova 1's 32k
    built = build([*valid_lines(12), line(row(900, chat=long_chat))], tmp_path, base_model=NOVA_2_LITE)
    assert built.report.rejected == 0
    assert built.report.max_tokens_per_example is None
    assert "not published" in built.report.max_tokens_source
    assert any("not published" in warning for warning in built.report.warnings)
    micro = build([*valid_lines(12), line(row(900, chat=long_chat))], tmp_path / "micro")
    assert micro.report.rejected_by_reason == {Reason.TOO_MANY_TOKENS: 1}


def test_a_model_missing_from_the_catalog_is_built_with_a_warning(tmp_path: Path) -> None:
    built = build(valid_lines(20), tmp_path, base_model="amazon.nova-future-v9:0:1m")
    assert built.report.ok and built.report.max_tokens_per_example is None
    assert any("not in the model catalog" in warning for warning in built.report.warnings)


# --- tokens, epochs, cost ------------------------------------------------------------------------------


def test_tokens_are_an_o200k_estimate_of_the_three_texts(tmp_path: Path) -> None:
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT)
    counts = [
        tokens(r["system"][0]["text"], *(m["content"][0]["text"] for m in r["messages"])) for r in built.lines("train")
    ]
    stats = built.report.tokens_per_example["train"]
    assert stats is not None and (stats.total, stats.min, stats.max) == (sum(counts), min(counts), max(counts))
    assert built.report.token_encoding == "o200k_base"
    assert built.report.bedrock is not None and built.report.bedrock.token_counts.startswith("estimate")
    assert "not public" in built.report.bedrock.token_counts


@pytest.mark.parametrize("configured,expected", [("auto", (2, "provider default")), (4, (4, "project configuration"))])
def test_epochs_are_bedrocks_not_the_cookbooks(configured: Any, expected: tuple[int, str], tmp_path: Path) -> None:
    built = build(valid_lines(12), tmp_path, hyperparameters=Hyperparameters(n_epochs=configured))
    training = built.report.training
    assert (training.n_epochs, training.n_epochs_source) == expected  # the cookbook would say 8 for 12 examples
    assert training.billable_tokens == training.train_tokens * expected[0]


def _eval_tokens(built: Built) -> tuple[int, int]:
    """(input, output) tokens of the eval split, counted here: system + user in, the reference summary out."""
    records = [r["messages"] for r in built.lines("eval")]
    return sum(tokens(m[0]["content"], m[1]["content"]) for m in records), sum(tokens(m[2]["content"]) for m in records)


def test_the_cost_of_nova_micro_with_unpublished_training_and_storage_prices(tmp_path: Path) -> None:
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT)
    cost = built.report.cost
    parts = {part.part: part for part in cost.parts or []}
    assert list(parts) == ["training", "storage per month", "inference, eval split", "inference per 1,000 examples"]
    for name in ("training", "storage per month"):
        assert parts[name].estimated_usd is None and parts[name].estimate == "unknown"
        assert "not published" in parts[name].priced_as
    assert cost.estimated_usd is None and "unknown" in cost.note  # never 0
    assert any("unknown" in warning for warning in built.report.warnings)
    assert f"{built.report.training.billable_tokens:,} training tokens" in parts["training"].basis
    inputs, outputs = _eval_tokens(built)
    expected = (inputs * 0.035 + outputs * 0.14) / 1e6  # Nova Micro on demand, USD per 1M tokens
    assert parts["inference, eval split"].estimated_usd == pytest.approx(expected, abs=1e-6)
    per_thousand = expected * 1000 / built.report.examples["eval"]
    assert parts["inference per 1,000 examples"].estimated_usd == pytest.approx(per_thousand, abs=1e-6)
    assert "0.035 USD per 1M input tokens" in parts["inference, eval split"].priced_as
    assert "standard rate" in parts["inference, eval split"].priced_as


def test_the_cost_with_every_price_known(tmp_path: Path) -> None:
    table = load_price_table(environ={})
    entry = table.bedrock[NOVA_MICRO].model_copy(update={"training_per_1m_tokens": 2.0, "storage_per_month": 1.5})
    priced = table.model_copy(update={"bedrock": {**table.bedrock, NOVA_MICRO: entry}})
    built = build(iter_export_lines(EXPORT), tmp_path, SAMPLE_PROJECT, prices=priced)
    cost, training = built.report.cost, built.report.training
    parts = {part.part: part for part in cost.parts or []}
    assert cost.estimated_usd == round(training.billable_tokens * 2.0 / 1e6, 4)
    assert parts["training"].estimated_usd == pytest.approx(training.billable_tokens * 2.0 / 1e6, abs=1e-6)
    assert parts["storage per month"].estimated_usd == 1.5
    assert all(part.estimate.endswith(" USD") for part in parts.values())
    assert cost.note == "" and not any("unknown" in warning for warning in built.report.warnings)


def test_a_model_missing_from_the_price_table_costs_unknown(tmp_path: Path) -> None:
    empty = load_price_table(environ={}).model_copy(update={"bedrock": {}})
    built = build(valid_lines(20), tmp_path, prices=empty)
    assert all(part.estimate == "unknown" for part in built.report.cost.parts or [])
    assert f"no entry for {NOVA_MICRO}" in built.report.cost.note


# --- the report's shape --------------------------------------------------------------------------------

OPENAI_REPORT_KEYS = {
    "schema_version", "ok", "problems", "warnings", "project_id", "base_model", "token_encoding",
    "max_tokens_per_example", "max_tokens_source", "rows_read", "blank_lines", "examples", "rejected",
    "rejected_by_reason", "duplicates_removed", "format_errors", "unexpected_errors", "tokens_per_example",
    "assistant_tokens_per_example", "training", "cost", "split_ratios", "min_examples", "rules", "files",
}  # fmt: skip
OPENAI_COST_KEYS = {
    "estimated_usd", "price_per_1m_training_tokens", "priced_as", "currency", "price_table_source",
    "price_table_as_of", "price_table_path", "note",
}  # fmt: skip


def test_the_openai_report_keeps_its_shape_and_bedrocks_adds_two_sections(tmp_path: Path) -> None:
    build(valid_lines(20), tmp_path / "openai", provider="openai")
    build(valid_lines(20), tmp_path / "bedrock")
    openai = json.loads((tmp_path / "openai" / FILES["report"]).read_text())
    bedrock = json.loads((tmp_path / "bedrock" / FILES["report"]).read_text())
    assert set(openai) == OPENAI_REPORT_KEYS and set(openai["cost"]) == OPENAI_COST_KEYS
    assert set(bedrock) == OPENAI_REPORT_KEYS | {"bedrock"}
    assert set(bedrock["cost"]) == OPENAI_COST_KEYS | {"parts"}
    assert DatasetReport.model_validate(bedrock).model_dump(mode="json") == bedrock  # it reads back as written
    assert {"reserved_keywords", "record_limit", "validation"} <= set(bedrock["rules"])


BEDROCK_BAD_ROWS: dict[str, Callable[..., None]] = {
    Reason.RESERVED_KEYWORD: test_any_other_reserved_keyword_rejects_the_row,
    Reason.OVER_RECORD_LIMIT: test_too_many_records_keeps_the_first_in_export_order,
}
"""Bedrock's own reason codes and the tests that make a row get them (test_builder.py checks every code has one)."""


def test_the_per_row_keyword_check_agrees_with_the_plain_rule() -> None:
    # The builder's check splits at colons instead of searching for each keyword (for the throughput floor):
    # it must answer exactly what "any keyword, lower-cased, is in the lower-cased text" answers.
    import random

    from labeltune.dataset.formats import RESERVED_KEYWORDS, _has_reserved

    pieces = [*"userbotasistmhgvideoknUSERBOT<>[]: \n", "user:", "<image>", "[EOS]", "Thought:", "\u212a", "İ", "Ann:"]
    rng = random.Random(3)
    hits = 0
    for _ in range(50_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 24)))
        expected = any(keyword.lower() in text.lower() for keyword in RESERVED_KEYWORDS)
        assert _has_reserved(text) == expected, repr(text)
        hits += expected
    assert 5_000 < hits < 45_000

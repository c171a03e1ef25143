"""AWS's own Nova dataset validator (vendored in nova_validator/, see its README) over what
`labeltune dataset build --provider bedrock` writes: the sample export, chats whose turns are labelled "User:" /
"Assistant:", and a generated export large enough for Nova 2 Lite. It shares no code with the builder."""

from __future__ import annotations

import io
import json
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from labeltune_tools.cli import build_parser
from labeltune_tools.commands.dataset import build as build_command

from .rows import line, row, valid_lines

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # upstream's pydantic idioms warn under pydantic 2.12+; kept as AWS wrote them
    from .nova_validator import nova_ft_dataset_validator as nova

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def dataset_build(export: Path, out: Path, *options: str) -> dict:
    """`labeltune dataset build EXPORT --out OUT --provider bedrock [options] --json`: (its report)."""
    args = build_parser().parse_args(
        ["dataset", "build", str(export), "--out", str(out), "--provider", "bedrock", *options, "--json"]
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    status = build_command(args, stdout, stderr)
    assert status == 0, (status, stdout.getvalue()[-2000:], stderr.getvalue())
    report: dict = json.loads(stdout.getvalue())
    return report


def validate(train: Path, model: str, validation: Path | None = None) -> tuple[int, str]:
    """AWS's validator, as its CLI runs it (SFT on Bedrock): (exit status, what it printed)."""
    argv = ["-i", str(train), "-m", model, "-t", "sft", "-p", "bedrock", "--skip-bad-samples"]
    if validation is not None:
        argv += ["--validation", str(validation)]
    out = io.StringIO()
    with redirect_stdout(out):
        status = nova.main(argv)
    return status, out.getvalue()


def test_the_vendored_keyword_list_has_its_commas_back() -> None:
    # Upstream's commit joined "thought:" "THOUGHT:" "[EOS]" into one string, so Thought: and [EOS] went unseen.
    assert {"Thought:", "[EOS]", "User:", "Assistant:", "Bot:", "System:", "<unk>"} <= set(nova.INVALID_TOKENS_TEXT)
    assert all(token.count(":") <= 1 for token in nova.INVALID_TOKENS_TEXT)


def test_the_sample_export_for_nova_micro(tmp_path: Path) -> None:
    report = dataset_build(EXPORT, tmp_path)
    assert report["examples"] == {"train": 62, "validation": 11, "eval": 7}
    status, printed = validate(tmp_path / "train.jsonl", "micro", tmp_path / "validation.jsonl")
    assert status == 0, printed
    assert "Valid samples:   62" in printed and "Valid samples:   11" in printed


def test_chats_with_speaker_labels_for_nova_micro(tmp_path: Path) -> None:
    chats = [
        f"User: my order ORD-{100000 + n} has not arrived.\nAssistant: Sorry about that, let me check.\n"
        f"user: it was due on Monday.\nASSISTANT: It ships again today, order {n}."
        for n in range(40)
    ]
    chats += [
        f"[09:{n:02d}] User: my card was charged twice for order {n}.\n[09:{n:02d}] Chatbot: I refunded one."
        for n in range(20)
    ]
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"".join([*(line(row(1000 + n, chat=chat)) for n, chat in enumerate(chats)), *valid_lines(20)]))
    report = dataset_build(export, tmp_path / "ds", "--project", "clx-dataset-tests")
    assert report["rejected"] == 0 and report["bedrock"]["examples_with_speaker_labels_rewritten"] == 60
    status, printed = validate(tmp_path / "ds" / "train.jsonl", "micro", tmp_path / "ds" / "validation.jsonl")
    assert status == 0, printed


def test_a_generated_export_for_nova_2_lite(tmp_path: Path) -> None:
    from labeltune_tools.sample_data import write_export

    export = tmp_path / "export.ndjson"
    write_export(export, n_valid=300, seed=5)
    report = dataset_build(export, tmp_path / "ds", "--base-model", NOVA_2_LITE)
    assert report["ok"] and report["examples"]["validation"] == 0 and report["examples"]["train"] >= 200
    assert (tmp_path / "ds" / "validation.jsonl").read_bytes() == b""  # no validation file for Bedrock to refuse
    status, printed = validate(tmp_path / "ds" / "train.jsonl", "lite-2.0")
    assert status == 0, printed


@pytest.mark.parametrize(
    "text",
    ["User: my order is late", "the app printed user: null", "Thought: hmm", "a late order[EOS]", "see <IMAGE>"],
)
def test_the_validator_fails_what_the_builder_rejects_or_rewrites(text: str, tmp_path: Path) -> None:
    # The check is only worth running if it can fail: the same records with a reserved keyword put back.
    dataset_build(EXPORT, tmp_path)
    train = tmp_path / "train.jsonl"
    records = [json.loads(raw) for raw in train.read_text().splitlines()]
    records[3]["messages"][0]["content"][0]["text"] = text
    spoiled = tmp_path / "spoiled.jsonl"
    spoiled.write_text("".join(json.dumps(r) + "\n" for r in records))
    status, printed = validate(spoiled, "micro")
    assert status == 1 and "invalid_token_error: 1" in printed


def test_the_validator_fails_openai_lines_and_a_validation_file_for_nova_2_lite(tmp_path: Path) -> None:
    args = build_parser().parse_args(["dataset", "build", str(EXPORT), "--out", str(tmp_path / "openai")])
    assert build_command(args, io.StringIO(), io.StringIO()) == 0
    status, _ = validate(tmp_path / "openai" / "train.jsonl", "micro")
    assert status == 1  # OpenAI's {"role", "content": str} messages are not Nova's
    dataset_build(EXPORT, tmp_path / "micro")
    status, printed = validate(tmp_path / "micro" / "train.jsonl", "lite-2.0", tmp_path / "micro" / "validation.jsonl")
    assert status == 1 and "does not support a validation dataset" in printed

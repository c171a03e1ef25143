"""An independent checker of OpenAI's chat fine-tuning data rules, for the tests.

Written from OpenAI's published rules (fine-tuning guide, "Preparing your dataset"; the cookbook "Data
preparation and analysis for chat model fine-tuning"; REFERENCE.md section 4), NOT from labeltune's own
validation module, which it must never import: a bug shared by both would pass unseen.

The rules:
- the file is UTF-8 text, one JSON object per line;
- each object has a non-empty "messages" list and nothing OpenAI does not define for chat fine-tuning;
- each message is an object with a "role" of system, user or assistant and a "content" string that is not
  empty or only whitespace; keys are limited to role, content, name and weight; a name is 1 to 64 letters,
  digits, "_" or "-" (the chat API's pattern);
- "weight" appears only on assistant messages and is the integer 0 or 1;
- every example has an assistant message that is trained on (weight 1 or absent), and (labeltune's own
  contract) ends with one;
- an example's tokens, counted with the base model's encoding (o200k_base for gpt-4o/4.1) the way the
  cookbook counts them, fit the per-example limit (65,536 tokens for the gpt-4o and gpt-4.1 families);
- a training file has at least 10 examples; a validation file shares no example with the training file;
- (labeltune's own contract) one chat, one example: no two user messages in train, validation and eval
  together are equal once every whitespace character is removed and case is folded, so no chat is in two
  files (train and eval, or train and validation).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

OPENAI_EXAMPLE_TOKEN_LIMIT = 65_536  # gpt-4o / gpt-4.1 families
OPENAI_MIN_TRAINING_EXAMPLES = 10


@lru_cache(maxsize=1)
def _o200k() -> Any:
    import tiktoken

    return tiktoken.get_encoding("o200k_base")


def cookbook_tokens(messages: list[dict[str, Any]]) -> int:
    """The cookbook's num_tokens_from_messages (3 per message, 1 per name, 3 per reply), o200k_base."""
    encoding = _o200k()
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if key == "weight":
                continue  # the cookbook's crash: it would encode the integer
            total += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def example_problems(example: Any, token_limit: int = OPENAI_EXAMPLE_TOKEN_LIMIT) -> list[str]:
    if not isinstance(example, dict):
        return ["line is not a JSON object"]
    problems = []
    if set(example) != {"messages"}:
        problems.append(f"keys other than messages: {sorted(set(example) - {'messages'})}")
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages is not a non-empty list"]
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            problems.append(f"message {index} is not an object")
            continue
        extra = set(message) - {"role", "content", "name", "weight"}
        if extra:
            problems.append(f"message {index} has unknown keys {sorted(extra)}")
        if message.get("role") not in ("system", "user", "assistant"):
            problems.append(f"message {index} has role {message.get('role')!r}")
        content = message.get("content")
        if not isinstance(content, str) or content.strip() == "":
            problems.append(f"message {index} has no content")
        if "name" in message and not (
            isinstance(message["name"], str) and re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", message["name"])
        ):
            problems.append(f"message {index}: name {message['name']!r} is not 1-64 of [a-zA-Z0-9_-]")
        if "weight" in message:
            weight = message["weight"]
            if message.get("role") != "assistant":
                problems.append(f"message {index}: weight on a {message.get('role')} message")
            if isinstance(weight, bool) or not isinstance(weight, int) or weight not in (0, 1):
                problems.append(f"message {index}: weight {weight!r} is not 0 or 1")
    trained = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant" and m.get("weight", 1) == 1]
    if not trained:
        problems.append("no assistant message to train on")
    if not (isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant"):
        problems.append("does not end with the assistant's answer")
    if not problems and cookbook_tokens(messages) > token_limit:
        problems.append(f"{cookbook_tokens(messages)} tokens, over the {token_limit} limit")
    return problems


def file_examples(path: Path, *, strip_keys: tuple[str, ...] = ()) -> tuple[list[Any], list[str]]:
    """(the parsed examples, the problems) of a JSONL file; `strip_keys` are removed before checking
    (eval.jsonl's data_row_id, which is never sent to OpenAI)."""
    problems: list[str] = []
    examples: list[Any] = []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return [], [f"{path.name} is not UTF-8: {error}"]
    if text and not text.endswith("\n"):
        problems.append(f"{path.name} does not end with a newline")
    for number, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
        try:
            example = json.loads(line)
        except ValueError as error:
            problems.append(f"{path.name}:{number} is not JSON: {error}")
            continue
        if isinstance(example, dict):
            example = {k: v for k, v in example.items() if k not in strip_keys}
        problems += [f"{path.name}:{number}: {p}" for p in example_problems(example)]
        examples.append(example)
    return examples, problems


def _chat_key(text: str) -> str:
    """A user message with every whitespace character removed and case folded (written here from the rule,
    character by character, not with the builder's code)."""
    return "".join(ch for ch in text.casefold() if not ch.isspace())


def shared_prompts(files: dict[str, list[Any]]) -> list[str]:
    """Problems for every chat (user message, see _chat_key) found twice, in two files or in one."""
    seen: dict[str, str] = {}
    problems = []
    for name, examples in files.items():
        for example in examples:
            messages = example.get("messages") if isinstance(example, dict) else None
            users = [m["content"] for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
            for content in users:
                if not isinstance(content, str):
                    continue
                key = _chat_key(content)
                if key in seen:
                    problems.append(f"a chat of {name} is in {seen[key]} too")
                seen.setdefault(key, name)
    return problems


def dataset_problems(directory: Path, *, min_examples: int = OPENAI_MIN_TRAINING_EXAMPLES) -> list[str]:
    """Every OpenAI rule over the files a build wrote; eval.jsonl is checked without its data_row_id."""
    train, problems = file_examples(directory / "train.jsonl")
    validation, more = file_examples(directory / "validation.jsonl")
    problems += more
    held_out, more = file_examples(directory / "eval.jsonl", strip_keys=("data_row_id",))
    problems += more
    problems += shared_prompts({"train": train, "validation": validation, "eval": held_out})
    if len(train) < min_examples:
        problems.append(f"train.jsonl has {len(train)} examples, fewer than {min_examples}")
    seen = {json.dumps(e, sort_keys=True) for e in train}
    overlap = [e for e in validation if json.dumps(e, sort_keys=True) in seen]
    if overlap:
        problems.append(f"{len(overlap)} validation examples repeat training examples")
    return problems

"""A seeded, synthetic Labelbox export of a Text project: customer-support chats with human summaries.

Why synthetic: the demo, the tests and the benchmarks need realistic chats full of personal data, and
the PII evaluation needs to know exactly which personal data each chat holds. A generator knows that
ground truth (`GeneratedChat.pii`) without trusting the extractor it is used to test.

Each row follows Labelbox's export format (one NDJSON line per data row, as `project.export()` with
project details writes it) and adds nothing of its own: the chat is the data row's `row_data` (one
"Full Name: text" turn per line), the human summary is a free-text classification named "summary"
that contains no personal data. A few rows, with global keys "chat-bad-...", are ones the pipeline
must reject.

Deterministic: the same (n_valid, seed) gives the same rows, byte for byte once serialised; no clock is
read. Faker is a dev-only dependency, so it is imported inside `generate_chats` only.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faker import Faker

PROJECT_ID = "clx-support-summaries-demo"
PROJECT_NAME = "Support chat summaries"
DATASET_ID = "ds-support-chats-demo"
BATCH_ID = "batch-support-chats-01"
SUMMARY_NAME = "summary"
SUMMARY_FEATURE_SCHEMA_ID = "fs-summary"
SENTIMENT_FEATURE_SCHEMA_ID = "fs-sentiment"
DEFAULT_SEED = 2026
DEFAULT_VALID_ROWS = 80
BRAND = "Northwind"

# PII types of the ground truth; the same names as labeltune.domain.pii uses.
NAME, EMAIL, PHONE, ORDER_ID, ACCOUNT_ID = "name", "email", "phone", "order_id", "account_id"

_EPOCH = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
_LABELERS = ("labeler-01@labeltune.example", "labeler-02@labeltune.example", "labeler-03@labeltune.example")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_MIN_NAME_PART = 3
# Names that are also everyday words would be "leaked" by any summary that uses the word; the
# generator avoids them so the demo's leak rate measures the model, not the dictionary.
# fmt: off
_COMMON_WORDS = frozenset({
    "will", "may", "june", "april", "august", "young", "long", "king", "price", "rich", "wood", "hill",
    "bell", "page", "case", "rose", "joy", "hope", "mark", "grant", "lane", "white", "black", "brown",
    "green", "gray", "grey", "little", "small", "short", "wise", "law", "cash", "bill", "charge", "chase",
    "hunter", "banks", "story", "ward", "pace", "park", "love", "day", "west", "north", "south", "east",
    "summer", "winter", "rice", "fox", "cook", "cross", "hall", "best", "strong", "free", "good", "sharp",
    "frank", "faith", "dawn", "sky", "star", "ray", "wall", "stone", "hand", "holder", "rivers", "waters",
    "field", "fields", "guy", "order", "support", "key", "ball", "bush", "snow", "gold", "glass", "mercy"
})
# fmt: on
# Rejectable rows, one of each defect, by global key suffix.
REJECTABLE = ("no-labels", "to-label", "empty-summary", "in-review", "in-rework", "no-summary-classification")


@dataclass(frozen=True)
class GeneratedChat:
    """One export row with what the generator knows about it.

    `pii` is the ground truth in the shape `labeltune.domain.pii.extract_pii` returns; `summary` is the
    final (latest) human summary; `defect` is None for a valid row, else the REJECTABLE entry it shows.
    """

    row: dict[str, Any]
    pii: dict[str, set[str]]
    scenario: str
    summary: str
    defect: str | None = None

    @property
    def valid(self) -> bool:
        return self.defect is None

    @property
    def global_key(self) -> str:
        return self.row["data_row"]["global_key"]


def generate_chats(
    n_valid: int = DEFAULT_VALID_ROWS, seed: int = DEFAULT_SEED, include_rejectable: bool = True
) -> Iterator[GeneratedChat]:
    """The rows of the export in file order: n_valid valid rows, with the rejectable ones spread among them."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    defects = REJECTABLE if include_rejectable else ()
    # Rejectable row k goes after valid row (k + 1) * n / (len + 1), so they are spread, not bunched.
    slots = [(k + 1) * n_valid // (len(defects) + 1) for k in range(len(defects))]
    yield from (_rejectable(fake, rng, 0, d) for d, slot in zip(defects, slots, strict=True) if slot == 0)
    scenarios: list[str] = []
    for number in range(1, n_valid + 1):
        if not scenarios:  # every scenario once per cycle, in a shuffled order
            scenarios = sorted(_SCENARIOS)
            rng.shuffle(scenarios)
        yield _build(fake, rng, number, f"chat-{number:04d}", scenarios.pop(), None)
        yield from (_rejectable(fake, rng, number, d) for d, slot in zip(defects, slots, strict=True) if slot == number)


def generate_rows(n_valid: int = DEFAULT_VALID_ROWS, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """Just the export rows (dicts in the Labelbox export format), valid and rejectable."""
    for chat in generate_chats(n_valid, seed):
        yield chat.row


def export_line(row: dict[str, Any]) -> str:
    """One NDJSON line, serialised the same way every time."""
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_export(path: Path, n_valid: int = DEFAULT_VALID_ROWS, seed: int = DEFAULT_SEED) -> int:
    """Write the NDJSON export to `path`; return the number of rows written."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in generate_rows(n_valid, seed):
            out.write(export_line(row))
            count += 1
    return count


# --------------------------------------------------------------------------------------------------
# One chat


@dataclass
class _Chat:
    """A chat being written: the people, their PII, the turns so far."""

    rng: random.Random
    customer: str
    agent: str
    email: str
    phone: str  # 10 digits
    order_id: str
    account_id: str | None
    turns: list[tuple[str, str]] = field(default_factory=list)
    order_ids: set[str] = field(default_factory=set)

    @property
    def first(self) -> str:
        return self.customer.split()[0]

    @property
    def agent_first(self) -> str:
        return self.agent.split()[0]

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def c(self, text: str) -> None:
        self.turns.append((self.customer, text))

    def a(self, text: str) -> None:
        self.turns.append((self.agent, text))

    def open_with(self, text: str) -> None:
        """The customer's first message, sometimes greeting the agent or giving their name."""
        prefix = self.pick(
            "",
            "",
            f"Hi {self.agent_first}, ",
            f"Hello, this is {self.customer}. ",
            f"Hi, {self.first} here. ",
            "Hi there. ",
        )
        if prefix.endswith(", ") and not re.match(r"I\b", text):
            text = text[0].lower() + text[1:]
        self.c(prefix + text)

    def new_order_id(self) -> str:
        order_id = _order_id(self.rng)
        self.order_ids.add(order_id)
        return order_id

    def phone_text(self) -> str:
        a, b, c = self.phone[:3], self.phone[3:6], self.phone[6:]
        return self.rng.choice(_PHONE_FORMATS).format(a=a, b=b, c=c)

    def verify(self) -> None:
        """The identity check every chat has: the customer gives email, phone, maybe the account id."""
        self.a(
            self.pick(
                "Could you confirm the email address on your account?",
                "To find your account, what's your email and a phone number we can reach you on?",
                "Happy to help. Can I get the email on the order so I can verify it's you?",
                "Sure. First, please confirm your email and phone number.",
            )
        )
        phone = self.phone_text()
        reply = self.pick(f"It's {self.email}", f"Sure, {self.email}", f"Email is {self.email}") + self.pick(
            f", and my phone is {phone}.", f", phone {phone}.", f". You can call me on {phone}."
        )
        if self.account_id:
            reply += self.pick(f" My account number is {self.account_id}.", f" Account ID {self.account_id}.")
        self.c(reply)
        if self.rng.random() < 0.4:
            self.a(f"Thanks {self.first}, you're verified. I'll note {self.phone_text()} as your callback number.")
        else:
            self.a(self.pick(f"Thanks, {self.first}. You're verified.", "Thank you, that matches our records."))

    def closing(self) -> None:
        self.a(self.pick(f"Is there anything else I can help with, {self.first}?", "Anything else I can do for you?"))
        self.c(self.pick(f"No, that's all. Thanks {self.agent_first}!", "That's everything, thank you.", "No, thanks!"))
        self.a(self.pick("You're welcome. Have a great day!", f"Thanks for contacting {BRAND}. Take care!"))

    def transcript(self) -> str:
        return "\n".join(f"{speaker}: {text}" for speaker, text in self.turns)

    def pii(self) -> dict[str, set[str]]:
        return {
            NAME: _name_values(self.customer) | _name_values(self.agent),
            EMAIL: {self.email.lower()},
            PHONE: {self.phone},
            ORDER_ID: {self.order_id, *self.order_ids},
            ACCOUNT_ID: {self.account_id} if self.account_id else set(),
        }


_PHONE_FORMATS = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "+1 {a} {b} {c}",
    "+1-{a}-{b}-{c}",
    "{a} {b} {c}",
    "+1 ({a}) {b}-{c}",
    "{a}{b}{c}",
    "1-{a}-{b}-{c}",
)
_APPLIANCES = (
    "wireless speaker",
    "coffee grinder",
    "desk lamp",
    "blender",
    "smart watch",
    "kettle",
    "electric toothbrush",
    "air fryer",
)
_CLOTHES = ("rain jacket", "winter coat", "hoodie", "fleece jacket", "wool sweater")
_ITEMS = (*_APPLIANCES, *_CLOTHES, "travel backpack", "camping stove", "yoga mat", "office chair")


def _build(
    fake: Faker, rng: random.Random, number: int, global_key: str, scenario: str, defect: str | None
) -> GeneratedChat:
    # The chat is written with its own random stream, so redrawing clashing names replays it exactly.
    chat_seed = rng.getrandbits(64)
    while True:
        customer, agent = _person(fake), _person(fake)
        if set(_name_values(customer)) & set(_name_values(agent)):
            continue
        chat = _Chat(
            rng=random.Random(chat_seed),
            customer=customer,
            agent=agent,
            email=_email(fake, rng, customer),
            phone=_phone_digits(rng),
            order_id="",
            account_id=None,
        )
        chat.order_id = _order_id(chat.rng)
        if scenario in _NEEDS_ACCOUNT or chat.rng.random() < 0.3:
            chat.account_id = f"ACC-{chat.rng.randint(10000, 99999)}"
        chat.a(
            chat.pick(
                f"Hi, you're chatting with {chat.agent_first} from {BRAND} support. How can I help today?",
                f"Hello! My name is {chat.agent_first}. What can I do for you?",
                f"Thanks for contacting {BRAND}, this is {chat.agent_first}. How can I help?",
            )
        )
        summaries = _SCENARIOS[scenario](chat)
        chat.closing()
        words = {w.lower() for s in summaries for w in re.findall(r"[^\W\d_]+", s)}
        if not words & {v.lower() for v in chat.pii()[NAME]}:
            break
    row = _row(rng, number, global_key, chat.transcript(), summaries)
    return GeneratedChat(row=row, pii=chat.pii(), scenario=scenario, summary=summaries[-1], defect=defect)


def _rejectable(fake: Faker, rng: random.Random, number: int, defect: str) -> GeneratedChat:
    chat = _build(fake, rng, number, f"chat-bad-{defect}", rng.choice(sorted(_SCENARIOS)), defect)
    project = chat.row["projects"][PROJECT_ID]
    label = project["labels"][-1]
    project["labels"] = [label]
    summary = chat.summary
    if defect in ("no-labels", "to-label"):
        project["labels"] = []
        summary = ""
        if defect == "to-label":
            project["project_details"]["workflow_status"] = "TO_LABEL"
    elif defect == "empty-summary":
        label["annotations"]["classifications"][0]["text_answer"]["content"] = "  \n "
        summary = "  \n "
    elif defect == "in-review":
        project["project_details"]["workflow_status"] = "IN_REVIEW"
    elif defect == "in-rework":
        project["project_details"]["workflow_status"] = "IN_REWORK"
    elif defect == "no-summary-classification":
        label["annotations"]["classifications"] = [_sentiment(rng)]
        summary = ""
    return GeneratedChat(row=chat.row, pii=chat.pii, scenario=chat.scenario, summary=summary, defect=defect)


def _person(fake: Faker) -> str:
    while True:
        name = f"{fake.first_name()} {fake.last_name()}"
        if not any(part.lower() in _COMMON_WORDS for part in re.split(r"[\s\-]+", name)):
            return name


def _name_values(full_name: str) -> set[str]:
    # The rule of labeltune.domain.pii.name_values, restated so the ground truth does not depend on it.
    values = {full_name}
    for word in full_name.split():
        values.update(p for p in {word, *word.split("-")} if len(p) >= _MIN_NAME_PART)
    return values


def _email(fake: Faker, rng: random.Random, full_name: str) -> str:
    first, last = (re.sub(r"[^a-z]", "", part.lower()) for part in full_name.split(maxsplit=1))
    local = rng.choice(
        (
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}{last[0]}{rng.randint(1, 99)}",
            f"{last}.{first}",
            f"{first}_{last}{rng.randint(1, 9)}",
        )
    )
    return f"{local}@{fake.free_email_domain()}"


def _phone_digits(rng: random.Random) -> str:
    # North American numbering: area code and exchange start 2-9; avoid N11 service codes.
    while True:
        area, exchange = rng.randint(201, 989), rng.randint(201, 989)
        if area % 100 != 11 and exchange % 100 != 11:
            return f"{area}{exchange}{rng.randint(0, 9999):04d}"


def _order_id(rng: random.Random) -> str:
    return f"ORD-{rng.randint(100000, 999999)}"


def _cuid(rng: random.Random) -> str:
    """A Labelbox-looking id (25 characters starting "cl")."""
    return "cl" + "".join(rng.choices(_ID_ALPHABET, k=23))


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def _row(rng: random.Random, number: int, global_key: str, transcript: str, summaries: list[str]) -> dict[str, Any]:
    created = _EPOCH + timedelta(minutes=37 * number, seconds=rng.randint(0, 59))
    labels = []
    for version, summary in enumerate(summaries):
        labelled = created + timedelta(hours=4 + 20 * version, minutes=rng.randint(0, 59))
        labels.append(
            {
                "id": _cuid(rng),
                "label_kind": "Default",
                "label_details": {
                    "created_at": _timestamp(labelled),
                    "updated_at": _timestamp(labelled + timedelta(minutes=rng.randint(1, 30))),
                    "created_by": rng.choice(_LABELERS),
                    "reviews": [],
                },
                "annotations": {
                    "objects": [],
                    "relationships": [],
                    "classifications": [
                        {
                            "feature_id": _cuid(rng),
                            "feature_schema_id": SUMMARY_FEATURE_SCHEMA_ID,
                            "name": SUMMARY_NAME,
                            "value": SUMMARY_NAME,
                            "text_answer": {"content": summary},
                        }
                    ],
                },
            }
        )
    return {
        "data_row": {
            "id": _cuid(rng),
            "global_key": global_key,
            "external_id": f"{global_key}.txt",
            "row_data": transcript,
            "details": {"dataset_id": DATASET_ID, "created_at": _timestamp(created)},
        },
        "media_attributes": {"mime_type": "text/plain"},
        "projects": {
            PROJECT_ID: {
                "name": PROJECT_NAME,
                "labels": labels,
                "project_details": {"batch_id": BATCH_ID, "workflow_status": "DONE", "workflow_history": []},
            }
        },
    }


def _sentiment(rng: random.Random) -> dict[str, Any]:
    """A classification that is not the summary (a radio answer), for the row that lacks one."""
    return {
        "feature_id": _cuid(rng),
        "feature_schema_id": SENTIMENT_FEATURE_SCHEMA_ID,
        "name": "sentiment",
        "value": "sentiment",
        "radio_answer": {
            "feature_id": _cuid(rng),
            "feature_schema_id": "fs-sentiment-negative",
            "name": "negative",
            "value": "negative",
            "classifications": [],
        },
    }


# --------------------------------------------------------------------------------------------------
# Scenarios: each writes the middle of the chat and returns its human summaries (usually one; two when
# the row was relabelled, oldest first). Summaries describe what happened with no personal data.


def _summaries(chat: _Chat, *options: str) -> list[str]:
    # About one row in twelve was labelled twice (rework): two differently worded summaries.
    if chat.rng.random() < 0.08:
        first, second = chat.rng.sample(options, 2)
        return [first, second]
    return [chat.rng.choice(options)]


def _refund(chat: _Chat) -> list[str]:
    item, days = chat.rng.choice(_ITEMS), chat.rng.choice((3, 5, 7, 10))
    chat.open_with(
        chat.pick(
            f"I sent back my {item} two weeks ago and still haven't seen the refund. Order {chat.order_id}.",
            f"I returned the {item} from order {chat.order_id} and I'm still waiting on my money.",
            f"Where is my refund? The {item} went back last week, order number {chat.order_id}.",
        )
    )
    chat.verify()
    chat.a(
        chat.pick(
            "I can see the return was scanned at our warehouse on Tuesday.",
            "The return arrived at our warehouse and passed inspection.",
        )
    )
    chat.a(f"I've issued the refund now; it should reach your original payment method within {days} business days.")
    chat.c(chat.pick("Great, thank you!", "OK, good to know."))
    return _summaries(
        chat,
        f"Customer asked about a missing refund for the returned {item}. Agent confirmed the return had been "
        f"received and issued the refund to the original payment method, expected within {days} business days.",
        f"Customer had returned the {item} but had not been refunded. Agent verified the return, processed the "
        f"refund and said it would arrive within {days} business days.",
        f"Refund request for the returned {item}. The return was confirmed as received; agent issued the "
        f"refund to the original payment method ({days} business days).",
    )


def _late_delivery(chat: _Chat) -> list[str]:
    when = chat.pick("last Friday", "three days ago", "on Monday", "a week ago")
    chat.open_with(
        chat.pick(
            f"My order {chat.order_id} was supposed to arrive {when} and it still isn't here.",
            f"Order {chat.order_id} is late. Tracking hasn't updated since {when}.",
            f"I'm still waiting for {chat.order_id}, it was due {when}.",
        )
    )
    chat.verify()
    chat.a(
        chat.pick(
            "I checked with the carrier: the parcel is stuck at a regional sorting hub.",
            "Tracking shows the package was held at the carrier's depot because of bad weather.",
        )
    )
    offer, done = chat.rng.choice(
        (
            ("reship it with free express delivery", "reshipped the order with free express delivery"),
            ("refund the shipping fee", "refunded the shipping fee"),
            ("add a 15% store credit to your account", "added a 15% store credit"),
        )
    )
    chat.a(f"I'm sorry about the delay. I can {offer}.")
    chat.c(chat.pick("Yes please, that works.", "OK, let's do that."))
    chat.a(f"Done. You'll get a confirmation at {chat.email}.")
    return _summaries(
        chat,
        f"Customer reported a late delivery; tracking had stalled with the carrier. Agent apologised and {done}.",
        f"Order arrived late because of a carrier delay. Agent {done} as compensation and sent a confirmation.",
        f"Late delivery complaint: the carrier held up the parcel. Agent {done} and confirmed by email.",
    )


def _damaged_item(chat: _Chat) -> list[str]:
    item = chat.rng.choice(_ITEMS)
    chat.open_with(
        chat.pick(
            f"The {item} from order {chat.order_id} arrived damaged. The box was crushed.",
            f"My {item} came broken, order {chat.order_id}. What can you do?",
        )
    )
    chat.verify()
    chat.a("I'm sorry to hear that. Could you upload a photo of the damage?")
    chat.c(chat.pick("Just sent it.", "Uploaded, you should see it now."))
    if chat.rng.random() < 0.6:
        chat.a(f"Thanks. I've sent a free replacement as order {chat.new_order_id()}; no need to return the old one.")
        return _summaries(
            chat,
            f"Customer received a damaged {item}. After checking a photo, the agent sent a free replacement and "
            "said the damaged one need not be returned.",
            f"The {item} arrived broken. Agent reviewed the customer's photo and shipped a free replacement; no "
            "return needed.",
            f"Damaged {item} on delivery. Photo confirmed the damage and a replacement was sent at no cost.",
        )
    chat.a("Thanks. I've refunded the full price to your card; please recycle the damaged item.")
    return _summaries(
        chat,
        f"Customer received a damaged {item}. After checking a photo, the agent refunded the full price.",
        f"The {item} arrived broken. Agent reviewed the photo and issued a full refund without a return.",
    )


def _password_reset(chat: _Chat) -> list[str]:
    chat.open_with(
        chat.pick(
            "I can't log in, it keeps saying my password is wrong.",
            "I'm locked out of my account after too many login attempts.",
            "I forgot my password and the reset email never arrives.",
        )
    )
    chat.verify()
    chat.a("To double-check, what was your most recent order?")
    chat.c(f"It was {chat.order_id}.")
    chat.a(f"Thanks. I've unlocked the account and sent a reset link to {chat.email}.")
    spam = chat.rng.random() < 0.4
    if spam:
        chat.c("Nothing yet... oh, it was in my spam folder.")
    chat.c(chat.pick("That worked, I'm back in.", "Reset done, I can log in now."))
    return _summaries(
        chat,
        "Customer could not log in. Agent verified their identity, unlocked the account and sent a password "
        "reset link" + (", which had landed in spam" if spam else "") + "; the customer regained access.",
        "Customer was locked out of their account. After identity verification the agent sent a reset link"
        + (" (found in the spam folder)" if spam else "")
        + " and the customer logged in successfully.",
        "Login problem resolved: identity verified, account unlocked and password reset link sent by the agent.",
        "Customer forgot their password. Agent confirmed the account details, sent a reset link and the "
        "customer could sign in again.",
    )


def _double_charge(chat: _Chat) -> list[str]:
    amount = chat.pick("$24.99", "$59.00", "$112.40", "$38.50", "$79.95")
    days = chat.rng.choice((3, 5, 7))
    chat.open_with(
        chat.pick(
            f"I was charged twice for order {chat.order_id}, {amount} each time.",
            f"My card shows two charges of {amount} for {chat.order_id}.",
        )
    )
    chat.verify()
    chat.a("I can see two payments for that order; one of them is a duplicate.")
    chat.a(f"I've reversed the duplicate {amount}. It can take {days} business days to drop off your statement.")
    chat.c("Thanks for sorting that out.")
    return _summaries(
        chat,
        f"Customer was billed twice for one order ({amount}). Agent confirmed the duplicate charge and reversed "
        f"it; it should clear within {days} business days.",
        f"Duplicate charge of {amount} reported. Agent verified the double payment and refunded the extra charge "
        f"({days} business days to appear).",
        f"Billing issue: the order was charged twice. Agent reversed the duplicate {amount} payment.",
    )


def _address_change(chat: _Chat) -> list[str]:
    chat.open_with(
        chat.pick(
            f"I just moved. Can you change the shipping address on order {chat.order_id}?",
            f"I need to update the delivery address for {chat.order_id}, I put my old one by mistake.",
        )
    )
    chat.verify()
    chat.a("Of course. What's the new address?")
    street = f"{chat.rng.randint(2, 9800)} {chat.pick('Maple', 'Cedar', 'Lakeview', 'Orchard', 'Mill')} "
    street += chat.pick("Street", "Avenue", "Road", "Drive")
    chat.c(f"It's {street}, {chat.pick('Springfield', 'Riverton', 'Fairview', 'Georgetown')}.")
    if chat.rng.random() < 0.65:
        chat.a("The order hasn't shipped yet, so I've updated the address.")
        return _summaries(
            chat,
            "Customer asked to change the shipping address on an order that had not shipped yet. Agent updated it.",
            "Address change request before dispatch; the agent updated the delivery address on the order.",
            "Customer moved and needed a new delivery address on a pending order, which the agent changed.",
            "Shipping address corrected on an order still in the warehouse; the agent made the change.",
        )
    chat.a("It has already left our warehouse, but I've asked the carrier to redirect it to the new address.")
    return _summaries(
        chat,
        "Customer asked to change the shipping address, but the order had already shipped. Agent asked the "
        "carrier to redirect the parcel.",
        "Address change requested after dispatch; agent arranged a carrier redirect to the new address.",
    )


def _cancellation(chat: _Chat) -> list[str]:
    item, days = chat.rng.choice(_ITEMS), chat.rng.choice((3, 5, 7))
    chat.open_with(
        chat.pick(
            f"I'd like to cancel order {chat.order_id}, I picked the wrong {item}.",
            f"Please cancel {chat.order_id}. I found the {item} cheaper elsewhere.",
            f"Can I still cancel my order {chat.order_id}? I don't need the {item} anymore.",
        )
    )
    chat.verify()
    offered = chat.rng.random() < 0.5
    if offered:
        chat.a("Before I cancel, I could offer 10% off if you'd like to keep it.")
        chat.c("No thanks, please cancel it.")
    chat.a(f"Cancelled. The full amount goes back to your card within {days} business days.")
    declined = " The customer declined a retention discount." if offered else ""
    return _summaries(
        chat,
        f"Customer asked to cancel an order for the {item} before it shipped. Agent cancelled it and refunded "
        f"the full amount within {days} business days.{declined}",
        f"Order for the {item} cancelled at the customer's request; full refund in {days} business days." + declined,
        f"Cancellation of an unshipped {item} order. Agent cancelled it and issued a full refund.{declined}",
    )


def _warranty(chat: _Chat) -> list[str]:
    item, months = chat.rng.choice(_APPLIANCES), chat.rng.choice((4, 7, 9, 11, 14, 18))
    chat.open_with(f"My {item} stopped working after {months} months. I bought it with order {chat.order_id}.")
    chat.verify()
    chat.a(chat.pick("It's still under our two-year warranty.", "Good news, that's within the warranty period."))
    if chat.rng.random() < 0.5:
        chat.a(f"I've emailed a prepaid shipping label to {chat.email}; send it back and we'll repair or replace it.")
        outcome = "sent a prepaid label so it can be repaired or replaced"
    else:
        chat.a(f"I've arranged a replacement under warranty, order {chat.new_order_id()}. It ships tomorrow.")
        outcome = "arranged a free replacement"
    chat.c("Perfect, thanks.")
    return _summaries(
        chat,
        f"Customer's {item} stopped working after {months} months. Agent confirmed it was under warranty and "
        f"{outcome}.",
        f"Warranty claim for the {item}, faulty after {months} months. Covered by warranty; agent {outcome}.",
        f"The {item} failed within the warranty period. Agent {outcome}.",
    )


def _wrong_item(chat: _Chat) -> list[str]:
    item = chat.rng.choice(_CLOTHES)
    kind, wanted, got = chat.rng.choice(
        (
            ("size", "medium", "large"),
            ("colour", "blue", "black"),
            ("colour", "grey", "green"),
            ("size", "small", "extra large"),
        )
    )
    chat.open_with(f"I ordered the {item} in {wanted} but got {got}. Order {chat.order_id}.")
    chat.verify()
    chat.a(
        f"Sorry about that. The correct {wanted} one ships as order {chat.new_order_id()}, "
        "and a return label for the wrong one is on its way to your inbox."
    )
    chat.c("Thanks, that's quick.")
    return _summaries(
        chat,
        f"Customer received the {item} in the wrong {kind}. Agent shipped the correct one and sent a free return "
        "label for the wrong item.",
        f"Wrong {kind} delivered for the {item}. Agent arranged an exchange with a prepaid return label.",
        f"Incorrect {item} variant received ({got} instead of {wanted}). Exchange set up by the agent.",
    )


def _promo_code(chat: _Chat) -> list[str]:
    code, percent = chat.rng.choice((("SPRING15", 15), ("WELCOME10", 10), ("SAVE20", 20)))
    chat.open_with(f"The discount code {code} didn't apply to order {chat.order_id}.")
    chat.verify()
    chat.a(f"I see the code was valid but not applied at checkout. I've refunded the {percent}% difference.")
    chat.c("Great, thanks.")
    return _summaries(
        chat,
        f"Customer's {percent}% discount code was not applied at checkout. Agent confirmed it was valid and "
        "refunded the difference.",
        f"A valid promo code ({percent}% off) failed to apply to the order; agent refunded the discount amount.",
        "Discount code missing from the order total. Agent refunded the difference.",
    )


def _data_deletion(chat: _Chat) -> list[str]:
    chat.open_with(
        chat.pick(
            "I want my account closed and all my personal data deleted.",
            "Please delete my account and everything you store about me.",
            "I'd like to exercise my right to have my data erased.",
        )
    )
    chat.verify()
    chat.a(f"Your last order {chat.order_id} has been delivered, so nothing is pending. I've filed the request.")
    days = chat.rng.choice((14, 30))
    chat.a(f"Deletion completes within {days} days; you'll get a confirmation at {chat.email}.")
    marketing = chat.rng.random() < 0.5
    if marketing:
        chat.c("Will the marketing emails stop too?")
        chat.a("Yes, I've unsubscribed you from all marketing right away.")
    chat.c("Thank you.")
    also = " Marketing emails were stopped immediately." if marketing else ""
    return _summaries(
        chat,
        "Customer asked for their account and personal data to be deleted. Agent checked no orders were "
        f"pending, filed the deletion request and said it completes within {days} days.{also}",
        "Account closure and data deletion request. Agent confirmed nothing was pending and submitted it "
        f"(completion within {days} days, confirmation by email).{also}",
        f"Data deletion request filed by the agent after verifying identity; completes within {days} days.{also}",
    )


_SCENARIOS: dict[str, Callable[[_Chat], list[str]]] = {
    "refund": _refund,
    "late_delivery": _late_delivery,
    "damaged_item": _damaged_item,
    "password_reset": _password_reset,
    "double_charge": _double_charge,
    "address_change": _address_change,
    "cancellation": _cancellation,
    "warranty": _warranty,
    "wrong_item": _wrong_item,
    "promo_code": _promo_code,
    "data_deletion": _data_deletion,
}
_NEEDS_ACCOUNT = frozenset({"password_reset", "double_charge", "data_deletion"})

"""What the outside world saw, compared with what it should have seen.

A *flow* is one externally visible promise, checked from outside the services:

* it makes the inputs (upstream messages) and registers, for each, the effects they must
  cause, each exactly once (``expected``);
* it observes the effects where the world sees them (``observe``): records in a service's
  database, emails in the SMTP sink's maildir, refusals in the sink's log, ...

:func:`tally` compares the two: lost (expected, never seen), duplicated (seen more than
once), unexpected (seen, never expected). A flow for another promise (cooldown releases,
revocation commands) is one more class with the same two methods.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, Protocol

from pymongo import AsyncMongoClient

from graceperiod.contracts.notifier import EmailKind
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload
from graceperiod.notifier.rendering import KIND_HEADER, PURCHASE_HEADER

RECORD_POLL_SECONDS = 3.0


class Flow(Protocol):
    name: str

    def expected(self) -> Mapping[str, int]:
        """Effect key → how many times it must be seen (1 for every effect so far)."""
        ...

    async def observe(self) -> Counter[str]:
        """Effect key → how many times it has been seen so far."""
        ...


@dataclass(frozen=True)
class Tally:
    expected: int
    observed: int
    lost: int
    duplicated: int
    unexpected: int
    lost_examples: list[str] = field(default_factory=list)
    duplicated_examples: list[str] = field(default_factory=list)
    unexpected_examples: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.lost == 0

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.unexpected == 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.expected + other.expected,
            self.observed + other.observed,
            self.lost + other.lost,
            self.duplicated + other.duplicated,
            self.unexpected + other.unexpected,
            (self.lost_examples + other.lost_examples)[:5],
            (self.duplicated_examples + other.duplicated_examples)[:5],
            (self.unexpected_examples + other.unexpected_examples)[:5],
        )


EMPTY = Tally(0, 0, 0, 0, 0)


def tally(expected: Mapping[str, int], observed: Counter[str]) -> Tally:
    lost = {key: want - observed.get(key, 0) for key, want in expected.items() if observed.get(key, 0) < want}
    duplicated = {
        key: seen - expected[key] for key, seen in observed.items() if key in expected and seen > expected[key]
    }
    unexpected = {key: seen for key, seen in observed.items() if key not in expected and seen > 0}
    return Tally(
        expected=sum(expected.values()),
        observed=sum(observed.values()),
        lost=sum(lost.values()),
        duplicated=sum(duplicated.values()),
        unexpected=sum(unexpected.values()),
        lost_examples=sorted(lost)[:5],
        duplicated_examples=sorted(duplicated)[:5],
        unexpected_examples=sorted(unexpected)[:5],
    )


def normalise_address(address: str) -> str:
    return address.strip().lower()


@dataclass(frozen=True)
class SeenEmail:
    purchase_id: str
    recipient: str
    message_id: str
    accepted_ns: int
    kind: str = EmailKind.PURCHASE_EXECUTED


def parse_email(path: Path) -> SeenEmail | None:
    """Purchase id, kind, recipient and Message-ID of one ``.eml`` written by the SMTP sink
    (files are named ``<time_ns>-<id>.eml``; the envelope recipient is ``X-Envelope-To``).
    Only the header block is parsed. None for mail about no purchase."""
    with path.open("rb") as f:
        headers = BytesHeaderParser(policy=policy.compat32).parse(f)
    purchase = headers.get(PURCHASE_HEADER)
    if not purchase:
        return None
    recipient = headers.get("X-Envelope-To") or headers.get("To") or ""
    return SeenEmail(
        purchase_id=str(purchase).strip(),
        recipient=normalise_address(str(recipient)),
        message_id=str(headers.get("Message-ID") or "").strip(),
        accepted_ns=int(path.name.split("-", 1)[0]),
        kind=str(headers.get(KIND_HEADER) or "").strip(),
    )


class Mailbox:
    """The SMTP sink's maildir, scanned incrementally (each file is parsed once)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._parsed: dict[str, SeenEmail | None] = {}

    def scan(self) -> list[SeenEmail]:
        if self.maildir.exists():
            for entry in self.maildir.iterdir():
                name = entry.name
                if name.endswith(".eml") and name not in self._parsed:
                    self._parsed[name] = parse_email(entry)
        return [seen for seen in self._parsed.values() if seen is not None]


def refusals(path: Path) -> list[dict[str, Any]]:
    """The SMTP sink's log of refused recipients (JSON lines)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_recipients(payload: Mapping[str, Any], global_address: str | None) -> list[str]:
    """Who must get the executed-purchase email (the brief): the global address, every account
    contact, the requester; trimmed and deduplicated case-insensitively."""
    candidates = [
        *([global_address] if global_address else []),
        *payload["account"]["contact_emails"],
        payload["requested_by"]["email"],
    ]
    return list(dict.fromkeys(normalise_address(c) for c in candidates if "@" in c))


#: The kind header of an executed-purchase email (an outcome's is ``revocation-outcome:<change>``).
EXECUTED = str(EmailKind.PURCHASE_EXECUTED)


class PurchaseFlow:
    """``purchase.executed`` → revocation reads the commitment from AWS in the purchasing
    account (its registered role) and records the purchase once (``<db>_revocation.purchases``,
    ``_id`` = purchase id) → the notifier emails every deduplicated recipient exactly once
    (header ``X-Grace-Period-Purchase``, kind ``X-Grace-Period-Email``, envelope recipient
    ``X-Envelope-To``). Recipients the mail server refuses for good (``reject…@``) must be
    tried exactly once.

    Each purchase is a Savings Plan in one of ``accounts`` (round robin) whose plan is seeded
    in the AWS endpoint before it is published (:meth:`unseeded`), so recording reads real
    AWS answers instead of failing over to "AWS could not be read"."""

    name = "purchase"

    def __init__(
        self,
        *,
        maildir: Path,
        refusals_log: Path,
        mongodb_url: str,
        revocation_database: str,
        global_address: str | None = GLOBAL_NOTIFICATION_EMAIL,
        accounts: Sequence[str] = ("123456789012",),
    ) -> None:
        self.mailbox = Mailbox(maildir)
        self._refusals_log = refusals_log
        self._mongodb_url = mongodb_url
        self._database = revocation_database
        self._global = global_address
        self.accounts = list(accounts)
        self._expected: dict[str, int] = {}
        self._purchases: set[str] = set()
        self._recorded: set[str] = set()
        self.recorded_without_aws: set[str] = set()
        """Recorded, but AWS could not be read (``aws.known`` false): degraded, not lost."""
        self.plans: dict[str, tuple[str, str]] = {}
        """Purchase id → (account, Savings Plan id)."""
        self._seeded: set[str] = set()
        self._last_query = 0.0
        self.emails: list[SeenEmail] = []

    def purchase(
        self,
        *,
        rejected_requester: bool = False,
        contacts: list[str] | None = None,
        account_id: str | None = None,
        expect_emails: bool = True,
    ) -> Outgoing:
        """A new ``purchase.executed`` and the effects it must have. Its contacts repeat the
        global address and the requester in other spellings, so recipients are deduplicated."""
        purchase_id = f"pur-{uuid.uuid4().hex[:16]}"
        account = account_id or self.accounts[len(self._purchases) % len(self.accounts)]
        plan_id = str(uuid.uuid4())
        requester = f"reject-{purchase_id}@example.com" if rejected_requester else "alice@example.com"
        payload = purchase_payload(
            purchase_id=purchase_id,
            account_id=account,
            commitment_id=plan_id,
            contacts=contacts
            if contacts is not None
            else ["Owner@Example.com ", "FinOps@example.com", "ALICE@example.com"],
            requester_email=requester,
        )
        self._purchases.add(purchase_id)
        self.plans[purchase_id] = (account, plan_id)
        self._expected[f"recorded:{purchase_id}"] = 1
        if expect_emails:
            for recipient in expected_recipients(payload, self._global):
                kind = "refused" if recipient.startswith("reject") else f"email:{EXECUTED}"
                self._expected[f"{kind}:{purchase_id}:{recipient}"] = 1
        return Outgoing(message_id=purchase_id, body=json.dumps(payload).encode(), routing_key="purchase.executed")

    def expect_email(self, kind: str, purchase_id: str, recipient: str) -> None:
        """One more email this purchase must cause (e.g. a revocation outcome), exactly once."""
        self._expected[f"email:{kind}:{purchase_id}:{recipient}"] = 1

    def recipients(self, purchase_id: str) -> list[str]:
        """Who gets this purchase's executed email (and so its outcome emails)."""
        prefix = f"email:{EXECUTED}:{purchase_id}:"
        return [key.removeprefix(prefix) for key in self._expected if key.startswith(prefix)]

    def unseeded(self) -> list[tuple[str, str]]:
        """(account, plan id) of every purchase whose plan is not yet in the AWS endpoint; marks them seeded."""
        pending = [pid for pid in self.plans if pid not in self._seeded]
        self._seeded.update(pending)
        return [self.plans[pid] for pid in pending]

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        self.emails = [e for e in self.mailbox.scan() if e.purchase_id in self._purchases]
        for mail in self.emails:
            seen[f"email:{mail.kind}:{mail.purchase_id}:{mail.recipient}"] += 1
        for refusal in refusals(self._refusals_log):
            recipient = normalise_address(refusal["recipient"])
            purchase_id = recipient.removeprefix("reject-").split("@", 1)[0]
            if purchase_id in self._purchases:
                seen[f"refused:{purchase_id}:{recipient}"] += 1
        # Records never disappear: stop asking once all are seen, and ask at most every few
        # seconds (a full read of the collection costs FerretDB real CPU under load).
        if self._purchases - self._recorded and time.monotonic() - self._last_query >= RECORD_POLL_SECONDS:
            self._last_query = time.monotonic()
            self._recorded |= await self._recorded_ids()
        for purchase_id in self._recorded & self._purchases:
            seen[f"recorded:{purchase_id}"] += 1
        return seen

    async def _recorded_ids(self) -> set[str]:
        """Purchase ids in the revocation database (``_id`` is unique: a record exists or not).
        Empty while the database is unreachable (a scenario may have stopped it)."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url, serverSelectionTimeoutMS=1000)
        try:
            cursor = client[self._database]["purchases"].find({}, projection={"_id": 1, "aws.known": 1})
            found: set[str] = set()
            async for doc in cursor:
                found.add(str(doc["_id"]))
                if not (doc.get("aws") or {}).get("known"):
                    self.recorded_without_aws.add(str(doc["_id"]))
            return found
        except Exception:
            return set()
        finally:
            await client.close()

    def duplicate_message_ids(self) -> dict[str, int]:
        """For duplicated emails: how many distinct Message-IDs each (purchase, recipient) got.
        One means the copies are recognisable as the same email by the receiving side."""
        ids: dict[str, set[str]] = {}
        counts: Counter[str] = Counter()
        for mail in self.emails:
            key = f"{mail.purchase_id}:{mail.recipient}"
            ids.setdefault(key, set()).add(mail.message_id)
            counts[key] += 1
        return {key: len(ids[key]) for key, count in counts.items() if count > 1}

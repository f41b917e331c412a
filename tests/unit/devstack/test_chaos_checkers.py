"""The chaos suite's judges must catch what they are there to catch: a lost effect, a
duplicate, an unexpected effect, a growing RSS, a growing queue."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from graceperiod.contracts.notifier import EmailKind
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.upstream import AccountCleanupSucceeded, LeaseTerminated
from graceperiod.devstack.chaos.effects import EXECUTED, Mailbox, expected_recipients, parse_email, tally
from graceperiod.devstack.chaos.results import Result
from graceperiod.devstack.chaos.scenarios.soak import judge
from graceperiod.devstack.chaos.world import CooldownFlow
from graceperiod.devstack.screenshots import email_preview
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload, sample_purchase
from graceperiod.notifier.adapters.mail import to_bytes
from graceperiod.notifier.domain.emails import Email
from graceperiod.notifier.domain.recipients import resolve_recipients


def test_tally_counts_lost_duplicated_and_unexpected_effects() -> None:
    counted = tally({"a": 1, "b": 1, "c": 1}, Counter({"a": 2, "c": 1, "z": 1}))
    assert (counted.expected, counted.observed) == (3, 4)
    assert (counted.lost, counted.duplicated, counted.unexpected) == (1, 1, 1)
    assert counted.lost_examples == ["b"]
    assert counted.duplicated_examples == ["a"]
    assert counted.unexpected_examples == ["z"]
    assert not counted.complete
    assert not counted.exact


def test_tally_of_exactly_the_expected_effects_is_exact() -> None:
    counted = tally({"a": 1, "b": 1}, Counter({"a": 1, "b": 1}))
    assert counted.complete
    assert counted.exact


#: The notifier's own sample emails (what it renders for real, links signed by a throwaway key).
EMAILS = email_preview.sample_emails()


def _as_sink_writes_it(path: Path, email: Email, envelope_to: str) -> None:
    """As the SMTP sink stores an accepted message: envelope headers, then the message."""
    path.write_bytes(
        f"X-Envelope-From: gp@localhost\r\nX-Envelope-To: {envelope_to}\r\n".encode()
        + to_bytes(email, "Grace Period <gp@localhost>")
    )


def test_the_checker_reads_the_notifiers_real_executed_emails(tmp_path: Path) -> None:
    email = EMAILS["executed-self-service"]
    _as_sink_writes_it(tmp_path / "1700000000000000000-abc.eml", email, email_preview.RECIPIENT.title())

    seen = parse_email(tmp_path / "1700000000000000000-abc.eml")

    assert seen is not None
    assert (
        seen.purchase_id
        == dict(email.headers)["X-Grace-Period-Purchase"]
        == email_preview.sample_purchase().purchase_id
    )
    assert seen.kind == EmailKind.PURCHASE_EXECUTED == EXECUTED
    assert seen.recipient == email_preview.RECIPIENT
    assert seen.message_id == email.message_id
    assert seen.accepted_ns == 1700000000000000000
    assert Mailbox(tmp_path).scan() == [seen]


def test_the_checker_reads_the_kind_of_a_real_outcome_email(tmp_path: Path) -> None:
    outcome = EMAILS[f"outcome-{PurchaseChangeKind.REVOKED}"]
    _as_sink_writes_it(tmp_path / "1700000000000000001-def.eml", outcome, email_preview.RECIPIENT)

    seen = parse_email(tmp_path / "1700000000000000001-def.eml")

    assert seen is not None
    assert seen.purchase_id == email_preview.sample_purchase().purchase_id
    assert seen.kind.startswith(f"{EmailKind.REVOCATION_OUTCOME}:")


def test_mail_about_no_purchase_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "1-x.eml").write_bytes(b"X-Envelope-To: a@example.com\r\nSubject: hello\r\n\r\nbody\r\n")
    assert parse_email(tmp_path / "1-x.eml") is None


def test_the_checker_expects_the_same_recipients_as_the_notifier() -> None:
    payload = purchase_payload(contacts=["Owner@Example.com ", "FinOps@example.com", "ALICE@example.com"])
    expected = expected_recipients(payload, GLOBAL_NOTIFICATION_EMAIL)
    assert expected == ["finops@example.com", "owner@example.com", "alice@example.com"]
    assert expected == resolve_recipients(
        sample_purchase(contacts=payload["account"]["contact_emails"]), GLOBAL_NOTIFICATION_EMAIL
    )


def _samples(rss: list[float], depth: list[int]) -> list[dict[str, object]]:
    return [
        {"t": 10.0 * i, "rss": {"notifier-1": r}, "depth": {"q": d}}
        for i, (r, d) in enumerate(zip(rss, depth, strict=True))
    ]


def test_the_soak_judge_accepts_flat_memory_and_a_steady_queue() -> None:
    summary, problems = judge(
        _samples([90, 92, 91, 93, 92, 91, 92, 93], [3, 5, 2, 4, 3, 5, 2, 3]), warmup_seconds=10, rate=50
    )
    assert problems == []
    assert summary["rss_mb"]["notifier-1"]["peak"] == 93


def test_the_soak_judge_flags_growing_memory_memory_over_the_limit_and_a_growing_queue() -> None:
    _, problems = judge(
        _samples([150, 160, 170, 180, 190, 200, 210, 220], [0, 100, 200, 300, 400, 500, 600, 700]),
        warmup_seconds=10,
        rate=50,
    )
    assert any("RSS grew" in p for p in problems)
    assert any("RSS peaked" in p for p in problems)
    assert any("q: growing" in p for p in problems)


def test_a_result_passes_only_without_loss_problems_or_unexplained_duplicates() -> None:
    assert Result("s", "t").status == "pass"
    assert Result("s", "t", lost=1).status == "FAIL"
    assert Result("s", "t", duplicated=1).status == "FAIL"
    assert Result("s", "t", duplicated=2, tolerated_duplicates=8).status == "bounded"
    assert Result("s", "t", problems=["x"]).status == "FAIL"
    assert Result("s", "t", pending="later").status == "pending"


def test_the_cooldown_lifecycle_puts_each_account_in_a_cooldown_that_is_already_over() -> None:
    messages = CooldownFlow.lifecycle(["111111111111"])
    ended = LeaseTerminated.model_validate_json(messages[0].body)
    cleaned = AccountCleanupSucceeded.model_validate_json(messages[1].body)
    now = datetime.now(UTC)
    registered = now - timedelta(hours=3)  # as CooldownFlow.seed registers the accounts

    assert [m.routing_key for m in messages] == ["lease.terminated", "account.cleanup.succeeded"]
    assert registered < ended.terminated_at <= cleaned.completed_at
    assert cleaned.completed_at + timedelta(hours=CooldownFlow.PERIOD_HOURS) < now
    assert len({m.message_id for m in messages}) == 2

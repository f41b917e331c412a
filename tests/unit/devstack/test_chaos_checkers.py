"""The chaos suite's judges must catch what they are there to catch: a lost effect, a
duplicate, an unexpected effect, a growing RSS, a growing queue."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from graceperiod.contracts.revocation import Phase, PurchaseRecorded, Windows
from graceperiod.devstack.chaos.core import Result
from graceperiod.devstack.chaos.effects import Mailbox, expected_recipients, parse_email, tally
from graceperiod.devstack.chaos.scenarios.soak import judge
from graceperiod.devstack.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload, sample_purchase
from graceperiod.notifier.adapters.mail import to_bytes
from graceperiod.notifier.domain.emails import ExecutedEmail, PurchaseFacts, executed_subject
from graceperiod.notifier.domain.recipients import resolve_recipients
from graceperiod.notifier.domain.windows import window_notice
from graceperiod.notifier.rendering import EmailRenderer


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


def test_the_checker_reads_the_notifiers_real_emails(tmp_path: Path) -> None:
    purchase = sample_purchase(contacts=["Owner@Example.com"], requester_email="alice@example.com")
    event = PurchaseRecorded(occurred_at=purchase.executed_at, purchase=purchase, windows=Windows(), phase=Phase.CLOSED)
    email = EmailRenderer().executed(
        ExecutedEmail(
            brand="Grace Period",
            subject=executed_subject(purchase, "Grace Period"),
            facts=PurchaseFacts.of(purchase),
            notice=window_notice(event.windows, event.phase, purchase.executed_at),
            revoke_url=None,
            dashboard_url=f"https://gp.example.com/purchases/{purchase.purchase_id}",
            recipient="owner@example.com",
        )
    )
    raw = b"X-Envelope-From: gp@localhost\r\nX-Envelope-To: owner@example.com\r\n" + to_bytes(email, "gp@localhost")
    (tmp_path / "1700000000000000000-abc.eml").write_bytes(raw)

    seen = parse_email(tmp_path / "1700000000000000000-abc.eml")

    assert seen is not None
    assert seen.purchase_id == purchase.purchase_id
    assert seen.recipient == "owner@example.com"
    assert seen.message_id == email.message_id
    assert seen.accepted_ns == 1700000000000000000
    assert Mailbox(tmp_path).scan() == [seen]


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

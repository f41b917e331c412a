"""Discovery's pure rules: when an account is scanned, which purchase id a commitment gets,
what it costs, and which states are recorded as they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.revocation.domain.discovery import (
    DiscoveryPolicy,
    Found,
    cost_of,
    discovered_purchase_id,
    first_scan_due,
    next_scan_due,
    registered_for_discovery,
    slot_after_scan,
    spread,
    term_months,
)
from graceperiod.revocation.domain.records import AccountRecord, AwsState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = DiscoveryPolicy(interval=timedelta(seconds=60))


def test_each_account_has_a_fixed_offset_inside_the_interval_and_offsets_spread() -> None:
    offsets = [spread(f"{n:012d}", POLICY.interval) for n in range(500)]
    assert all(timedelta(0) <= o < POLICY.interval for o in offsets)
    assert spread("000000000007", POLICY.interval) == offsets[7]
    # 500 accounts over six 10-second slices: none empty, none with more than a third.
    slices = [
        sum(1 for o in offsets if timedelta(seconds=s) <= o < timedelta(seconds=s + 10)) for s in range(0, 60, 10)
    ]
    assert min(slices) > 0
    assert max(slices) < 500 / 3


ACCOUNT = "123456789012"


def slots_of(account_id: str, around: datetime) -> list[datetime]:
    """The account's slots near ``around``: its offset within each interval."""
    base = datetime(2026, 12, 1, tzinfo=UTC) + spread(account_id, POLICY.interval)
    first = base + POLICY.interval * ((around - base) // POLICY.interval - 3)
    return [first + POLICY.interval * n for n in range(8)]


def test_a_late_scan_skips_missed_slots_instead_of_scanning_twice_in_a_row() -> None:
    served = NOW - timedelta(seconds=150)  # two and a half intervals behind
    after = next_scan_due(ACCOUNT, served, NOW, POLICY)
    assert NOW < after <= NOW + POLICY.interval
    assert after in slots_of(ACCOUNT, NOW)


def test_an_on_time_scan_is_next_due_one_interval_later_on_the_accounts_own_offset() -> None:
    slot = slots_of(ACCOUNT, NOW)[4]
    assert next_scan_due(ACCOUNT, slot, slot + timedelta(seconds=1), POLICY) == slot + POLICY.interval


def test_accounts_registered_together_are_first_scanned_spread_over_the_next_interval() -> None:
    """500 accounts onboarded at the same instant are not scanned all at once: each first at
    its own slot within the interval, then an interval later."""
    ids = [f"{n:012d}" for n in range(500)]
    firsts = [first_scan_due(a, NOW, POLICY) for a in ids]
    assert all(NOW <= due < NOW + POLICY.interval for due in firsts)
    sixth = POLICY.interval / 6
    per_slice = [sum(1 for d in firsts if NOW + sixth * n <= d < NOW + sixth * (n + 1)) for n in range(6)]
    assert max(per_slice) < 500 / 3
    assert all(
        next_scan_due(a, due, due + timedelta(seconds=1), POLICY) == due + POLICY.interval
        for a, due in zip(ids, firsts, strict=True)
    )


def test_registering_puts_the_first_scan_at_the_accounts_first_slot() -> None:
    account = registered_for_discovery(
        AccountRecord(account_id=ACCOUNT), name="Payments", contact_emails=[], regions=None, now=NOW, policy=POLICY
    )
    assert account.scan_due_at == first_scan_due(ACCOUNT, NOW, POLICY)
    assert account.scan_due_at in slots_of(ACCOUNT, NOW)


def test_a_scan_out_of_turn_leaves_the_slot_ahead_and_a_slots_scan_moves_it() -> None:
    slot = slots_of(ACCOUNT, NOW)[4]
    account = AccountRecord(account_id=ACCOUNT, scan_due_at=slot)
    before = slot - timedelta(seconds=20)
    assert slot_after_scan(account, None, before, POLICY) == slot  # a purchase event's scan
    assert slot_after_scan(account, slot, before, POLICY) == slot + POLICY.interval  # started early for its slot


def test_the_purchase_id_is_the_same_for_the_same_commitment_and_differs_otherwise() -> None:
    one = discovered_purchase_id("123456789012", AwsService.SAVINGS_PLANS, "sp-1")
    assert one == discovered_purchase_id("123456789012", AwsService.SAVINGS_PLANS, "sp-1")
    assert one.startswith("disc-")
    assert one != discovered_purchase_id("123456789013", AwsService.SAVINGS_PLANS, "sp-1")
    assert one != discovered_purchase_id("123456789012", AwsService.RDS, "sp-1")


def found(state: str, *, service: AwsService = AwsService.EC2) -> Found:
    return Found(
        service=service,
        kind=CommitmentKind.RESERVED_INSTANCE,
        commitment_id="ri-1",
        region="us-east-1",
        aws=AwsState(known=True, state=state, start=NOW),
        sku="m6i.large",
        payment_option="Partial Upfront",
        duration_seconds=31_536_000,
        upfront=Decimal("500"),
        hourly=Decimal("0.05"),
    )


def test_cost_and_term_come_from_the_describe() -> None:
    cost = cost_of(found("active"))
    assert cost.upfront == Decimal("500.00")
    assert cost.monthly == Decimal("36.50")  # 0.05 x 730 hours
    assert cost.total == Decimal("938.00")  # 500 + 0.05 x 8,760 hours
    assert term_months(31_536_000) == 12
    assert term_months(94_608_000) == 36


def test_a_state_this_version_does_not_know_is_not_guessed() -> None:
    assert found("active").state_known
    assert not found("hibernating").state_known
    assert found("pending-payment", service=AwsService.REDSHIFT).state_known
    assert not found("pending-payment").state_known  # EC2 says payment-pending

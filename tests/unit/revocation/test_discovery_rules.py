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
    next_scan_due,
    spread,
    term_months,
)
from graceperiod.revocation.domain.records import AwsState

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


def test_a_late_tick_skips_missed_slots_instead_of_scanning_twice_in_a_row() -> None:
    due = NOW - timedelta(seconds=150)  # two and a half intervals behind
    after = next_scan_due(due, NOW, POLICY)
    assert after == due + 3 * POLICY.interval
    assert NOW < after <= NOW + POLICY.interval
    assert next_scan_due(NOW + timedelta(seconds=5), NOW, POLICY) == NOW + timedelta(seconds=5)


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

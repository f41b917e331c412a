"""The History's listing rules (pure): sort keys order purchases as their columns read, a
cursor is one sort's position, filters select what they say."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from graceperiod.contracts.enums import ExecutionVia
from graceperiod.contracts.revocation import PurchaseFilters, PurchaseSort
from graceperiod.contracts.revocation_views import Phase, PurchaseSource, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.revocation.domain.listing import (
    NEVER,
    Position,
    amount_key,
    instant_key,
    matches,
    refundable,
    sort_keys,
)
from tests.unit.revocation.provider_facts import azure_record, azure_state

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Row = tuple[PurchaseExecuted, Phase, Windows]


def purchase(i: int, **changes: object) -> PurchaseExecuted:
    base = sample_purchase(purchase_id=f"pur-{i:04d}", executed_at=NOW - timedelta(hours=i))
    return base.model_copy(update=changes)


def rows(count: int = 60) -> list[Row]:
    """Purchases with varied accounts, costs, products, phases and windows (ties included)."""
    rng = random.Random(16)
    made: list[Row] = []
    for i in range(count):
        p = purchase(i)
        p = p.model_copy(
            update={
                "account": p.account.model_copy(update={"name": rng.choice(["Prod", "prod", "Analytics", "Zeta"])}),
                "cost": p.cost.model_copy(update={"upfront": Decimal(rng.choice(["0", "9.5", "100", "13140", "99"]))}),
                "sku": rng.choice(["m5.large", "Compute SP", "c6g.xlarge"]),
                "term_months": rng.choice([12, 36]),
            }
        )
        phase = rng.choice(list(Phase))
        closes = NOW + timedelta(hours=rng.randint(-100, 300))
        windows = Windows(self_service_until=closes, support_case_until=closes + timedelta(days=3), closes_at=closes)
        made.append((p, phase, windows))
    return made


def natural(sort: PurchaseSort, row: Row) -> tuple[object, ...]:
    """What a person expects each column to be ordered by (ties broken by purchase id)."""
    p, phase, windows = row
    deadline = windows.deadline(phase)
    far = datetime.max.replace(tzinfo=UTC)
    by: dict[PurchaseSort, tuple[object, ...]] = {
        PurchaseSort.PURCHASE_ID: (),
        PurchaseSort.COMMITMENT_ID: (p.commitment_id.casefold(),),
        PurchaseSort.ACCOUNT: (p.account.name.casefold(), p.account.id),
        PurchaseSort.PRODUCT: (p.provider, p.service, p.sku.casefold()),
        PurchaseSort.COMMITMENT: (p.aws_product()[1].kind, p.term_months, p.payment_option.casefold()),
        PurchaseSort.UPFRONT: (p.cost.upfront, p.cost.currency),
        PurchaseSort.EXECUTED: (p.executed_at,),
        PurchaseSort.DEADLINE: (deadline or far,),
    }
    return (*by[sort], p.purchase_id)


@pytest.mark.parametrize("sort", [s for s in PurchaseSort if s not in (PurchaseSort.STATE, PurchaseSort.ACTION)])
def test_sort_keys_order_purchases_as_their_columns_read(sort: PurchaseSort) -> None:
    listed = rows()
    by_key = sorted(listed, key=lambda r: sort_keys(*r)[sort])
    assert [r[0].purchase_id for r in by_key] == [
        r[0].purchase_id for r in sorted(listed, key=lambda r: natural(sort, r))
    ]


def test_the_state_column_puts_what_can_still_be_done_first_soonest_deadline_first() -> None:
    listed = sorted(rows(), key=lambda r: sort_keys(*r)[PurchaseSort.STATE])
    phases = [r[1] for r in listed]
    assert phases[0] is Phase.SELF_SERVICE
    assert phases[-1] is Phase.CLOSED
    revocable = [r[2].deadline(r[1]) for r in listed if r[1] is Phase.SELF_SERVICE]
    assert revocable == sorted(d for d in revocable if d is not None)


def test_the_action_column_orders_revoke_then_support_case_then_mark_resolved_then_nothing() -> None:
    listed = sorted(rows(), key=lambda r: sort_keys(*r)[PurchaseSort.ACTION])
    order = [r[1] for r in listed]
    first_nothing = min(
        i for i, phase in enumerate(order) if phase not in (Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.CASE_OPEN)
    )
    assert order[:first_nothing] == sorted(
        order[:first_nothing], key=[Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.CASE_OPEN].index
    )
    assert set(order[first_nothing:]).isdisjoint({Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.CASE_OPEN})


def test_every_sort_key_is_unique() -> None:
    listed = rows()
    for sort in PurchaseSort:
        keys = [sort_keys(*r)[sort] for r in listed]
        assert len(set(keys)) == len(keys), sort


def test_key_parts() -> None:
    assert instant_key(None) == NEVER > instant_key(datetime(9999, 1, 1, tzinfo=UTC))
    assert instant_key(datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)) == "2026-05-01T12:00:00.123Z"
    # Fixed width for any year: a filter's bound (store/listing.py) compares with stored keys.
    early = instant_key(datetime(999, 1, 1, tzinfo=UTC))
    assert early == "0999-01-01T00:00:00.000Z" < instant_key(datetime(2026, 1, 1, tzinfo=UTC))
    amounts = [Decimal("0"), Decimal("0.005"), Decimal("9.5"), Decimal("10"), Decimal("13140"), Decimal("1e12")]
    assert sorted(amounts, key=amount_key) == amounts
    assert len({len(amount_key(a)) for a in amounts}) == 1


def test_a_cursor_is_a_position_of_one_sort_and_order() -> None:
    filters = PurchaseFilters(sort=PurchaseSort.DEADLINE, descending=False)
    position = Position(PurchaseSort.DEADLINE, False, "2026-05-01T12:00:00.000Z\x1fpur-1")
    assert Position.decode(position.encode(), filters) == position
    with pytest.raises(ValueError, match="another sort or order"):
        Position.decode(position.encode(), PurchaseFilters(sort=PurchaseSort.DEADLINE, descending=True))
    with pytest.raises(ValueError, match="another sort or order"):
        Position.decode(position.encode(), PurchaseFilters(sort=PurchaseSort.EXECUTED, descending=False))
    for garbage in ("0", "not a cursor", "eyJhIjoxfQ", "WzEsImRlYWRsaW5lIl0"):
        with pytest.raises(ValueError, match="cursor"):
            Position.decode(garbage, filters)
    assert position.after("2026-05-01T12:00:00.000Z\x1fpur-2")
    assert not position.after("2026-05-01T12:00:00.000Z\x1fpur-0")


def test_pages_walked_by_cursor_list_every_purchase_once_in_order() -> None:
    listed = rows(75)
    for sort in PurchaseSort:
        for descending in (False, True):
            keys = sorted((sort_keys(*r)[sort] for r in listed), reverse=descending)
            seen: list[str] = []
            position: Position | None = None
            while True:
                rest = [k for k in keys if position is None or position.after(k)]
                page = rest[:20]
                seen.extend(page)
                if len(rest) <= 20:
                    break
                position = Position(sort, descending, page[-1])
            assert seen == keys


def window(hours: float) -> Windows:
    until = NOW + timedelta(hours=hours)
    return Windows(self_service_until=until, support_case_until=until + timedelta(days=5), closes_at=until)


@pytest.mark.parametrize(
    ("filters", "selected"),
    [
        (PurchaseFilters(), True),
        (PurchaseFilters(account_id="123456789012"), True),
        (PurchaseFilters(account_id="999999999999"), False),
        (PurchaseFilters(phase=Phase.SELF_SERVICE), True),
        (PurchaseFilters(phase=Phase.CLOSED), False),
        (PurchaseFilters(source=PurchaseSource.EXECUTED), True),
        (PurchaseFilters(source=PurchaseSource.DISCOVERED), False),
        (PurchaseFilters(requested_by_user_id="u-nobody"), False),
        (PurchaseFilters(executed_from=NOW - timedelta(hours=1)), True),
        (PurchaseFilters(executed_from=NOW + timedelta(seconds=1)), False),
        (PurchaseFilters(executed_before=NOW), False),
        (PurchaseFilters(executed_before=NOW + timedelta(seconds=1)), True),
        (PurchaseFilters(expiring_within_hours=48), True),  # the window closes in 30 hours
        (PurchaseFilters(expiring_within_hours=24), False),
        (PurchaseFilters(search="pur-0000"), True),
        (PurchaseFilters(search="PUR-0000"), False),  # purchase ids are exact
        (PurchaseFilters(search="123456789012"), True),
        (PurchaseFilters(search="payments production"), True),  # account names ignore case
        (PurchaseFilters(search="Payments"), False),  # whole names only
        (PurchaseFilters(search="pur-0001"), False),
    ],
)
def test_filters_select_what_they_say(filters: PurchaseFilters, selected: bool) -> None:
    assert matches(purchase(0), Phase.SELF_SERVICE, window(30), filters, NOW) is selected


def test_a_commitment_id_is_found_whatever_its_case_and_a_closed_window_is_not_expiring() -> None:
    p = purchase(0)
    assert matches(p, Phase.SELF_SERVICE, window(30), PurchaseFilters(search=p.commitment_id.upper()), NOW)
    expiring = PurchaseFilters(expiring_within_hours=48)
    assert not matches(p, Phase.SELF_SERVICE, window(-1), expiring, NOW)
    assert not matches(p, Phase.REVOKED, window(30), expiring, NOW)  # nothing left to do: no deadline


def test_discovered_purchases_are_their_own_source() -> None:
    p = purchase(0)
    found = p.model_copy(update={"execution": p.execution.model_copy(update={"via": "discovered"})})
    assert matches(found, Phase.SELF_SERVICE, window(30), PurchaseFilters(source=PurchaseSource.DISCOVERED), NOW)
    assert not matches(found, Phase.SELF_SERVICE, window(30), PurchaseFilters(source=PurchaseSource.EXECUTED), NOW)
    assert PurchaseSource.of(ExecutionVia.APPROVAL_EMAIL) is PurchaseSource.EXECUTED


def test_refundable_now_is_the_upfront_payment_for_aws_and_the_refund_estimate_for_azure() -> None:
    aws = sample_purchase()
    assert refundable(aws, None) == (aws.cost.currency, aws.cost.upfront)
    reservation = azure_record(azure_state(cancelled="950.00"), total="2400.00")
    assert refundable(reservation.purchase, reservation.refund) == ("USD", Decimal("950.00"))
    unquoted = reservation.model_copy(update={"azure": reservation.azure.model_copy(update={"quote": None})})
    assert refundable(unquoted.purchase, unquoted.refund) == ("USD", Decimal("2400.00"))

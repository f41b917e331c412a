"""The one way money and times are written (dashboard and emails), and the words for names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest

from graceperiod.contracts import vocabulary
from graceperiod.contracts.enums import ActionPath, AwsService, CommitmentKind, ExecutionVia
from graceperiod.contracts.formatting import cost_line, countdown, duration, money, urgent, utc
from graceperiod.contracts.revocation_views import Phase, PurchaseSource, RevokedVia, TimelineKind
from graceperiod.contracts.upstream import Cost

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("13140", "USD", "$13,140.00"),
        ("1234567.5", "USD", "$1,234,567.50"),
        ("0.5", "USD", "$0.50"),
        ("1234.567", "USD", "$1,234.567"),
        ("99.00", "EUR", "€99.00"),
        ("2500", "GBP", "£2,500.00"),
        ("120000", "JPY", "120,000.00 JPY"),
    ],
)
def test_money_has_thousands_separators_and_cents(amount: str, currency: str, shown: str) -> None:
    assert money(Decimal(amount), currency) == shown


@pytest.mark.parametrize(
    ("upfront", "monthly", "shown"),
    [
        ("13140", "0", "$13,140.00 upfront"),  # All Upfront: no monthly figure
        ("0", "1095", "$1,095.00/mo"),  # No Upfront: no upfront figure
        ("500", "45.5", "$500.00 upfront + $45.50/mo"),
        ("0", "0", "no charge"),
    ],
)
def test_cost_line_leaves_out_figures_that_do_not_apply(upfront: str, monthly: str, shown: str) -> None:
    cost = Cost(currency="USD", upfront=Decimal(upfront), monthly=Decimal(monthly), total=Decimal(13140))
    assert cost_line(cost) == shown


def test_utc_is_to_the_minute_in_utc_whatever_the_zone() -> None:
    cest = datetime(2026, 5, 5, 16, 22, 59, tzinfo=timezone(timedelta(hours=2)))
    assert utc(cest) == "2026-05-05 14:22 UTC"
    assert utc(None) == "—"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=59), "less than a minute"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=23, minutes=59, seconds=59), "23 hours 59 minutes"),
        (timedelta(days=1, minutes=5), "1 day"),
        (timedelta(days=4, hours=23, minutes=59), "4 days 23 hours"),
        (timedelta(days=365), "365 days"),
    ],
)
def test_duration_rounds_down(delta: timedelta, expected: str) -> None:
    assert duration(delta) == expected


def test_countdown_and_urgency() -> None:
    assert countdown(NOW + timedelta(days=4, hours=23), NOW) == "4 days 23 hours left"
    assert countdown(NOW, NOW) == "closed"
    assert countdown(None, NOW) == ""
    assert urgent(NOW + timedelta(hours=23, minutes=59), NOW)
    assert urgent(NOW + timedelta(hours=24), NOW)
    assert not urgent(NOW + timedelta(hours=24, seconds=1), NOW)
    assert not urgent(NOW, NOW)  # closed is not "urgent": it is over
    assert not urgent(None, NOW)


@pytest.mark.parametrize(
    ("value", "word"),
    [
        (Phase.REVOCATION_PENDING, "Return in progress"),
        (Phase.REVOKED, "Revoked"),
        (TimelineKind.REVOKE_REQUESTED, "Undo requested"),
        (RevokedVia.SELF_SERVICE_API, "Undone through the AWS API (self-service)"),
        (RevokedVia.SUPPORT_CASE_API, "Refund requested through an AWS Support case"),
        (ActionPath.EMAIL_LINK, "from an email link"),
        (ExecutionVia.APPROVAL_EMAIL, "Executed after approval by email"),
        (CommitmentKind.SAVINGS_PLAN, "Savings Plan"),
        (AwsService.ELASTICACHE, "ElastiCache"),
        (PurchaseSource.DISCOVERED, "Discovered in the account"),
        ("some-new_value", "Some new value"),
        (None, "—"),
    ],
)
def test_every_name_has_a_word(value: object, word: str) -> None:
    assert vocabulary.label(value) == word  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "enum",
    [Phase, ActionPath, CommitmentKind, AwsService, ExecutionVia, PurchaseSource, RevokedVia, TimelineKind],
)
def test_no_wire_value_is_its_own_word(enum: type[StrEnum]) -> None:
    for member in enum:
        assert vocabulary.label(member) != member.value


def test_nothing_says_revoked_while_aws_is_returning() -> None:
    assert "revoked" not in vocabulary.label(Phase.REVOCATION_PENDING).lower()
    assert vocabulary.aws_state("pending-return") == "AWS is processing the return"


def test_source_of_a_purchase_follows_execution_via() -> None:
    assert PurchaseSource.of(ExecutionVia.APPROVAL_EMAIL) is PurchaseSource.EXECUTED
    assert PurchaseSource.of(ExecutionVia.DIRECT_EXECUTE) is PurchaseSource.EXECUTED
    assert PurchaseSource.of("discovered") is PurchaseSource.DISCOVERED


def test_terms() -> None:
    assert [vocabulary.term(m) for m in (1, 12, 18, 36)] == ["1 month", "1 year", "18 months", "3 years"]

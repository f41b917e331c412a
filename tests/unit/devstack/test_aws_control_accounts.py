"""The AWS emulator's control API sets an account's settings (``POST /control/accounts/<id>``):
each key read into the type the emulator keeps, and a value out of range refused with what
is allowed, before anything later in the spec is set."""

from __future__ import annotations

import re

import pytest

from graceperiod.devstack.aws_endpoint.control_routes import _update_account
from graceperiod.devstack.aws_endpoint.state import Account

QUEUE = "arn:aws:sqs:us-east-1:123456789012:graceperiod-purchases"


def test_each_setting_is_kept_as_the_emulator_reads_it() -> None:
    account = Account("123456789012")
    _update_account(
        account,
        {
            "support_plan": "developer",
            "roles": {"GracePeriodRevocation": "ext-1"},
            "denied_actions": ["savingsplans:ReturnSavingsPlan", "savingsplans:ReturnSavingsPlan"],
            "billing_categories": ["other-billing-questions"],
            "return_quota_used": "3",
            "purchase_events_queue": QUEUE,
            "opted_in_regions": ["af-south-1", "af-south-1"],
        },
    )
    assert account.support_plan == "developer"
    assert account.roles == {"GracePeriodRevocation": "ext-1"}
    assert account.denied == {"savingsplans:ReturnSavingsPlan"}
    assert account.billing_categories == ["other-billing-questions"]
    assert account.return_quota_used == 3
    assert account.purchase_events_queue == QUEUE
    assert account.opted_in_regions == {"af-south-1"}


def test_what_the_spec_leaves_out_is_unchanged() -> None:
    account = Account("123456789012", support_plan="enterprise", return_quota_used=2)
    _update_account(account, {"purchase_events_queue": None})
    assert (account.support_plan, account.return_quota_used, account.purchase_events_queue) == ("enterprise", 2, None)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"support_plan": "gold"}, "support_plan must be one of"),
        ({"purchase_events_queue": "https://sqs.us-east-1.amazonaws.com/1/q"}, "must be an SQS queue ARN"),
        ({"purchase_events_queue": "arn:aws:sqs:us-east-1:q"}, "must be an SQS queue ARN"),
        ({"opted_in_regions": ["us-east-1"]}, "not opt-in Regions: ['us-east-1']"),
    ],
)
def test_a_value_out_of_range_is_refused_with_what_is_allowed(spec: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        _update_account(Account("123456789012"), spec)


def test_a_refused_value_stops_the_settings_after_it() -> None:
    account = Account("123456789012")
    with pytest.raises(ValueError, match="support_plan"):
        _update_account(account, {"support_plan": "gold", "return_quota_used": 5})
    assert (account.support_plan, account.return_quota_used) == ("business", 0)

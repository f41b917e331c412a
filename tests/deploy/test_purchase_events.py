"""The purchase-events fast path as deployed: the customer's regional rule forwards exactly the
purchases the revocation service acts on, to Grace Period's bus; the bus accepts only AWS's own
CloudTrail events; the queue accepts only the bus's rule. cfn-lint finds nothing in either."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from graceperiod.revocation.purchase_events import PURCHASE_EVENTS
from tests.deploy.conftest import DEPLOY

CUSTOMER = DEPLOY / "onboarding" / "grace-period-purchase-events.yaml"
ROLE_BUNDLE = DEPLOY / "onboarding" / "grace-period-role.yaml"
VENDOR = DEPLOY / "aws" / "purchase-events.yaml"


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def _resources(path: Path, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in _load(path)["Resources"].values() if r["Type"] == kind]


@pytest.mark.parametrize("path", [CUSTOMER, VENDOR], ids=["customer", "vendor"])
def test_cfn_lint_finds_nothing_not_even_informational(path: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--include-checks",
            "I",
            "--non-zero-exit-code",
            "informational",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_customer_rule_forwards_exactly_the_purchases_discovery_acts_on() -> None:
    [rule] = _resources(CUSTOMER, "AWS::Events::Rule")
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(pattern["source"]) == set(PURCHASE_EVENTS)
    assert set(pattern["detail"]["eventName"]) == set().union(*PURCHASE_EVENTS.values())
    assert pattern["detail"]["errorCode"] == [{"exists": False}]  # failed calls bought nothing
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "GracePeriodEventBusArn"}


def test_the_customer_role_only_puts_events_on_grace_periods_bus() -> None:
    [role] = _resources(CUSTOMER, "AWS::IAM::Role")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", {"Ref": "GracePeriodEventBusArn"})


def test_the_bus_takes_only_aws_cloudtrail_purchase_events_and_the_queue_only_its_rule() -> None:
    [bus_policy] = _resources(VENDOR, "AWS::Events::EventBusPolicy")
    condition = bus_policy["Statement"]["Condition"]["StringEquals"]
    assert condition["events:detail-type"] == "AWS API Call via CloudTrail"
    assert set(condition["events:source"]) == set(PURCHASE_EVENTS)
    [queue_policy] = _resources(VENDOR, "AWS::SQS::QueuePolicy")
    [statement] = queue_policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ToQueue", "Arn"]}}}


def test_both_customer_templates_carry_the_same_bundle_version() -> None:
    versions = {_load(path)["Mappings"]["Bundle"]["Version"]["Value"] for path in (CUSTOMER, ROLE_BUNDLE)}
    assert len(versions) == 1

"""What AWS answers, as the rules see it: the adapters (``adapters/aws``) turn AWS's replies
and errors into these, the lifecycle rules decide with them. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graceperiod.contracts.revocation_views import SupportPlan
from graceperiod.runtime.aws_errors import AwsCallError, CallError, Failure

__all__ = ["ActionResult", "AwsCallError", "CallError", "CaseInfo", "Failure", "Probe", "partition_of_region"]


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class ActionResult:
    """AWS accepted an action (Return, DeleteQueued, CreateCase)."""

    request_id: str | None
    response: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """What the side-effect-free permission and plan probes found."""

    role_assumable: bool
    support_plan: SupportPlan
    missing_actions: frozenset[str]
    complete: bool
    message: str
    management_account_id: str | None = None
    """The organization's management account (the account itself when in none); None: unknown."""


@dataclass(frozen=True)
class CaseInfo:
    case_id: str
    display_id: str | None
    status: str
    subject: str

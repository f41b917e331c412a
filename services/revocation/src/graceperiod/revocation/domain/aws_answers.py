"""What AWS answers, as the rules see it: the adapters (``adapters/aws``) turn AWS's replies
and errors into these, the lifecycle rules decide with them. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graceperiod.contracts.revocation import SupportPlan


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class Failure(StrEnum):
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    ACCESS_DENIED = "access-denied"
    SUBSCRIPTION_REQUIRED = "subscription-required"
    NOT_ASSUMABLE = "not-assumable"
    NOT_FOUND = "not-found"
    EXPIRED = "expired"
    REJECTED = "rejected"


class AwsCallError(Exception):
    """An AWS call failed; ``failure`` says how, ``action`` which IAM action it was."""

    def __init__(
        self, failure: Failure, message: str, *, action: str, code: str = "", request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.action = action
        self.code = code
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.failure in (Failure.THROTTLED, Failure.UNAVAILABLE)


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


@dataclass(frozen=True)
class CaseInfo:
    case_id: str
    display_id: str | None
    status: str
    subject: str

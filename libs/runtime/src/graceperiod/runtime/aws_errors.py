"""How an AWS call failed, as the services' rules see it (no AWS SDK here: domain code imports
it; :mod:`graceperiod.runtime.aws` turns botocore's errors into these)."""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    ACCESS_DENIED = "access-denied"
    SUBSCRIPTION_REQUIRED = "subscription-required"
    NOT_ASSUMABLE = "not-assumable"
    NOT_FOUND = "not-found"
    EXPIRED = "expired"
    REJECTED = "rejected"


class CallError(Exception):
    """A cloud provider's call failed (:class:`AwsCallError`; Azure's in the revocation
    service); ``failure`` says how, ``action`` which permission's action it was."""

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


class AwsCallError(CallError):
    """An AWS call failed; ``action`` is the IAM action."""

"""Reading AWS's replies and errors: request ids, times, the one item a describe returns, and
which :class:`~graceperiod.revocation.domain.aws_answers.Failure` an error code means."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from graceperiod.revocation.domain.aws_answers import AwsCallError, Failure

_THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidReservedInstancesId",
        "ReservedDBInstanceNotFound",
        "ReservedCacheNodeNotFound",
        "ReservedNodeNotFound",
        "ReservedNodeNotFoundFault",
        "CaseIdNotFound",
    }
)


def json_safe(value: Any) -> Any:
    """A reply as JSON-ready data (for the audit), without botocore's response metadata."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def request_id(response: Mapping[str, Any]) -> str | None:
    metadata = response.get("ResponseMetadata") or {}
    found = metadata.get("RequestId")
    return str(found) if found else None


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def first(reply: Mapping[str, Any], key: str, what: str, *, action: str) -> dict[str, Any]:
    """The one item a describe-by-id call returns; NOT_FOUND when AWS returns none."""
    items = reply.get(key) or []
    if not items:
        raise AwsCallError(Failure.NOT_FOUND, f"AWS knows no {what}", action=action, request_id=request_id(reply))
    item: dict[str, Any] = items[0]
    return item


def _failure(code: str, status: int, action: str) -> Failure:
    if code in _THROTTLE_CODES:
        return Failure.THROTTLED
    if code in _DENIED_CODES:
        return Failure.NOT_ASSUMABLE if action == "sts:AssumeRole" else Failure.ACCESS_DENIED
    if code == "SubscriptionRequiredException":
        return Failure.SUBSCRIPTION_REQUIRED
    if code in _EXPIRED_CODES:
        return Failure.EXPIRED
    if code in _NOT_FOUND_CODES:
        return Failure.NOT_FOUND
    return Failure.UNAVAILABLE if status >= 500 else Failure.REJECTED


def classify(exc: ClientError, action: str) -> AwsCallError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return AwsCallError(
        _failure(code, status, action),
        f"{code}: {message}",
        action=action,
        code=code,
        request_id=request_id(exc.response),
    )

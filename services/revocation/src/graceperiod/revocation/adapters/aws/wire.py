"""Reading AWS's replies: the one item a describe returns, the reply as JSON for the
audit (request ids and the meaning of AWS's error codes: :mod:`graceperiod.runtime.aws`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graceperiod.runtime.aws import request_id
from graceperiod.runtime.aws_errors import AwsCallError, Failure


def json_safe(value: Any) -> Any:
    """A reply as JSON-ready data (for the audit), without botocore's response metadata."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def first(reply: Mapping[str, Any], key: str, what: str, *, action: str) -> dict[str, Any]:
    """The one item a describe-by-id call returns; NOT_FOUND when AWS returns none."""
    items = reply.get(key) or []
    if not items:
        raise AwsCallError(Failure.NOT_FOUND, f"AWS knows no {what}", action=action, request_id=request_id(reply))
    item: dict[str, Any] = items[0]
    return item

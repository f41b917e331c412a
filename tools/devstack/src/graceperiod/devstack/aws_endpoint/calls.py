"""What an emulated operation receives and how it refuses: :class:`Call` and :class:`AwsError`.

Each handler (one module per AWS product) receives a :class:`Call` (who, which account and
region, the decoded parameters under botocore's member names) and returns the response data
as botocore's output shape names it, or raises :class:`AwsError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graceperiod.devstack.aws_endpoint.state import Account, Emulator


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Call:
    emulator: Emulator
    account: Account
    service: str
    operation: str
    region: str
    principal: str
    params: dict[str, Any]

    def flag(self, name: str) -> bool:
        """A boolean parameter, whichever protocol carried it (``"true"`` in a form, ``true`` in JSON)."""
        return str(self.params.get(name, "false")).lower() == "true"

    def integer(self, name: str, default: int, *, low: int, high: int, code: str = "ValidationException") -> int:
        raw = self.params.get(name)
        try:
            value = default if raw in (None, "") else int(raw)
        except (TypeError, ValueError):
            raise AwsError(code, f"{name} must be an integer") from None
        if not low <= value <= high:
            raise AwsError(code, f"{name} must be between {low} and {high}")
        return value


Handler = Callable[[Call], dict[str, Any]]


def page(
    call: Call,
    items: Sequence[dict[str, Any]],
    *,
    size: tuple[str, int, int, int],
    cursor: str,
    result: str,
) -> dict[str, Any]:
    """One page of ``items``: ``size`` is (parameter, default, low, high); ``cursor`` names the
    parameter and answer field carrying the next offset (NextToken, Marker, ...)."""
    name, default, low, high = size
    per_page = call.integer(name, default, low=low, high=high, code=_invalid(call))
    raw = call.params.get(cursor) or "0"
    if not str(raw).isdigit():
        raise AwsError(_invalid(call), f"{cursor} is not valid")
    start = int(raw)
    more = start + per_page < len(items)
    return {result: list(items[start : start + per_page]), cursor: str(start + per_page) if more else None}


def _invalid(call: Call) -> str:
    return {"ec2": "InvalidParameterValue", "rds": "InvalidParameterValue"}.get(call.service, "ValidationException")

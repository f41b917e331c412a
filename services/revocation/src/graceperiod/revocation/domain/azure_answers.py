"""What Azure answers, as the rules see it: the Azure adapter (``adapters/azure``) turns the
SDK's replies and errors into these. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.runtime.aws_errors import CallError


class AzureCallError(CallError):
    """An Azure call failed; ``action`` is the Microsoft.Capacity action (``code``: Azure's
    error code, ``status``: the HTTP status, 0 when none came back)."""

    def __init__(
        self,
        failure: Failure,
        message: str,
        *,
        action: str,
        code: str = "",
        status: int = 0,
        request_id: str | None = None,
    ) -> None:
        super().__init__(failure, message, action=action, code=code, request_id=request_id)
        self.status = status


@dataclass(frozen=True)
class ReturnStarted:
    """Azure accepted a return (202): the poller's continuation token, and what Azure said."""

    continuation_token: str
    request_id: str | None
    response: dict[str, Any]


@dataclass(frozen=True)
class ReturnEnded:
    """Azure's return operation ended: ``Succeeded``, or ``Failed`` with Azure's error."""

    status: str
    code: str = ""
    message: str = ""
    request_id: str | None = None

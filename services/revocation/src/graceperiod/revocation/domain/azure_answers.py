"""What Azure answers, as the rules see it: the Azure adapter (``adapters/azure``) turns the
SDK's replies and errors into these. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graceperiod.revocation.domain.aws_answers import Failure


class AzureCallError(Exception):
    """An Azure call failed; ``failure`` says how, ``action`` which Microsoft.Capacity action
    it was (``code``: Azure's error code, ``status``: the HTTP status, 0 when none came back)."""

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
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.action = action
        self.code = code
        self.status = status
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.failure in (Failure.THROTTLED, Failure.UNAVAILABLE)


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

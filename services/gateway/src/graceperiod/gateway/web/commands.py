"""What the services answer to an action, as HTTP: a refused command is its problem, one still in
progress is 202 (accepted; the outcome follows), a finished one 200."""

from __future__ import annotations

from typing import Protocol, TypeVar

from litestar import Response
from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel

from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import PurchaseView
from graceperiod.contracts.rpc import CommandStatus, ErrorCode, Problem
from graceperiod.gateway.web.problems import refused


class CommandResult(BaseModel):
    """The outcome of an action: ``done`` (final, 200) or ``in-progress`` (accepted, 202)."""

    status: CommandStatus
    message: str
    purchase: PurchaseView | None = None


#: The OpenAPI documentation of the 202 an action may answer.
ACCEPTED = {
    202: ResponseSpec(
        data_container=CommandResult, description="Accepted; the outcome follows.", generate_examples=False
    )
}


class Answer(Protocol):
    @property
    def status(self) -> CommandStatus: ...
    @property
    def message(self) -> str: ...
    @property
    def problem(self) -> Problem | None: ...


AnswerT = TypeVar("AnswerT", bound=Answer)


def ensure_accepted(reply: AnswerT, service: str) -> AnswerT:
    """A rejected command becomes its problem (a conflict when it names none); done and
    in-progress pass through."""
    if reply.status is CommandStatus.REJECTED:
        raise refused(reply.problem or Problem(code=ErrorCode.CONFLICT, message=reply.message), service)
    return reply


def accepted_status(status: CommandStatus) -> int:
    return 202 if status is CommandStatus.IN_PROGRESS else 200


def command_response(reply: CommandReply) -> Response[CommandResult]:
    body = CommandResult(status=reply.status, message=reply.message, purchase=reply.purchase)
    return Response(body, status_code=accepted_status(reply.status))

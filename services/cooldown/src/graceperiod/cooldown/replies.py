"""How the cooldown service's commands answer (typed replies: the subscriber returns them)."""

from __future__ import annotations

from graceperiod.contracts.cooldown import AccountCommandReply
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.views import account_view


def lacks(actor: Actor, permission: Permission) -> Problem:
    return Problem(code=ErrorCode.FORBIDDEN, message=f"{actor.email} lacks the permission {permission.value}")


def done(message: str, account: Account, *, warning: str | None = None, noop: bool = False) -> AccountCommandReply:
    return AccountCommandReply(
        status=CommandStatus.DONE, message=message, account=account_view(account), warning=warning, noop=noop
    )


def rejected(code: ErrorCode, message: str, *, account: Account | None = None) -> AccountCommandReply:
    return AccountCommandReply(
        status=CommandStatus.REJECTED,
        message=message,
        account=account_view(account) if account else None,
        problem=Problem(code=code, message=message),
    )


def forbidden(actor: Actor, permission: Permission) -> AccountCommandReply:
    problem = lacks(actor, permission)
    return rejected(problem.code, problem.message)

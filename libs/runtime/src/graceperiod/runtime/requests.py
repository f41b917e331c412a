"""The way into a service for commands and queries: decode, and say no in the right place.

One rule for every RPC subscriber that answers a broken request itself: a request that cannot
be taken (it breaks its contract, or what it relies on does not verify) is **answered** with a
problem when a caller waits for the answer (``reply_to`` set), and **dead-lettered** with the
reason when nobody does (the reliability middleware does it, logs it and counts it, as for
events), so it is never acknowledged silently.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.runtime.middleware import PermanentMessageError

R = TypeVar("R")


class Delivered(Protocol):
    @property
    def reply_to(self) -> str | None: ...


def invalid(exc: ValidationError) -> Problem:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
    )
    return Problem(code=ErrorCode.INVALID, message=f"invalid request: {problems}"[:512])


class RequestProblem(Exception):  # noqa: N818 - an answer, not an error
    """The request is not taken; its caller waits for this problem as the answer."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def waiting(message: Delivered) -> bool:
    return bool(message.reply_to)


def decode_request(adapter: TypeAdapter[R], body: Any, message: Delivered) -> R:
    """``body`` as the contract's request; :class:`RequestProblem` when it breaks the contract
    and a caller waits, else the :class:`ValidationError` itself (dead-lettered with the reason)."""
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        if not waiting(message):
            raise
        raise RequestProblem(invalid(exc)) from exc


def refuse(problem: Problem, message: Delivered) -> RequestProblem:
    """The refusal to raise: answered when a caller waits, else dead-lettered with the reason."""
    if not waiting(message):
        raise PermanentMessageError(f"{problem.code}: {problem.message}")
    return RequestProblem(problem)

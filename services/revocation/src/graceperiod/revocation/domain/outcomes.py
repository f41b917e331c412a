"""How a command ends, in words for people and codes for programs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from graceperiod.contracts.enums import CommitmentKind, Provider
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.revocation.domain.aws_answers import AwsCallError, Failure
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord, RefundQuote, RevocationStatus

IN_PROGRESS_MESSAGE = "Accepted; AWS is taking a while. The outcome follows as an event and in the purchase's timeline."


@dataclass(frozen=True)
class Outcome:
    """A command's answer that needs no (further) action: its status and what to say."""

    status: CommandStatus
    message: str


class Rejected(Exception):  # noqa: N818 - a decision, not a fault
    """The command is not carried out: answer with this problem, and the purchase (as its
    account lets it be seen) when there is one."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        record: PurchaseRecord | None = None,
        account: AccountRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.record, self.account = record, account


def iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "(unknown)"


def usd(amount: Decimal) -> str:
    return f"{amount:,.2f} USD"


def problem_code(exc: AwsCallError) -> ErrorCode:
    if exc.failure in (Failure.ACCESS_DENIED, Failure.NOT_ASSUMABLE, Failure.SUBSCRIPTION_REQUIRED):
        return ErrorCode.UNAVAILABLE
    if exc.code in ("ValidationException", "reserved-instances-not-in-queued-state"):
        return ErrorCode.CONFLICT
    if exc.code == "ServiceQuotaExceededException":
        return ErrorCode.UNAVAILABLE
    if exc.failure is Failure.NOT_FOUND:
        return ErrorCode.NOT_FOUND
    return ErrorCode.FAILED


def failure_message(exc: AwsCallError) -> str:
    if exc.failure is Failure.ACCESS_DENIED:
        return f"The Grace Period role lacks {exc.action}: re-apply the onboarding bundle. AWS said: {exc.message}"
    if exc.failure is Failure.NOT_ASSUMABLE:
        return f"Grace Period cannot assume the account's role: {exc.message}"
    if exc.failure is Failure.SUBSCRIPTION_REQUIRED:
        return (
            "The account's AWS Support plan has no API access (Business Support+, Enterprise or Unified "
            "Operations needed); open the case in the AWS console instead."
        )
    if exc.code == "ServiceQuotaExceededException":
        return f"AWS refused the return: the yearly Savings Plans return quota is used up ({exc.message})"
    return f"AWS refused {exc.action}: {exc.message}"


def refusal(exc: AwsCallError, record: PurchaseRecord, account: AccountRecord | None) -> Rejected:
    """AWS refused for good: the command is rejected with AWS's reason."""
    return Rejected(problem_code(exc), failure_message(exc), record=record, account=account)


def refund_words(quote: RefundQuote) -> str:
    """The refund a return gives, and what it uses of Microsoft's cap."""
    return (
        f"refund of {quote.amount:,.2f} {quote.currency} expected; it cancels {usd(quote.cancelled_usd)} of "
        f"commitment, which counts against the refund cap ({usd(quote.consumed_usd + quote.cancelled_usd)} of "
        f"{usd(quote.limit_usd)} used over 12 months after it)"
    )


def _azure_done(record: PurchaseRecord) -> str:
    ours = record.azure_return
    quote = f"; {refund_words(ours.quote)}" if ours is not None else ""
    if record.status is RevocationStatus.PENDING:
        return f"Azure accepted the return of the reservation and is processing it (irreversible){quote}."
    return f"Azure returned the reservation (now {record.azure.state}){quote}."


def done_message(record: PurchaseRecord) -> str:
    if record.provider is Provider.AZURE:
        return _azure_done(record)
    if record.status is RevocationStatus.PENDING:
        return (
            "AWS accepted the return (pending-return); it is irreversible, "
            "the upfront charge is refunded within 24 hours."
        )
    kind = record.purchase.aws_product()[1].kind
    if kind is CommitmentKind.SAVINGS_PLAN and record.aws.state == "returned":
        return "The Savings Plan was returned."
    return f"Revoked: AWS reports the commitment {record.aws.state}."

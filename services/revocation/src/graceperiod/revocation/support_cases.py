"""SubmitSupportCase and MarkCaseResolved: file the AWS Support refund request, once per
purchase, and close it by hand.

CreateCase has no client token: one filing per purchase is claimed by a unique insert, and an
attempt resumed after a crash first looks for a case whose subject carries the purchase's
reference and adopts it instead of filing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from graceperiod.contracts.revocation import CommandReply, MarkCaseResolved, SubmitSupportCase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.aws_calls import AwsCalls, to_act_on
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.claims import Claims
from graceperiod.revocation.domain.accounts import categories_read
from graceperiod.revocation.domain.authorization import Asker, ensure_may_act
from graceperiod.revocation.domain.aws_answers import ActionResult, AwsCallError, CaseInfo, Failure
from graceperiod.revocation.domain.lifecycle import actor_ref
from graceperiod.revocation.domain.outcomes import Outcome, Rejected, refusal
from graceperiod.revocation.domain.records import Attempt
from graceperiod.revocation.domain.revoking import aws_failing, failed
from graceperiod.revocation.domain.support_cases import (
    CREATE_CASE,
    Filing,
    Resolution,
    adoptable,
    case_answer,
    case_claimed,
    case_codes,
    case_text,
    lease_renewed,
    opened,
    resolve_answer,
    resolved,
)
from graceperiod.revocation.replies import Replies
from graceperiod.runtime.aws import Role
from graceperiod.runtime.middleware import TransientError

_ALREADY_FILING = "A support case request for this purchase is already under way."
#: How far back a resumed attempt looks for the case it may have filed before dying.
_ADOPT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class SupportCases:
    changes: Changes
    aws: AwsCalls
    claims: Claims
    replies: Replies

    async def submit(self, command: SubmitSupportCase, key: str, acceptance: Acceptance, asker: Asker) -> CommandReply:
        loaded, role = await to_act_on(self.changes, command.purchase_id, asker)
        answer = case_answer(loaded.purchase, self.changes.at(loaded.account))
        if answer is not None:
            return self.replies.answer(answer, loaded, asker)
        lock = f"case:{loaded.purchase.purchase_id}"
        if not await self.claims.held_by(lock, key):
            return self.replies.answer(Outcome(CommandStatus.IN_PROGRESS, _ALREADY_FILING), loaded, asker)
        subject, body = case_text(loaded.purchase, command.subject, command.body)
        actor = actor_ref(asker.actor)
        try:
            loaded, resuming = await self.changes.purchase(
                loaded, lambda rec, at: case_claimed(rec, key, actor, at, subject=subject, body=body)
            )
            acceptance.accept()  # the attempt is stored: a tick resumes it after its lease
            loaded = await self.file(loaded, role, resuming=resuming)
        except Rejected:
            await self.claims.release(lock)  # AWS refused: a later request may try again
            raise
        message = f"Support case {loaded.purchase.audit.support_case_id} opened."
        return self.replies.done(message, loaded, asker)

    async def resume(self, loaded: Loaded, role: Role) -> None:
        """An attempt whose lease passed: file (or adopt) the case now."""
        loaded, _ = await self.changes.purchase(loaded, lambda rec, at: (lease_renewed(rec, at), None))
        await self.file(loaded, role, resuming=True)

    async def file(self, loaded: Loaded, role: Role, *, resuming: bool) -> Loaded:
        attempt = loaded.purchase.attempt
        assert attempt is not None
        try:
            found = await self._adoptable(loaded, role, attempt) if resuming else None
            if found is not None:
                case_id, result = found.case_id, None
            else:
                result = await self._create(loaded, role, attempt)
                case_id = str(result.response["caseId"])
            support = self.aws.aws.support
            details = await self.aws.with_backoff(lambda: support.describe_cases(role, case_ids=[case_id]))
        except AwsCallError as exc:
            await self._failed(loaded, attempt, exc)
        filing = Filing(case_id, details[0] if details else None, result)
        loaded, _ = await self.changes.purchase(loaded, lambda rec, at: (opened(rec, filing, attempt, at), None))
        return Loaded(loaded.purchase, await self.aws.used(loaded.account, CREATE_CASE))

    async def _failed(self, loaded: Loaded, attempt: Attempt, error: AwsCallError) -> NoReturn:
        account = await self.aws.learn(loaded.account, error)
        if error.retryable:
            raise TransientError(error.message) from error
        loaded, _ = await self.changes.purchase(
            Loaded(loaded.purchase, account), lambda rec, at: (failed(rec, aws_failing(error), attempt.actor, at), None)
        )
        raise refusal(error, loaded.purchase, loaded.account) from error

    async def _adoptable(self, loaded: Loaded, role: Role, attempt: Attempt) -> CaseInfo | None:
        """CreateCase has no client token. An attempt that died after it left a case whose
        subject carries our reference: adopt that case instead of filing twice."""
        support = self.aws.aws.support
        after = attempt.started_at - _ADOPT_WINDOW
        existing = await self.aws.with_backoff(lambda: support.describe_cases(role, after=after))
        return adoptable(existing, loaded.purchase.purchase_id)

    async def _create(self, loaded: Loaded, role: Role, attempt: Attempt) -> ActionResult:
        support = self.aws.aws.support
        categories = await self.aws.with_backoff(lambda: support.categories(role))
        if not categories:
            message = "DescribeServices lists no 'billing' service"
            raise AwsCallError(Failure.REJECTED, message, action="support:DescribeServices")
        now = self.changes.now()
        await self.changes.account(
            role.account_id,
            lambda current: categories_read(current, categories, now) if current else None,
            loaded=loaded.account,
        )
        levels = await self.aws.with_backoff(lambda: support.severity_levels(role))
        category, severity = case_codes(loaded.purchase, categories, levels)
        reference = attempt.client_token
        return await self.aws.with_backoff(
            lambda: support.create_case(
                role,
                subject=attempt.subject or reference,
                body=attempt.body or reference,
                category_code=category,
                severity_code=severity,
            )
        )

    async def mark_resolved(self, command: MarkCaseResolved, asker: Asker) -> CommandReply:
        loaded = await self.changes.load(command.purchase_id)
        ensure_may_act(asker, loaded.purchase)
        answer = resolve_answer(loaded.purchase, self.changes.at(loaded.account))
        if answer is not None:
            return self.replies.answer(answer, loaded, asker)
        by = actor_ref(asker.actor)
        resolution = Resolution(command.note.strip(), command.outcome, command.refund_amount)
        loaded, _ = await self.changes.purchase(loaded, lambda rec, at: (resolved(rec, by, at, resolution), None))
        return self.replies.done("Support case marked resolved.", loaded, asker)

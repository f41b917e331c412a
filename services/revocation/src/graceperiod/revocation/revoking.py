"""RevokePurchase: undo a purchase through AWS's API (Return / DeleteQueued), or hand an Azure
reservation's return to :mod:`.azure_revoking` once the asker may act and the credentials are found.

AWS is re-read just before acting; the attempt (with its client token) is stored before AWS
is called, so a retry after a crash — the redelivered command, or a tick once the attempt's
lease passed (:meth:`Revoking.run`) — resumes it without acting twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import CommandReply, RevokePurchase
from graceperiod.contracts.revocation_views import ActorRef
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.aws_calls import AwsCalls, role_to_act
from graceperiod.revocation.azure_revoking import AzureRevoking
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.authorization import Asker, ensure_may_act
from graceperiod.revocation.domain.aws_answers import ActionResult, AwsCallError
from graceperiod.revocation.domain.commitments import SelfServiceAction, undone_or_pending
from graceperiod.revocation.domain.lifecycle import actor_ref
from graceperiod.revocation.domain.outcomes import Rejected, done_message, problem_code, refusal
from graceperiod.revocation.domain.records import AwsState
from graceperiod.revocation.domain.revoking import accepted, aws_failing, claimed, failed, revoke_answer, too_late
from graceperiod.revocation.replies import Replies
from graceperiod.runtime.aws import Role
from graceperiod.runtime.middleware import TransientError


@dataclass(frozen=True)
class Revoking:
    """The undo through AWS's API: asked for by a command, or resumed by a tick."""

    changes: Changes
    aws: AwsCalls
    replies: Replies
    azure: AzureRevoking | None = None
    """Azure reservations' returns (:mod:`.azure_revoking`)."""

    async def revoke(self, command: RevokePurchase, key: str, acceptance: Acceptance, asker: Asker) -> CommandReply:
        loaded = await self.changes.load(command.purchase_id)  # once: the crossings probe counts it
        ensure_may_act(asker, loaded.purchase)
        undo = self._undo(loaded, key, actor_ref(asker.actor), acceptance)
        answer = revoke_answer(loaded.purchase, key, self.changes.at(loaded.account))
        if answer is not None:
            return self.replies.answer(answer, loaded, asker)
        loaded = await undo()
        return self.replies.done(done_message(loaded.purchase), loaded, asker)

    def _undo(
        self, loaded: Loaded, key: str, actor: ActorRef, acceptance: Acceptance
    ) -> Callable[[], Awaitable[Loaded]]:
        """The purchase's provider's undo, with the credentials it acts with (Rejected: there are none)."""
        if self.azure is not None and loaded.purchase.provider is Provider.AZURE:
            azure = self.azure
            principal = azure.azure.principal_to_act(loaded)
            return lambda: azure.run(loaded, principal, key, actor, acceptance)
        role = role_to_act(loaded)
        return lambda: self.run(loaded, role, key, actor, acceptance)

    async def run(
        self, loaded: Loaded, role: Role, key: str, actor: ActorRef, acceptance: Acceptance | None = None
    ) -> Loaded:
        """Re-read AWS, claim the attempt, act, store the outcome. Rejected when AWS refuses
        or no longer allows an undo (the failure is stored on the purchase)."""
        aws = await self._reread(loaded, role)
        loaded, action = await self.changes.purchase(
            loaded, lambda rec, at: claimed(rec, aws, key, actor, at), more=True
        )
        if action is None:
            if undone_or_pending(loaded.purchase.aws):
                return await self._finish(loaded, None, actor)
            raise too_late(loaded.purchase, self.changes.at(loaded.account))
        if acceptance is not None:
            acceptance.accept()  # the attempt is stored: a tick resumes it after its lease
        try:
            result = await self.aws.with_backoff(lambda: self._act(role, loaded, action))
        except AwsCallError as exc:
            return await self._refused(loaded, role, exc, actor)
        loaded = await self._finish(loaded, result, actor)
        return Loaded(loaded.purchase, await self.aws.used(loaded.account, action))

    async def _reread(self, loaded: Loaded, role: Role) -> AwsState:
        try:
            return await self.aws.read(role, loaded.purchase.purchase)
        except AwsCallError as exc:
            account = await self.aws.learn(loaded.account, exc)
            if exc.retryable:
                raise TransientError(exc.message) from exc
            message = f"AWS could not be read: {exc.message}"
            raise Rejected(problem_code(exc), message, record=loaded.purchase, account=account) from exc

    async def _act(self, role: Role, loaded: Loaded, action: SelfServiceAction) -> ActionResult:
        commitment = loaded.purchase.purchase.aws_product()[1]
        commitments = self.aws.aws.commitments
        if action is SelfServiceAction.RETURN_SAVINGS_PLAN:
            assert loaded.purchase.attempt is not None
            token = loaded.purchase.attempt.client_token
            return await commitments.return_savings_plan(role, commitment.id, client_token=token)
        if action is SelfServiceAction.DELETE_QUEUED_SAVINGS_PLAN:
            return await commitments.delete_queued_savings_plan(role, commitment.id)
        return await commitments.delete_queued_reserved_instance(role, commitment.region, commitment.id)

    async def _finish(
        self, loaded: Loaded, result: ActionResult | None, actor: ActorRef, aws: AwsState | None = None
    ) -> Loaded:
        loaded, _ = await self.changes.purchase(
            loaded, lambda rec, at: (accepted(rec, result, actor, at, aws=aws), None)
        )
        return loaded

    async def _refused(self, loaded: Loaded, role: Role, exc: AwsCallError, actor: ActorRef) -> Loaded:
        """AWS refused the undo: maybe because an earlier attempt of ours already did it."""
        loaded = Loaded(loaded.purchase, await self.aws.learn(loaded.account, exc))
        if exc.retryable:
            raise TransientError(exc.message) from exc
        try:
            again: AwsState | None = await self.aws.read(role, loaded.purchase.purchase)
        except AwsCallError:
            again = None
        if again is not None and undone_or_pending(again):
            return await self._finish(loaded, None, actor, aws=again)
        loaded, _ = await self.changes.purchase(
            loaded, lambda rec, at: (failed(rec, aws_failing(exc), actor, at, state=again), None)
        )
        raise refusal(exc, loaded.purchase, loaded.account) from exc

"""RevokePurchase for an Azure reservation: calculateRefund, then return, followed to its end.

The reservation is re-read (with a fresh quote) before every POST; the return (with its session,
``posted_at`` and the handler run holding it) is stored before the POST and the poller's
continuation token right after Azure's 202, so a crash, a redelivered command or a tick resumes it
without posting twice: while another run holds it, a run waits (TransientError: retried later);
a POST is made again only when the re-read shows Azure did nothing. The operation is followed for a
while within the command, then on ticks from the stored token (rules: domain/azure_returning.py).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from functools import partial

from graceperiod.contracts.revocation_views import ActorRef
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.adapters.azure.clients import Principal
from graceperiod.revocation.azure_calls import AzureCalls
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.azure import progress
from graceperiod.revocation.domain.azure_answers import AzureCallError, ReturnEnded, ReturnStarted
from graceperiod.revocation.domain.azure_returning import (
    Claim,
    Next,
    azure_failure_message,
    azure_problem_code,
    not_returnable,
    return_accepted,
    return_claimed,
    return_ended,
    return_held,
    return_refused,
    return_timed_out,
    return_to_follow,
)
from graceperiod.revocation.domain.lifecycle import At
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.providers import Progress
from graceperiod.revocation.domain.records import AzureReturn, AzureState, PurchaseRecord
from graceperiod.revocation.replies import Replies
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.middleware import TransientError

log = get_logger("graceperiod.revocation")


@dataclass(frozen=True)
class AzureRevoking:
    changes: Changes
    azure: AzureCalls
    replies: Replies
    follow_seconds: float = 20.0
    """How long a command follows the return before leaving it to ticks."""
    tick_follow_seconds: float = 5.0

    async def run(
        self, loaded: Loaded, principal: Principal, key: str, actor: ActorRef, acceptance: Acceptance | None = None
    ) -> Loaded:
        """Re-read, claim, POST once, store the token, follow. Rejected with the reason when
        Azure allows no return or refuses it (the outcome is stored on the purchase); a
        TransientError (the message or tick retried later) while another run holds the return."""
        holder = uuid.uuid4().hex  # this run: its claim stays its own across its rounds
        rounds = self.azure.backoff.rounds
        for round_ in range(rounds):
            loaded, ours = await self._claim(loaded, principal, key, holder, actor)
            if ours is None:
                return await self._accepted(loaded, principal, None, actor)
            if acceptance is not None:
                acceptance.accept()  # the return is stored: a tick resumes it after its lease
            try:
                started = await self._post(loaded, principal, ours)
            except AzureCallError as exc:
                loaded = Loaded(loaded.purchase, await self.azure.learn(loaded.account, exc))
                again = await self._reread_quietly(loaded, principal)
                if again is not None and progress(again) is not Progress.NONE:
                    return await self._accepted(loaded, principal, None, actor)  # the POST took effect
                if exc.retryable and round_ < rounds - 1:
                    await asyncio.sleep(min(self.azure.backoff.cap, self.azure.backoff.base * 2**round_))
                    continue  # Azure did nothing: the next round re-reads and posts again
                raise await self._refused(loaded, exc, actor) from exc
            return await self._accepted(loaded, principal, started, actor)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _claim(
        self, loaded: Loaded, principal: Principal, key: str, holder: str, actor: ActorRef
    ) -> tuple[Loaded, AzureReturn | None]:
        """Re-read and claim (a conditional write: of two runs, one claims, the other decides
        again on what it stored): the return to POST, or None when Azure accepted ours or shows
        one (follow it)."""
        if return_held(loaded.purchase, holder, self.changes.now()):
            raise _held(loaded)  # its answer may be in flight: no re-read, no POST
        state = await self._reread(loaded, principal, actor)
        loaded, claim = await self.changes.purchase(
            loaded, partial(_claimed, state=state, key=key, holder=holder, actor=actor)
        )
        if claim.next is Next.WAIT:
            raise _held(loaded)
        if claim.next is Next.NONE:
            raise not_returnable(loaded.purchase, self.changes.at(loaded.account))
        return loaded, claim.ours

    async def _post(self, loaded: Loaded, principal: Principal, ours: AzureReturn) -> ReturnStarted:
        product = loaded.purchase.purchase.azure_product()
        order_id, reservation_id = product.reservation_order_id, product.reservation_id
        assert order_id is not None
        assert reservation_id is not None
        return await self.azure.reservations.start_return(
            principal, order_id, reservation_id, ours.quantity, ours.session_id
        )

    async def _refused(self, loaded: Loaded, exc: AzureCallError, actor: ActorRef) -> Rejected:
        loaded, _ = await self.changes.purchase(loaded, lambda rec, at: (return_refused(rec, exc, actor, at), None))
        message = azure_failure_message(exc)
        return Rejected(azure_problem_code(exc), message, record=loaded.purchase, account=loaded.account)

    async def _reread(self, loaded: Loaded, principal: Principal, actor: ActorRef) -> AzureState:
        """The reservation now; a read Azure refuses for good ends the attempt with that reason."""
        try:
            return await self.azure.read(principal, loaded.purchase.purchase, self.changes.now())
        except AzureCallError as exc:
            loaded = Loaded(loaded.purchase, await self.azure.learn(loaded.account, exc))
            if exc.retryable and not loaded.purchase.azure_return:
                raise TransientError(exc.message) from exc
            raise await self._refused(loaded, exc, actor) from exc

    async def _reread_quietly(self, loaded: Loaded, principal: Principal) -> AzureState | None:
        try:
            return await self.azure.read(principal, loaded.purchase.purchase, self.changes.now())
        except AzureCallError:
            return None

    async def _accepted(
        self, loaded: Loaded, principal: Principal, started: ReturnStarted | None, actor: ActorRef
    ) -> Loaded:
        loaded, _ = await self.changes.purchase(
            loaded, lambda rec, at: (return_accepted(rec, started, actor, at), None)
        )
        return await self.follow(loaded, principal, self.follow_seconds)

    async def follow(self, loaded: Loaded, principal: Principal, timeout: float | None = None) -> Loaded:
        """Follow our accepted return from its stored token (or by reading the reservation when
        no token was stored), then store what was found; a return past its limit is timed out."""
        ours = loaded.purchase.azure_return
        ended = ReturnEnded("InProgress")
        if return_to_follow(loaded.purchase) and ours is not None and ours.continuation_token:
            order_id = loaded.purchase.purchase.azure_product().reservation_order_id
            assert order_id is not None
            try:
                wait = self.tick_follow_seconds if timeout is None else timeout
                ended = await self.azure.reservations.follow(principal, order_id, ours.continuation_token, wait)
            except AzureCallError as exc:
                log.warning("azure return not followed", purchase_id=loaded.purchase.purchase_id, error=exc.message)
        state = await self._reread_quietly(loaded, principal)
        loaded, _ = await self.changes.purchase(
            loaded, lambda rec, at: (return_timed_out(return_ended(rec, ended, state, at), at), None)
        )
        return loaded


def _claimed(
    record: PurchaseRecord, at: At, *, state: AzureState, key: str, holder: str, actor: ActorRef
) -> tuple[PurchaseRecord, Claim]:
    return return_claimed(record, state, key, actor, at, holder=holder)


def _held(loaded: Loaded) -> TransientError:
    return TransientError(
        f"purchase {loaded.purchase.purchase_id}: another handler holds its Azure return and may be posting it; "
        "retried once that handler stored Azure's answer or its lease passed"
    )

"""``AcquireAccount``: who may ask, with what lease id, and whether the lease is served now or
joins the wait-list.

* A malformed lease id is refused with the reason (``invalid``), not dead-lettered.
* Leases in line come first: while requests wait, a lease that asks without ``wait`` gets an
  account only if more are Available than requests wait; with ``wait`` it joins the line.
* ``wait``: a lease that holds an account or has an open request is refused with the reason,
  unless it is the same request again (its idempotency key), which is answered as it stands.
"""

from __future__ import annotations

from graceperiod.contracts.base import identifier_problem
from graceperiod.contracts.cooldown import AccountCommandReply, AccountStatus, AcquireAccount
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.cooldown import metrics
from graceperiod.cooldown.acquisition import Acquisition
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.domain import waits
from graceperiod.cooldown.domain.waits import WaitRequest, WaitState
from graceperiod.cooldown.replies import done, forbidden, rejected
from graceperiod.cooldown.waits import WaitList


class AcquisitionDesk(Use):
    def __init__(self, changes: ChangeProtocol, *, acquisition: Acquisition, wait_list: WaitList) -> None:
        super().__init__(changes)
        self._acquisition = acquisition
        self._waits = wait_list

    async def acquire(self, command: AcquireAccount) -> AccountCommandReply:
        actor, lease_id = command.actor, command.lease_id
        if not actor.can(Permission.ACQUIRE_ACCOUNTS):
            return forbidden(actor, Permission.ACQUIRE_ACCOUNTS)
        if problem := identifier_problem(lease_id, what="lease id"):
            return rejected(ErrorCode.INVALID, problem)
        if command.wait:
            return await self._wait(command)
        waiting = await self._waits.count_open()
        if waiting and await self._store.lease_account(lease_id) is None:
            available = await self._store.count_status(AccountStatus.AVAILABLE)
            if available <= waiting:
                metrics.ACQUISITIONS.labels(outcome="none").inc()
                message = (
                    f"{waiting} requests wait for an account and {available} are Available: "
                    "ask with wait=true to join the wait-list"
                )
                return rejected(ErrorCode.UNAVAILABLE, message)
        return await self._acquisition.acquire(command)

    async def _wait(self, command: AcquireAccount) -> AccountCommandReply:
        lease_id = command.lease_id
        existing = await self._waits.get(lease_id)
        if existing is not None and existing.request_key == command.idempotency_key:
            return await self._as_it_stands(existing)
        held = await self._store.lease_account(lease_id)
        if refusal := waits.refusal(lease_id, existing=existing, held_account=held):
            return rejected(ErrorCode.CONFLICT, refusal)
        if not await self._waits.count_open():
            served = await self._acquisition.acquire(command)
            if served.problem is None or served.problem.code is not ErrorCode.UNAVAILABLE:
                return served
        policy = await self._store.policy()
        request = await self._waits.enqueue(
            lease_id,
            actor=command.actor,
            request_key=command.idempotency_key,
            asked_hours=command.wait_hours,
            policy=policy,
        )
        if request is None:
            return rejected(ErrorCode.CONFLICT, f"lease {lease_id} already has an open request")
        await self._waits.run()  # an account may be Available for the line already
        return await self._as_it_stands(await self._waits.get(lease_id) or request)

    async def _as_it_stands(self, request: WaitRequest) -> AccountCommandReply:
        if request.state is WaitState.GRANTED and request.account_id:
            account = await self._changes.load(request.account_id)
            if account is not None:
                return done(f"granted account {request.account_id} from the wait-list", account, noop=True)
        view = (await self._waits.view(request)).request
        if request.is_open and view is not None:
            eta = f", expected {view.eta.isoformat()}" if view.eta else ""
            message = f"queued: position {view.position}{eta}"
            return AccountCommandReply(status=CommandStatus.IN_PROGRESS, message=message, wait=view)
        reason = request.reason or request.state.value
        message = f"the wait request of lease {request.lease_id} is {request.state.value}: {reason}"
        return rejected(ErrorCode.CONFLICT, message).model_copy(update={"wait": view})

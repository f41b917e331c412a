"""Admin and lease-manager commands: register an account, release one early, set the policy
(acquisition has its own module)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    ActorRef,
    CooldownMode,
    CooldownPolicy,
    PolicyReply,
    RegisterAccount,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.cooldown.change_protocol import ChangeProtocol, UnknownAccount, Use
from graceperiod.cooldown.domain import release
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.replies import done, forbidden, lacks, rejected
from graceperiod.cooldown.waits import WaitList
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")

#: Returned (and shown by the gateway) with every early release.
EARLY_RELEASE_WARNING: Final = (
    "The account left Cooldown before its period ended: costs of its last lease that AWS has not "
    "reported yet may be attributed to the next tenant, so billing attribution may be inaccurate."
)


class Commands(Use):
    def __init__(self, changes: ChangeProtocol, *, waits: WaitList) -> None:
        super().__init__(changes)
        self._waits = waits

    async def register(self, command: RegisterAccount, *, redelivered: bool = False) -> AccountCommandReply:
        if not command.actor.can(Permission.UPDATE_CONFIG):
            return forbidden(command.actor, Permission.UPDATE_CONFIG)
        created, account = await self._changes.register(
            command.account_id, command.name, command.email, redelivered=redelivered
        )
        log.info(
            "account registered" if created else "account already registered",
            account_id=command.account_id,
            by=command.actor.email,
        )
        message = "registered: Available" if created else f"already in the pool ({account.status})"
        return done(message, account, noop=not created)

    async def release_early(self, command: ReleaseAccountEarly, *, redelivered: bool = False) -> AccountCommandReply:
        actor = command.actor
        if not actor.can(Permission.RELEASE_ANY_ACCOUNTS):
            return forbidden(actor, Permission.RELEASE_ANY_ACCOUNTS)
        by = ActorRef(user_id=actor.user_id, email=actor.email)
        try:
            decision = await self._changes.change(
                command.account_id,
                lambda account: release.release_early(
                    account, actor=by, reason=command.reason, request_key=command.idempotency_key, now=self._clock.now()
                ),
                source=f"release-early:{command.idempotency_key}",
                redelivered=redelivered,
            )
        except UnknownAccount as exc:
            return rejected(ErrorCode.NOT_FOUND, str(exc))
        if decision.verdict is Verdict.APPLIED:
            _log_early_release(command, decision)
            await self._waits.run()  # the account released goes to the first lease in line
            return done(decision.note, decision.after, warning=EARLY_RELEASE_WARNING)
        if decision.verdict is Verdict.DUPLICATE:
            return done(decision.note, decision.after, noop=True)
        return rejected(ErrorCode.CONFLICT, decision.note, account=decision.after)

    async def set_policy(self, command: SetCooldownPolicy, *, reads_costs: bool) -> PolicyReply:
        actor = command.actor
        if not actor.can(Permission.UPDATE_CONFIG):
            return PolicyReply(problem=lacks(actor, Permission.UPDATE_CONFIG))
        if await self._store.policy_change_seen(command.idempotency_key):
            return PolicyReply(policy=await self._store.policy())
        previous = await self._store.policy()
        policy = changed_policy(
            previous, command, by=ActorRef(user_id=actor.user_id, email=actor.email), at=self._clock.now()
        )
        if policy.mode is CooldownMode.SETTLED and previous.mode is not CooldownMode.SETTLED and not reads_costs:
            message = (
                "settled mode reads each lease's cost from Cost Explorer: configure the cost role "
                "(COOLDOWN_COST_ROLE_ARN and COOLDOWN_COST_EXTERNAL_ID) first"
            )
            return PolicyReply(policy=previous, problem=Problem(code=ErrorCode.CONFLICT, message=message))
        await self._store.save_policy(policy, previous=previous, request_key=command.idempotency_key)
        log.info(
            "cooldown policy changed",
            by=actor.email,
            enforce_account_cooldown=policy.enforce_account_cooldown,
            cooldown_period_hours=policy.cooldown_period_hours,
            mode=policy.mode.value,
            previous_enforce=previous.enforce_account_cooldown,
            previous_hours=previous.cooldown_period_hours,
            previous_mode=previous.mode.value,
            note="accounts already in Cooldown keep how and when it ends; the policy applies to cleanups from now on",
        )
        return PolicyReply(policy=policy)


def changed_policy(
    previous: CooldownPolicy, command: SetCooldownPolicy, *, by: ActorRef, at: datetime
) -> CooldownPolicy:
    """The policy after ``command``: the fields it gives, the previous values of those it leaves out."""
    given = command.model_dump(
        include=set(CooldownPolicy.model_fields) - {"updated_by", "updated_at"}, exclude_none=True
    )
    return CooldownPolicy.model_validate({**previous.model_dump(), **given, "updated_by": by, "updated_at": at})


def _log_early_release(command: ReleaseAccountEarly, decision: Decision) -> None:
    before = decision.before
    log.warning(
        "account released early: billing attribution may be inaccurate",
        account_id=command.account_id,
        by=command.actor.email,
        reason=command.reason,
        lease_id=decision.after.lease_id,
        cooldown_until=before.cooldown_until.isoformat() if before and before.cooldown_until else None,
    )

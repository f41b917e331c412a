"""Commands: carried out once per idempotency key, and answered within ``reply_within``.

The answer is the handler's return value (FastStream publishes it as the RPC reply). A
command that needs AWS is answered "in progress" when AWS is slow, but never before it is
*accepted*: what a tick resumes it from is stored (the attempt with its lease; an account's
probe due). The work goes on after the answer, in this process; if the process dies, the
next tick after the lease finishes it. A command that fails before it is accepted fails its
message, which is retried. Why: docs/architecture.md, "RPC replies".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation import (
    CommandReply,
    MarkCaseResolved,
    RegisterAccountRole,
    RegisterAzurePrincipal,
    RevokePurchase,
    SubmitSupportCase,
)
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.accounts import Accounts
from graceperiod.revocation.azure_accounts import AzureAccounts
from graceperiod.revocation.changes import Loaded
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AttemptKind, CommandRecord
from graceperiod.revocation.replies import Replies, in_progress
from graceperiod.revocation.revoking import Revoking
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.revocation.support_cases import SupportCases
from graceperiod.runtime.aws import Role
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.revocation")

Command = RevokePurchase | SubmitSupportCase | MarkCaseResolved | RegisterAccountRole | RegisterAzurePrincipal

#: How long a stopping service lets accepted commands finish before leaving them to ticks.
_DRAIN_SECONDS = 10.0


@dataclass
class Commands:
    """Each command to its use case, once per key, answered by the deadline; and the attempts
    commands left behind, resumed."""

    store: CommandStore
    revoking: Revoking
    support_cases: SupportCases
    accounts: Accounts
    azure_accounts: AzureAccounts
    replies: Replies
    clock: Clock
    reply_within: float
    retention: timedelta
    max_in_flight: int = 32
    """Commands running at once, answered or not. Once the broker's prefetch no longer bounds
    accepted commands (their messages are acknowledged when answered), this does: a command
    beyond it waits, unanswered and unacknowledged, until one finishes."""
    _running: set[asyncio.Task[CommandReply]] = field(default_factory=set, init=False)
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight)

    async def handle(self, command: Command, link: LinkClaims | None = None) -> CommandReply:
        """Carry out ``command`` (its actor verified, ``link`` the verified email link it acts on)."""
        key = f"{command.kind}:{command.idempotency_key}"
        now = self.clock.now()
        seen = CommandRecord(
            key=key,
            kind=command.kind,
            purchase_id=getattr(command, "purchase_id", None),
            created_at=now,
            expires_at=now + self.retention,
        )
        if not await self.store.begin(seen):
            earlier = await self.store.get(key)
            if earlier is not None and earlier.reply is not None:
                return earlier.reply  # the outcome of this key, given before
        started = asyncio.get_running_loop().time()
        acceptance = Acceptance()
        work = asyncio.create_task(self._execute(command, seen, acceptance, Asker(command.actor, link)))
        self._running.add(work)
        work.add_done_callback(partial(self._finished, acceptance))
        return await self._answer(work, acceptance, deadline=started + self.reply_within)

    async def _answer(
        self, work: asyncio.Task[CommandReply], acceptance: Acceptance, *, deadline: float
    ) -> CommandReply:
        accepted = asyncio.create_task(acceptance.wait())
        try:
            await asyncio.wait({work, accepted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            accepted.cancel()
        if work.done() and not acceptance.accepted:
            return work.result()  # done, or failed before it was accepted: its message is retried
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            return await asyncio.wait_for(asyncio.shield(work), remaining)
        except TimeoutError:
            return in_progress()
        except Exception:  # accepted, then failed: a tick resumes it once its lease passed
            return in_progress()

    async def _execute(
        self, command: Command, seen: CommandRecord, acceptance: Acceptance, asker: Asker
    ) -> CommandReply:
        async with self._slots:
            try:
                reply = await self._run(command, seen.key, acceptance, asker)
            except Rejected as rejected:
                reply = self.replies.rejected(rejected, asker)
        await self.store.finish(seen, reply)
        log.info("command done", kind=command.kind, status=reply.status, message=reply.message)
        return reply

    async def _run(self, command: Command, key: str, acceptance: Acceptance, asker: Asker) -> CommandReply:
        if isinstance(command, RevokePurchase):
            return await self.revoking.revoke(command, key, acceptance, asker)
        if isinstance(command, SubmitSupportCase):
            return await self.support_cases.submit(command, key, acceptance, asker)
        if isinstance(command, MarkCaseResolved):
            return await self.support_cases.mark_resolved(command, asker)
        if isinstance(command, RegisterAzurePrincipal):
            return await self.azure_accounts.register(command)
        return await self.accounts.register(command, acceptance)

    async def resume(self, loaded: Loaded, role: Role) -> None:
        """An attempt whose lease passed: whoever ran it stopped. Its caller is gone, so a
        refusal is only recorded on the purchase."""
        attempt = loaded.purchase.attempt
        assert attempt is not None
        try:
            if attempt.kind is AttemptKind.REVOKE:
                await self.revoking.run(loaded, role, attempt.key, attempt.actor)
            else:
                await self.support_cases.resume(loaded, role)
        except Rejected:
            pass

    def _finished(self, acceptance: Acceptance, work: asyncio.Task[CommandReply]) -> None:
        self._running.discard(work)
        if work.cancelled() or (error := work.exception()) is None:
            return
        if acceptance.accepted:
            log.warning("command failed after it was accepted; a tick resumes it", error=repr(error))
        else:
            log.warning("command failed; its message is retried", error=repr(error))

    async def drain(self) -> None:
        """Let accepted commands finish (a stopping service); what does not is left to ticks."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=_DRAIN_SECONDS)

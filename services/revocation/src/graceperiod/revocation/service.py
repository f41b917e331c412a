"""The revocation service's business class: handlers call it; it receives its collaborators.

State changes follow one pattern: read the purchase, decide with the pure domain functions,
write it back only if its version did not move (else read again and redo), then publish the
events the change put into the purchase's outbox. AWS is called between an "attempt" write
and the outcome write; the attempt carries the client token, so a retry after a crash (a
redelivered command, or a tick once the attempt's lease passed) resumes it without acting twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from graceperiod.contracts.enums import ActionPath, CommitmentKind
from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.contracts.revocation import (
    CASE_SUBJECT_MAX_LENGTH,
    AccountAccessReply,
    ActorRef,
    CommandReply,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    MarkCaseResolved,
    Phase,
    PurchaseChanged,
    PurchaseChangeKind,
    PurchaseListReply,
    PurchaseRecorded,
    PurchaseReply,
    PurchaseView,
    RegisterAccountRole,
    RevokedVia,
    RevokePurchase,
    SubmitSupportCase,
    SupportCaseDraft,
    SupportCaseDraftReply,
    SupportPlan,
    TimelineEntry,
    TimelineKind,
    Unavailability,
    UnavailableReason,
    Windows,
    may_act_on,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.contracts.upstream import PurchaseExecuted, Tick
from graceperiod.revocation.adapters.aws import (
    ActionResult,
    AwsAccounts,
    AwsCallError,
    Failure,
    Role,
    partition_of_region,
)
from graceperiod.revocation.domain.authorization import may_configure
from graceperiod.revocation.domain.commitments import (
    PENDING_STATES,
    UNDONE_STATES,
    SelfServiceAction,
    self_service,
)
from graceperiod.revocation.domain.drafts import (
    FALLBACK_CATEGORY,
    case_reference,
    draft_case,
    preferred_category,
)
from graceperiod.revocation.domain.phase import (
    AccessFacts,
    Assessment,
    PurchaseFacts,
    RevocationStatus,
    assess,
)
from graceperiod.revocation.domain.windows import windows_from_aws
from graceperiod.revocation.store import (
    AccountRecord,
    Attempt,
    AwsState,
    Blocked,
    OutboxEntry,
    PurchaseRecord,
    PurchaseStore,
    decode_cursor,
    encode_cursor,
)
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import TransientError
from graceperiod.runtime.mongo import Inbox

log = get_logger("graceperiod.revocation")

T = TypeVar("T")
Reply = Callable[[CommandReply], Awaitable[None]]
#: A purchase and its account as just read, handed on to save a round trip.
Loaded = tuple[PurchaseRecord, AccountRecord | None]

_SYSTEM = ActorRef(user_id="graceperiod", email="graceperiod@localhost", name="Grace Period", path=ActionPath.SYSTEM)
_SAVE_ROUNDS = 20


@dataclass(frozen=True)
class Policy:
    support_window: timedelta = timedelta(days=7)
    default_role_name: str = "GracePeriodRevocation"
    aws_retry_rounds: int = 3
    aws_backoff_base: float = 0.5
    aws_backoff_cap: float = 8.0
    reply_within: float = 3.0
    attempt_lease: timedelta = timedelta(minutes=2)
    pending_poll: timedelta = timedelta(minutes=1)
    case_poll: timedelta = timedelta(minutes=5)
    unknown_retry: timedelta = timedelta(minutes=5)
    probe_max_age: timedelta = timedelta(hours=6)
    command_retention: timedelta = timedelta(days=30)
    tick_batch: int = 200


class Rejected(Exception):  # noqa: N818 - a decision, not a fault
    """The command is not carried out: reply with this problem (and the purchase, if known)."""

    def __init__(self, code: ErrorCode, message: str, *, record: PurchaseRecord | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code=code, message=message)
        self.record = record


class Conflict(Exception):  # noqa: N818
    """Someone else changed the purchase meanwhile: read it again and redo."""


def _ref(actor: Actor) -> ActorRef:
    return ActorRef(user_id=actor.user_id, email=actor.email, name=actor.name, path=actor.path)


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "(unknown)"


class RevocationService:
    def __init__(
        self,
        *,
        store: PurchaseStore,
        events: EventSink,
        clock: Clock,
        aws: AwsAccounts,
        inbox: Inbox,
        policy: Policy | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._aws = aws
        self._inbox = inbox
        self._policy = policy or Policy()
        self._purchase_locks = _KeyedLocks()

    # =========================================================================================
    # Recording
    # =========================================================================================

    async def record_purchase(self, purchase: PurchaseExecuted) -> PurchaseRecorded:
        """Store an executed purchase with its windows and announce it. Safe to repeat: the
        stored record wins, and the event has a deterministic message id."""
        record = await self._store.get(purchase.purchase_id)
        if record is None:
            now = self._clock.now()
            account = await self._store.account(purchase.account.id)
            aws = await self._read_for_recording(account, purchase)
            record = PurchaseRecord(
                purchase=purchase,
                windows=self._windows(purchase, aws),
                aws=aws,
                recorded_at=now,
                updated_at=now,
                timeline=[
                    TimelineEntry(at=purchase.executed_at, kind=TimelineKind.EXECUTED, summary="Purchase executed"),
                    TimelineEntry(
                        at=now,
                        kind=TimelineKind.RECORDED,
                        summary=(
                            f"Recorded; AWS state {aws.state}"
                            if aws.known
                            else f"Recorded; AWS could not be read ({aws.error}), self-service window unknown"
                        ),
                    ),
                ],
            )
            self._refresh_derived(record, account, now)
            record = await self._store.insert(record)
            if account is not None and account.role_arn and account.checked_at is None:
                await self._store.update_account(account.account_id, {"probe_due_at": now})
        event = PurchaseRecorded(
            occurred_at=record.recorded_at or self._clock.now(),
            purchase=record.purchase,
            windows=record.windows,
            phase=record.phase,
        )
        await self._events.publish(event, message_id=f"purchase-recorded:{purchase.purchase_id}")
        log.info("purchase recorded", purchase_id=purchase.purchase_id, phase=record.phase, aws_state=record.aws.state)
        return event

    async def _read_for_recording(self, account: AccountRecord | None, purchase: PurchaseExecuted) -> AwsState:
        role = self._role(account)
        if role is None:
            return AwsState(known=False, error=f"no role registered for account {purchase.account.id}")
        try:
            return await self._read_aws(role, purchase)
        except AwsCallError as exc:
            await self._learn(purchase.account.id, exc)
            return AwsState(known=False, error=exc.message, read_at=self._clock.now())

    async def _read_aws(self, role: Role, purchase: PurchaseExecuted) -> AwsState:
        read = await self._with_backoff(lambda: self._aws.describe_commitment(role, purchase))
        return AwsState(
            known=True,
            state=read.state,
            start=read.start,
            returnable_until=read.returnable_until,
            read_at=self._clock.now(),
            request_id=read.request_id,
        )

    async def _with_backoff(self, call: Callable[[], Awaitable[T]]) -> T:
        """Our own rounds around botocore's retries, for AWS that keeps throttling or failing."""
        policy = self._policy
        for attempt in range(policy.aws_retry_rounds):
            try:
                return await call()
            except AwsCallError as exc:
                if not exc.retryable or attempt == policy.aws_retry_rounds - 1:
                    raise
                ceiling = min(policy.aws_backoff_cap, policy.aws_backoff_base * 2**attempt)
                delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter
                log.warning("aws call retried", action=exc.action, error=exc.message, delay=round(delay, 3))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # =========================================================================================
    # Derived state: windows, phase, next check
    # =========================================================================================

    def _windows(self, purchase: PurchaseExecuted, aws: AwsState) -> Windows:
        return windows_from_aws(
            kind=purchase.commitment.kind,
            service=purchase.service,
            executed_at=purchase.executed_at,
            support_window=self._policy.support_window,
            aws=aws.snapshot(),
        )

    def _facts(self, record: PurchaseRecord) -> PurchaseFacts:
        blocked = None
        if record.blocked is not None:
            blocked = next((a for a in SelfServiceAction if a.value == record.blocked.action), None)
        return PurchaseFacts(
            kind=record.purchase.commitment.kind,
            service=record.purchase.service,
            account_id=record.purchase.account.id,
            windows=record.windows,
            status=record.status,
            blocked=blocked,
            partition=partition_of_region(record.purchase.commitment.region),
        )

    @staticmethod
    def _access(account: AccountRecord | None) -> AccessFacts:
        if account is None or not account.role_arn:
            return AccessFacts(role_assumable=False)
        return account.facts()

    def _assess(self, record: PurchaseRecord, account: AccountRecord | None, now: datetime) -> Assessment:
        return assess(self._facts(record), record.aws.snapshot(), self._access(account), now)

    def _refresh_derived(self, record: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
        record.windows = (
            self._windows(record.purchase, record.aws)
            if record.status
            in (
                RevocationStatus.NONE,
                RevocationStatus.FAILED,
            )
            else record.windows
        )
        record.audit = record.audit.model_copy(update={"revocation_window_closes_at": record.windows.closes_at})
        record.phase = self._assess(record, account, now).phase
        record.next_check_at = self._next_check(record, now)
        record.updated_at = now

    def _next_check(self, record: PurchaseRecord, now: datetime) -> datetime | None:
        policy = self._policy
        candidates: list[datetime] = []
        if record.attempt is not None:
            candidates.append(record.attempt.lease_until)
        if record.status is RevocationStatus.PENDING:
            candidates.append(now + policy.pending_poll)
        if record.status is RevocationStatus.CASE_OPEN:
            candidates.append(now + policy.case_poll)
        if record.status in (RevocationStatus.NONE, RevocationStatus.FAILED):
            windows = record.windows
            candidates += [t for t in (windows.self_service_until, windows.support_case_until) if t and t > now]
            if not record.aws.known and windows.closes_at and now < windows.closes_at:
                candidates.append(now + policy.unknown_retry)
        return min(candidates) if candidates else None

    # =========================================================================================
    # Saving and events
    # =========================================================================================

    def _emit(
        self,
        record: PurchaseRecord,
        change: PurchaseChangeKind,
        summary: str,
        *,
        key: str,
        actor: ActorRef | None = None,
        now: datetime,
    ) -> None:
        """Queue an event in the purchase's outbox (written with the change it announces)."""
        message_id = f"purchase-changed:{record.purchase_id}:{change}:{key}"
        if any(o.message_id == message_id for o in record.outbox):
            return
        event = PurchaseChanged(
            occurred_at=now,
            change=change,
            purchase=record.purchase,
            windows=record.windows,
            phase=record.phase,
            audit=record.audit,
            actor=actor,
            summary=summary,
        )
        record.outbox.append(OutboxEntry(message_id=message_id, event=event.model_dump(mode="json")))

    async def _save(self, record: PurchaseRecord, version: int) -> PurchaseRecord:
        if not await self._store.save(record, expected_version=version):
            raise Conflict
        record.version = version + 1
        await self._flush(record)
        return record

    async def _flush(self, record: PurchaseRecord) -> None:
        """Publish the outbox, then drop the published entries (conditional replace, retried)."""
        if not record.outbox:
            return
        sent = set()
        for entry in record.outbox:
            await self._events.publish(PurchaseChanged.model_validate(entry.event), message_id=entry.message_id)
            sent.add(entry.message_id)
        record.outbox = [o for o in record.outbox if o.message_id not in sent]
        if not record.outbox and await self._store.clear_outbox(record.purchase_id, version=record.version):
            return  # the usual case: nobody wrote since our own save
        for _ in range(_SAVE_ROUNDS):
            current = await self._store.get(record.purchase_id)
            if current is None or not any(o.message_id in sent for o in current.outbox):
                return
            current.outbox = [o for o in current.outbox if o.message_id not in sent]
            if await self._store.save(current, expected_version=current.version):
                return

    async def _update(
        self,
        purchase_id: str,
        change: Callable[[PurchaseRecord, AccountRecord | None, datetime], Awaitable[T]],
        *,
        loaded: Loaded | None = None,
    ) -> tuple[PurchaseRecord, T]:
        record, _, result = await self._update_full(purchase_id, change, loaded=loaded)
        return record, result

    async def _update_full(
        self,
        purchase_id: str,
        change: Callable[[PurchaseRecord, AccountRecord | None, datetime], Awaitable[T]],
        *,
        loaded: Loaded | None = None,
    ) -> tuple[PurchaseRecord, AccountRecord | None, T]:
        """Read (or take the ``loaded`` copy), change, write conditionally; on a concurrent
        change, read again and redo."""
        for _ in range(_SAVE_ROUNDS):
            if loaded is not None:
                (record, account), loaded = loaded, None
            else:
                found = await self._store.get(purchase_id)
                if found is None:
                    raise Rejected(ErrorCode.NOT_FOUND, f"no purchase {purchase_id}")
                record, account = found, await self._store.account(found.purchase.account.id)
            version = record.version
            now = self._clock.now()
            result = await change(record, account, now)
            self._refresh_derived(record, account, now)
            try:
                return await self._save(record, version), account, result
            except Conflict:
                continue
        raise TransientError(f"purchase {purchase_id} kept changing under us")

    # =========================================================================================
    # Commands
    # =========================================================================================

    async def handle_command(
        self, command: RevokePurchase | SubmitSupportCase | MarkCaseResolved | RegisterAccountRole, reply: Reply | None
    ) -> CommandReply:
        """Carry a command out once per idempotency key. ``reply`` (None on redeliveries)
        gets the outcome if it is known within ``reply_within`` seconds, else "in progress"."""
        key = f"{command.kind}:{command.idempotency_key}"
        now = self._clock.now()
        first = await self._store.begin_command(
            key,
            kind=command.kind,
            purchase_id=getattr(command, "purchase_id", None),
            now=now,
            expires_at=now + self._policy.command_retention,
        )
        seen = None if first else await self._store.command(key)
        if seen is not None and seen.get("reply"):
            answer = CommandReply.model_validate(seen["reply"])
            if reply is not None:
                await reply(answer)
            return answer
        work = asyncio.create_task(self._execute(command, key))
        replied = False
        try:
            answer = await asyncio.wait_for(asyncio.shield(work), self._policy.reply_within)
        except TimeoutError:
            if reply is not None:
                await reply(self._in_progress(command))
                replied = True
            answer = await work
        except Exception:
            if reply is not None:
                await reply(self._in_progress(command))
            raise
        if reply is not None and not replied:
            await reply(answer)
        return answer

    @staticmethod
    def _in_progress(command: Any) -> CommandReply:
        return CommandReply(
            status=CommandStatus.IN_PROGRESS,
            message="Accepted; AWS is taking a while. The outcome follows as an event and in the purchase's timeline.",
        )

    async def _execute(self, command: Any, key: str) -> CommandReply:
        try:
            if isinstance(command, RegisterAccountRole):
                answer = await self._register(command)
            elif isinstance(command, RevokePurchase):
                answer = await self._revoke(command, key)
            elif isinstance(command, SubmitSupportCase):
                answer = await self._submit_case(command, key)
            else:
                answer = await self._mark_resolved(command)
        except Rejected as rejected:
            view = await self._view(rejected.record, command.actor) if rejected.record else None
            answer = CommandReply(
                status=CommandStatus.REJECTED, message=rejected.problem.message, problem=rejected.problem, purchase=view
            )
        await self._store.finish_command(key, answer.model_dump(mode="json"))
        log.info("command done", kind=command.kind, status=answer.status, message=answer.message)
        return answer

    async def _load(self, purchase_id: str, actor: Actor) -> tuple[PurchaseRecord, AccountRecord | None, Role]:
        record = await self._store.get(purchase_id)
        if record is None:
            raise Rejected(ErrorCode.NOT_FOUND, f"no purchase {purchase_id}")
        if not may_act_on(actor, record.purchase.requested_by):
            raise Rejected(
                ErrorCode.FORBIDDEN,
                f"{actor.email} may not act on purchase {purchase_id}: needs revoke-any:purchases, "
                "or revoke-own:purchases on a purchase they requested",
            )
        account = await self._store.account(record.purchase.account.id)
        role = self._role(account)
        if role is None:
            raise Rejected(
                ErrorCode.UNAVAILABLE,
                f"no role is registered for account {record.purchase.account.id}: register it "
                "(RegisterAccountRole) with its ExternalId",
                record=record,
            )
        return record, account, role

    def _role(self, account: AccountRecord | None) -> Role | None:
        if account is None or not account.role_arn or not account.external_id:
            return None
        return Role(account.account_id, account.role_arn, account.external_id)

    async def _view_reply(self, record: PurchaseRecord, actor: Actor, message: str) -> CommandReply:
        return CommandReply(status=CommandStatus.DONE, message=message, purchase=await self._view(record, actor))

    # --- register --------------------------------------------------------------------------------------

    async def _register(self, command: RegisterAccountRole) -> CommandReply:
        if not may_configure(command.actor):
            raise Rejected(ErrorCode.FORBIDDEN, "registering an account role needs update:config")
        role_arn = command.role_arn or (
            f"arn:{command.partition}:iam::{command.account_id}:role/{self._policy.default_role_name}"
        )
        if role_arn.split(":")[4] != command.account_id:
            raise Rejected(ErrorCode.INVALID, f"role {role_arn} is not in account {command.account_id}")
        now = self._clock.now()
        await self._store.update_account(
            command.account_id,
            {
                "role_arn": role_arn,
                "external_id": command.external_id,
                "registered_at": now,
                "registered_by": command.actor.email,
                "use_missing": [],
                "role_assumable": None,
                "probe_due_at": now,
            },
        )
        account = await self._probe(command.account_id)
        view = account.view()
        return CommandReply(
            status=CommandStatus.DONE, message=f"role registered for account {command.account_id}", account=view
        )

    async def _probe(self, account_id: str) -> AccountRecord:
        account = await self._store.account(account_id)
        role = self._role(account)
        assert account is not None
        assert role is not None
        now = self._clock.now()
        region = await self._probe_region(account_id)
        probe = await self._aws.probe(role, region=region)
        return await self._store.update_account(
            account_id,
            {
                "role_assumable": probe.role_assumable,
                "support_plan": probe.support_plan if probe.support_plan != "unknown" else account.support_plan,
                "probe_missing": sorted(probe.missing_actions),
                "use_missing": [] if probe.complete else account.use_missing,
                "checked_at": now,
                "probe_due_at": now + (self._policy.probe_max_age if probe.complete else self._policy.unknown_retry),
                "message": probe.message,
            },
        )

    async def _probe_region(self, account_id: str) -> str:
        purchases = await self._store.page(
            account_id=account_id, phase=None, requested_by_user_id=None, limit=1, after=None
        )
        return purchases[0].purchase.commitment.region if purchases else "us-east-1"

    async def _learn(self, account_id: str, exc: AwsCallError) -> None:
        """What a failed call tells about the account's role and plan."""
        if exc.failure is Failure.ACCESS_DENIED:
            await self._store.add_use_missing(account_id, exc.action)
        elif exc.failure is Failure.NOT_ASSUMABLE:
            await self._store.update_account(account_id, {"role_assumable": False, "message": exc.message})
        elif exc.failure is Failure.SUBSCRIPTION_REQUIRED:
            await self._store.update_account(account_id, {"support_plan": SupportPlan.NO_API_ACCESS})

    # --- revoke ----------------------------------------------------------------------------------------

    async def _revoke(self, command: RevokePurchase, key: str) -> CommandReply:
        record, account, role = await self._load(command.purchase_id, command.actor)
        if record.status is RevocationStatus.REVOKED:
            return await self._view_reply(record, command.actor, "Already revoked.")
        if record.status is RevocationStatus.PENDING:
            return await self._view_reply(record, command.actor, "AWS is already processing the return.")
        if record.status in (RevocationStatus.CASE_OPEN, RevocationStatus.CASE_RESOLVED):
            raise Rejected(ErrorCode.CONFLICT, "a support case was filed for this purchase", record=record)
        if record.attempt is not None and record.attempt.key != key and record.attempt.lease_until > self._clock.now():
            return CommandReply(
                status=CommandStatus.IN_PROGRESS,
                message="Another action on this purchase is under way; its outcome follows as an event.",
                purchase=await self._view(record, command.actor),
            )
        return await self._run_revoke(
            command.purchase_id, role, key, _ref(command.actor), command.actor, loaded=(record, account)
        )

    async def _run_revoke(
        self,
        purchase_id: str,
        role: Role,
        key: str,
        actor: ActorRef,
        viewer: Actor | None,
        *,
        loaded: Loaded | None = None,
    ) -> CommandReply:
        # 1. Re-read AWS just before acting.
        if loaded is None:
            found = await self._store.get(purchase_id)
            assert found is not None
            loaded = (found, await self._store.account(found.purchase.account.id))
        record, account = loaded
        try:
            aws = await self._read_aws(role, record.purchase)
        except AwsCallError as exc:
            await self._learn(record.purchase.account.id, exc)
            if exc.retryable:
                raise TransientError(exc.message) from exc
            raise Rejected(_problem_code(exc), f"AWS could not be read: {exc.message}", record=record) from exc

        # 2. Decide, and write the attempt (with its client token) before calling AWS.
        async def claim(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> SelfServiceAction | None:
            rec.aws = aws
            if aws.state in UNDONE_STATES or aws.state in PENDING_STATES:
                return None  # done already (by an attempt that died before writing, or outside)
            offer = self_service(rec.purchase.commitment.kind, rec.purchase.service, aws.snapshot())
            if offer is None or now >= offer.until:
                return None
            if rec.attempt is not None and rec.attempt.key == key:
                rec.attempt = rec.attempt.model_copy(update={"lease_until": now + self._policy.attempt_lease})
            else:
                rec.attempt = Attempt(
                    key=key,
                    kind="revoke",
                    action=offer.action,
                    client_token=f"gp-{rec.purchase_id}"[:64],
                    started_at=now,
                    lease_until=now + self._policy.attempt_lease,
                    actor=actor,
                )
                rec.timeline.append(
                    TimelineEntry(
                        at=now,
                        kind=TimelineKind.REVOKE_REQUESTED,
                        summary=f"Revocation requested ({offer.action})",
                        actor=actor,
                    )
                )
            return offer.action

        record, account, action = await self._update_full(purchase_id, claim, loaded=(record, account))
        if action is None:
            if record.aws.state in UNDONE_STATES or record.aws.state in PENDING_STATES:
                record = await self._finish_revoke(purchase_id, None, actor, loaded=(record, account))
                return CommandReply(
                    status=CommandStatus.DONE,
                    message=_done_message(record),
                    purchase=await self._view(record, viewer, account=account),
                )
            closed = record.windows.self_service_until
            raise Rejected(
                ErrorCode.CONFLICT,
                "AWS no longer allows a self-service undo"
                + (f": the window closed at {_iso(closed)}" if closed else f" (state {record.aws.state})"),
                record=record,
            )

        # 3. Act.
        acting = record
        try:
            result = await self._with_backoff(lambda: self._act(role, acting, action))
        except AwsCallError as exc:
            await self._learn(record.purchase.account.id, exc)
            if exc.retryable:
                raise TransientError(exc.message) from exc
            # AWS refused: maybe because an earlier attempt of ours already did it.
            try:
                again = await self._read_aws(role, record.purchase)
            except AwsCallError:
                again = None
            if again is not None and (again.state in UNDONE_STATES or again.state in PENDING_STATES):
                record = await self._finish_revoke(purchase_id, None, actor, aws=again)
                return CommandReply(
                    status=CommandStatus.DONE,
                    message=_done_message(record),
                    purchase=await self._view(record, viewer, account=account),
                )
            record = await self._fail(purchase_id, exc, actor, aws=again)
            raise Rejected(_problem_code(exc), _failure_message(exc), record=record) from exc
        record = await self._finish_revoke(purchase_id, result, actor, loaded=(record, account))
        if account is not None and action.value in account.use_missing:
            await self._store.clear_use_missing(record.purchase.account.id, action.value)
        return CommandReply(
            status=CommandStatus.DONE,
            message=_done_message(record),
            purchase=await self._view(record, viewer, account=account),
        )

    async def _act(self, role: Role, record: PurchaseRecord, action: SelfServiceAction) -> ActionResult:
        commitment = record.purchase.commitment
        if action is SelfServiceAction.RETURN_SAVINGS_PLAN:
            assert record.attempt is not None
            return await self._aws.return_savings_plan(role, commitment.id, client_token=record.attempt.client_token)
        if action is SelfServiceAction.DELETE_QUEUED_SAVINGS_PLAN:
            return await self._aws.delete_queued_savings_plan(role, commitment.id)
        return await self._aws.delete_queued_reserved_instance(role, commitment.region, commitment.id)

    async def _finish_revoke(
        self,
        purchase_id: str,
        result: ActionResult | None,
        actor: ActorRef,
        *,
        aws: AwsState | None = None,
        loaded: Loaded | None = None,
    ) -> PurchaseRecord:
        async def finish(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
            if aws is not None:
                rec.aws = aws
            if rec.status in (RevocationStatus.REVOKED, RevocationStatus.PENDING):
                rec.attempt = None
                return
            action = rec.attempt.action if rec.attempt else None
            who = rec.attempt.actor if rec.attempt else actor
            pending = action == SelfServiceAction.RETURN_SAVINGS_PLAN or rec.aws.state in PENDING_STATES
            if result is not None and action != SelfServiceAction.RETURN_SAVINGS_PLAN:
                rec.aws = rec.aws.model_copy(update={"state": "queued-deleted", "read_at": now})  # AWS said 200
            if rec.aws.state in UNDONE_STATES:
                pending = False
            ids = [*rec.audit.aws_request_ids, *([result.request_id] if result and result.request_id else [])]
            rec.audit = rec.audit.model_copy(
                update={
                    "revoked_at": now,
                    "revoked_via": RevokedVia.SELF_SERVICE_API,
                    "actor": who,
                    "aws_request_ids": ids,
                    "aws_response": result.response if result else rec.audit.aws_response,
                    "failure": None,
                }
            )
            rec.timeline.append(
                TimelineEntry(
                    at=now,
                    kind=TimelineKind.AWS_RESPONSE,
                    summary=f"AWS accepted {action or 'the undo'}",
                    detail={
                        "request_id": result.request_id if result else None,
                        "response": result.response if result else None,
                    },
                )
            )
            rec.attempt = None
            rec.blocked = None
            if pending:
                rec.status = RevocationStatus.PENDING
                rec.aws = rec.aws.model_copy(update={"state": "pending-return"})
                self._refresh_derived(rec, account, now)
                self._emit(
                    rec,
                    PurchaseChangeKind.REVOCATION_REQUESTED,
                    "AWS accepted the return of the Savings Plan (pending-return): irreversible; the upfront "
                    "charge is refunded on the bill within 24 hours",
                    key="return",
                    actor=who,
                    now=now,
                )
            else:
                self._mark_revoked(rec, account, now, who)

        record, _ = await self._update(purchase_id, finish, loaded=loaded)
        return record

    def _mark_revoked(
        self, rec: PurchaseRecord, account: AccountRecord | None, now: datetime, who: ActorRef | None
    ) -> None:
        rec.status = RevocationStatus.REVOKED
        rec.timeline.append(
            TimelineEntry(at=now, kind=TimelineKind.REVOKED, summary=f"Revoked (AWS state {rec.aws.state})")
        )
        self._refresh_derived(rec, account, now)
        self._emit(rec, PurchaseChangeKind.REVOKED, _done_message(rec), key="final", actor=who, now=now)

    async def _fail(
        self, purchase_id: str, exc: AwsCallError, actor: ActorRef, *, aws: AwsState | None
    ) -> PurchaseRecord:
        async def fail(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
            if aws is not None:
                rec.aws = aws
            key = rec.attempt.key if rec.attempt else now.isoformat()
            who = rec.attempt.actor if rec.attempt else actor
            ids = [*rec.audit.aws_request_ids, *([exc.request_id] if exc.request_id else [])]
            rec.audit = rec.audit.model_copy(
                update={"failure": _failure_message(exc), "aws_request_ids": ids, "actor": who}
            )
            if exc.code == "ServiceQuotaExceededException":
                rec.blocked = Blocked(action=exc.action, code=exc.code, message=exc.message)
            rec.attempt = None
            rec.status = RevocationStatus.FAILED
            rec.timeline.append(
                TimelineEntry(
                    at=now,
                    kind=TimelineKind.FAILED,
                    summary=_failure_message(exc),
                    actor=who,
                    detail={"code": exc.code, "action": exc.action, "request_id": exc.request_id},
                )
            )
            self._refresh_derived(rec, account, now)
            self._emit(rec, PurchaseChangeKind.REVOCATION_FAILED, _failure_message(exc), key=key, actor=who, now=now)

        record, _ = await self._update(purchase_id, fail)
        return record

    # --- support case ----------------------------------------------------------------------------------

    async def _submit_case(self, command: SubmitSupportCase, key: str) -> CommandReply:
        record, account, role = await self._load(command.purchase_id, command.actor)
        if record.status is RevocationStatus.CASE_OPEN:
            return await self._view_reply(
                record, command.actor, f"Support case {record.audit.support_case_id} is already open."
            )
        now = self._clock.now()
        assessment = self._assess(record, account, now)
        if assessment.phase is Phase.SELF_SERVICE:
            raise Rejected(ErrorCode.CONFLICT, "AWS allows a self-service undo now: revoke instead", record=record)
        if assessment.phase is Phase.SUPPORT_UNAVAILABLE and assessment.unavailable is not None:
            raise Rejected(ErrorCode.UNAVAILABLE, assessment.unavailable.message, record=record)
        if assessment.phase is not Phase.SUPPORT_CASE:
            raise Rejected(
                ErrorCode.CONFLICT,
                f"a support case can no longer be filed (phase {assessment.phase}; the support window, our "
                f"policy, closed at {_iso(record.windows.support_case_until)})",
                record=record,
            )
        # One filing per purchase, even with concurrent requests (CreateCase has no client token).
        lock = f"case:{record.purchase_id}"
        if not await self._store.claim_once(lock, now=now, expires_at=now + self._policy.command_retention, owner=key):
            holder = await self._store.claim_holder(lock)
            if holder is not None and holder.get("owner") != key:
                return CommandReply(
                    status=CommandStatus.IN_PROGRESS,
                    message="A support case request for this purchase is already under way.",
                    purchase=await self._view(record, command.actor, account=account),
                )
        draft = draft_case(record.purchase)
        subject = command.subject or draft.subject
        if case_reference(record.purchase_id) not in subject:
            subject = f"{case_reference(record.purchase_id)} {subject}"[:CASE_SUBJECT_MAX_LENGTH]
        body = command.body or draft.body
        actor = _ref(command.actor)

        async def claim(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> bool:
            if rec.attempt is not None and rec.attempt.key == key:
                rec.attempt = rec.attempt.model_copy(update={"lease_until": now + self._policy.attempt_lease})
                return True
            rec.attempt = Attempt(
                key=key,
                kind="support-case",
                action="support:CreateCase",
                client_token=case_reference(rec.purchase_id),
                started_at=now,
                lease_until=now + self._policy.attempt_lease,
                actor=actor,
                subject=subject,
                body=body,
            )
            return False

        try:
            _, resuming = await self._update(command.purchase_id, claim, loaded=(record, account))
            record = await self._run_case(command.purchase_id, role, resuming=resuming)
        except Rejected:
            await self._store.release_claim(lock)  # AWS refused: a later request may try again
            raise
        return await self._view_reply(record, command.actor, f"Support case {record.audit.support_case_id} opened.")

    async def _run_case(self, purchase_id: str, role: Role, *, resuming: bool) -> PurchaseRecord:
        record = await self._store.get(purchase_id)
        assert record is not None
        assert record.attempt is not None
        attempt = record.attempt
        reference = case_reference(purchase_id)
        try:
            found = None
            if resuming:
                # CreateCase has no client token. An attempt that died after it left a case
                # whose subject carries our reference: adopt that case instead of filing twice.
                existing = await self._with_backoff(
                    lambda: self._aws.describe_cases(role, after=attempt.started_at - timedelta(minutes=10))
                )
                found = next((c for c in existing if reference in c.subject), None)
            if found is not None:
                case_id, request_id, response = found.case_id, None, None
            else:
                category, severity = await self._case_codes(role, record)
                result = await self._with_backoff(
                    lambda: self._aws.create_case(
                        role,
                        subject=attempt.subject or reference,
                        body=attempt.body or reference,
                        service_code="billing",
                        category_code=category,
                        severity_code=severity,
                    )
                )
                case_id, request_id, response = str(result.response["caseId"]), result.request_id, result.response
            details = await self._with_backoff(lambda: self._aws.describe_cases(role, case_ids=[case_id]))
        except AwsCallError as exc:
            await self._learn(record.purchase.account.id, exc)
            if exc.retryable:
                raise TransientError(exc.message) from exc
            failed = await self._fail(purchase_id, exc, attempt.actor, aws=None)
            raise Rejected(_problem_code(exc), _failure_message(exc), record=failed) from exc
        info = details[0] if details else None

        async def opened(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
            if rec.status is RevocationStatus.CASE_OPEN:
                rec.attempt = None
                return
            who = rec.attempt.actor if rec.attempt else attempt.actor
            rec.status = RevocationStatus.CASE_OPEN
            rec.attempt = None
            rec.audit = rec.audit.model_copy(
                update={
                    "revoked_via": RevokedVia.SUPPORT_CASE_API,
                    "support_case_id": case_id,
                    "support_case_status": info.status if info else "opened",
                    "support_case_display_id": info.display_id if info else None,
                    "support_case_opened_at": now,
                    "actor": who,
                    "aws_request_ids": [*rec.audit.aws_request_ids, *([request_id] if request_id else [])],
                    "aws_response": response or rec.audit.aws_response,
                    "failure": None,
                }
            )
            rec.timeline.append(
                TimelineEntry(
                    at=now,
                    kind=TimelineKind.CASE_OPENED,
                    summary=f"AWS Support case {case_id} opened"
                    + (f" (#{info.display_id})" if info and info.display_id else ""),
                    actor=who,
                    detail={"case_id": case_id, "subject": attempt.subject},
                )
            )
            self._refresh_derived(rec, account, now)
            self._emit(
                rec,
                PurchaseChangeKind.SUPPORT_CASE_OPENED,
                f"AWS Support refund request {case_id} filed; AWS decides at its discretion",
                key=case_id,
                actor=who,
                now=now,
            )

        record, _ = await self._update(purchase_id, opened)
        await self._store.clear_use_missing(record.purchase.account.id, "support:CreateCase")
        return record

    async def _renew_lease(self, purchase_id: str) -> None:
        async def renew(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
            if rec.attempt is not None:
                rec.attempt = rec.attempt.model_copy(update={"lease_until": now + self._policy.attempt_lease})

        await self._update(purchase_id, renew)

    async def _case_codes(self, role: Role, record: PurchaseRecord) -> tuple[str, str]:
        """Category and severity from what the account's Support API offers right now."""
        categories = await self._with_backoff(lambda: self._aws.support_categories(role))
        if not categories:
            raise AwsCallError(
                Failure.REJECTED, "DescribeServices lists no 'billing' service", action="support:DescribeServices"
            )
        preferred = preferred_category(record.purchase.commitment.kind)
        category = preferred if preferred in categories else FALLBACK_CATEGORY
        if category not in categories:
            category = sorted(categories)[0]
        await self._store.update_account(
            record.purchase.account.id, {"categories": sorted(categories), "categories_at": self._clock.now()}
        )
        levels = await self._with_backoff(lambda: self._aws.severity_levels(role))
        severity = "normal" if "normal" in levels else (levels[0] if levels else "low")
        return category, severity

    # --- mark resolved ---------------------------------------------------------------------------------

    async def _mark_resolved(self, command: MarkCaseResolved) -> CommandReply:
        record = await self._store.get(command.purchase_id)
        if record is None:
            raise Rejected(ErrorCode.NOT_FOUND, f"no purchase {command.purchase_id}")
        if not may_act_on(command.actor, record.purchase.requested_by):
            raise Rejected(ErrorCode.FORBIDDEN, f"{command.actor.email} may not act on purchase {command.purchase_id}")
        if record.status is RevocationStatus.CASE_RESOLVED:
            return await self._view_reply(record, command.actor, "The case was already resolved.")
        if record.status is not RevocationStatus.CASE_OPEN:
            raise Rejected(ErrorCode.CONFLICT, "no support case is open for this purchase", record=record)
        actor = _ref(command.actor)

        async def resolve(rec: PurchaseRecord, account: AccountRecord | None, now: datetime) -> None:
            if rec.status is RevocationStatus.CASE_OPEN:
                self._resolve(rec, account, now, actor, note=command.note)

        record, _ = await self._update(command.purchase_id, resolve)
        return await self._view_reply(record, command.actor, "Support case marked resolved.")

    def _resolve(
        self, rec: PurchaseRecord, account: AccountRecord | None, now: datetime, by: ActorRef | None, *, note: str = ""
    ) -> None:
        case_id = rec.audit.support_case_id or "?"
        rec.status = RevocationStatus.CASE_RESOLVED
        rec.audit = rec.audit.model_copy(
            update={"support_case_status": "resolved", "support_case_resolved_at": now, "support_case_resolved_by": by}
        )
        summary = f"Support case {case_id} resolved" + (" (marked by hand)" if by else " (AWS Support)")
        rec.timeline.append(
            TimelineEntry(
                at=now,
                kind=TimelineKind.CASE_RESOLVED,
                summary=summary,
                actor=by,
                detail={"note": note} if note else None,
            )
        )
        self._refresh_derived(rec, account, now)
        self._emit(rec, PurchaseChangeKind.SUPPORT_CASE_RESOLVED, summary, key=case_id, actor=by, now=now)

    # =========================================================================================
    # Queries
    # =========================================================================================

    async def query(  # noqa: PLR0911 - one return per query kind
        self, query: ListPurchases | GetPurchase | GetSupportCaseDraft | ListAccountAccess
    ) -> PurchaseListReply | PurchaseReply | SupportCaseDraftReply | AccountAccessReply:
        if isinstance(query, ListPurchases):
            try:
                after = decode_cursor(query.cursor) if query.cursor else None
            except ValueError as exc:
                return PurchaseListReply(problem=Problem(code=ErrorCode.INVALID, message=str(exc)))
            records = await self._store.page(
                account_id=query.account_id,
                phase=query.phase,
                requested_by_user_id=query.requested_by_user_id,
                limit=query.limit + 1,
                after=after,
            )
            more = len(records) > query.limit
            records = records[: query.limit]
            cursor = encode_cursor(records[-1].purchase.executed_at, records[-1].purchase_id) if more else None
            # One read for the page's accounts, not one per purchase.
            accounts = await self._store.accounts_by_id({r.purchase.account.id for r in records})
            items = [await self._view(r, query.actor, account=accounts.get(r.purchase.account.id)) for r in records]
            return PurchaseListReply(items=items, next_cursor=cursor)
        if isinstance(query, ListAccountAccess):
            return AccountAccessReply(accounts=[a.view() for a in await self._store.accounts()])
        record = await self._store.get(query.purchase_id)
        if isinstance(query, GetPurchase):
            if record is None:
                return PurchaseReply(
                    problem=Problem(code=ErrorCode.NOT_FOUND, message=f"no purchase {query.purchase_id}")
                )
            return PurchaseReply(purchase=await self._view(record, query.actor))
        if record is None:
            return SupportCaseDraftReply(
                problem=Problem(code=ErrorCode.NOT_FOUND, message=f"no purchase {query.purchase_id}")
            )
        return SupportCaseDraftReply(draft=await self._draft(record))

    async def _draft(self, record: PurchaseRecord) -> SupportCaseDraft:
        account = await self._store.account(record.purchase.account.id)
        preferred = preferred_category(record.purchase.commitment.kind)
        known = set(account.categories or []) if account else set()
        category = preferred if not known or preferred in known else FALLBACK_CATEGORY
        return draft_case(record.purchase, category_code=category)

    async def _view(
        self, record: PurchaseRecord, actor: Actor | None, *, account: AccountRecord | bool | None = False
    ) -> PurchaseView:
        """``account``: the account record if the caller has it (None: there is none), else read."""
        if isinstance(account, bool):
            account = await self._store.account(record.purchase.account.id)
        now = self._clock.now()
        assessment = self._assess(record, account, now)
        actions = list(assessment.actions)
        unavailable = assessment.unavailable
        if actor is not None and actions and not may_act_on(actor, record.purchase.requested_by):
            actions = []
            unavailable = Unavailability(
                reason=UnavailableReason.NOT_PERMITTED,
                message=(
                    "You may act only on purchases you requested (revoke-own:purchases), "
                    "unless you hold revoke-any:purchases."
                ),
            )
        return PurchaseView(
            purchase=record.purchase,
            windows=record.windows,
            phase=assessment.phase,
            aws_state=record.aws.state,
            allowed_actions=actions,
            unavailable=unavailable,
            audit=record.audit,
            timeline=record.timeline,
            updated_at=record.updated_at,
        )

    # =========================================================================================
    # Ticks and other events
    # =========================================================================================

    async def on_tick(self, tick: Tick) -> None:
        """Everything due, by this service's own clock. Safe with several replicas: each due
        purchase or account is claimed with a conditional update before it is worked on."""
        now = self._clock.now()
        await self._store.purge_commands(now)
        await self._store.purge_claims(now)
        await self._inbox.purge(now=now)
        for purchase_id in await self._store.with_outbox(limit=self._policy.tick_batch):
            record = await self._store.get(purchase_id)
            if record is not None:
                await self._flush(record)
        for purchase_id, due_at in await self._store.due(now, limit=self._policy.tick_batch):
            if not await self._claim(f"due:{purchase_id}:{due_at.isoformat()}", now):
                continue
            await self._store.postpone(purchase_id, due_at, until=now + self._policy.attempt_lease)
            try:
                await self._follow(purchase_id)
            except Exception:  # one purchase's trouble must not stop the others; retried after the lease
                log.exception("purchase follow-up failed", purchase_id=purchase_id)
        for account_id, due_at in await self._store.probes_due(now, limit=self._policy.tick_batch):
            if not await self._claim(f"probe:{account_id}:{due_at.isoformat()}", now):
                continue
            await self._store.postpone_probe(account_id, due_at, until=now + self._policy.attempt_lease)
            try:
                await self._probe(account_id)
            except Exception:
                log.exception("account probe failed", account_id=account_id)

    async def _claim(self, claim_id: str, now: datetime) -> bool:
        """Exactly one replica wins a claim: a unique insert, atomic on MongoDB and FerretDB
        alike (FerretDB 1.24's conditional updates are not atomic between connections)."""
        return await self._store.claim_once(claim_id, now=now, expires_at=now + self._policy.command_retention)

    async def _follow(self, purchase_id: str) -> None:
        record = await self._store.get(purchase_id)
        if record is None:
            return
        now = self._clock.now()
        account = await self._store.account(record.purchase.account.id)
        role = self._role(account)
        attempt = record.attempt
        if attempt is not None and attempt.lease_until <= now and role is not None:
            try:
                if attempt.kind == "revoke":
                    await self._run_revoke(purchase_id, role, attempt.key, attempt.actor, None)
                else:
                    await self._renew_lease(purchase_id)
                    await self._run_case(purchase_id, role, resuming=True)
            except Rejected:
                pass  # recorded as a failure on the purchase; nobody is waiting for a reply
            return
        aws: AwsState | None = None
        cases = None
        if role is not None and (
            record.status is RevocationStatus.PENDING
            or not record.aws.known
            or (record.aws.state == "queued" and record.aws.start is not None and now >= record.aws.start)
        ):
            try:
                aws = await self._read_aws(role, record.purchase)
            except AwsCallError as exc:
                await self._learn(record.purchase.account.id, exc)
        if role is not None and record.status is RevocationStatus.CASE_OPEN and record.audit.support_case_id:
            try:
                cases = await self._with_backoff(
                    lambda: self._aws.describe_cases(role, case_ids=[record.audit.support_case_id or ""])
                )
            except AwsCallError as exc:
                await self._learn(record.purchase.account.id, exc)

        async def follow(rec: PurchaseRecord, acct: AccountRecord | None, now: datetime) -> None:
            if aws is not None:
                rec.aws = aws
                if rec.status is RevocationStatus.PENDING and aws.state in UNDONE_STATES:
                    self._mark_revoked(rec, acct, now, rec.audit.actor)
            if cases and rec.status is RevocationStatus.CASE_OPEN:
                status = cases[0].status
                if status == "resolved":
                    self._resolve(rec, acct, now, None)
                elif status != rec.audit.support_case_status:
                    rec.audit = rec.audit.model_copy(update={"support_case_status": status})
                    summary = f"Support case {rec.audit.support_case_id} is now {status}"
                    rec.timeline.append(TimelineEntry(at=now, kind=TimelineKind.CASE_UPDATED, summary=summary))
                    self._emit(
                        rec,
                        PurchaseChangeKind.SUPPORT_CASE_UPDATED,
                        summary,
                        key=f"{status}:{now.isoformat()}",
                        now=now,
                    )
            self._refresh_derived(rec, acct, now)
            self._close_windows(rec, now)

        await self._update(purchase_id, follow)

    def _close_windows(self, rec: PurchaseRecord, now: datetime) -> None:
        if rec.status not in (RevocationStatus.NONE, RevocationStatus.FAILED):
            return
        edges = {e.detail.get("edge") for e in rec.timeline if e.kind is TimelineKind.WINDOW_CLOSED and e.detail}
        windows = rec.windows
        if windows.self_service_until and now >= windows.self_service_until and "self-service" not in edges:
            summary = f"The self-service window (set by AWS) closed at {_iso(windows.self_service_until)}"
            rec.timeline.append(
                TimelineEntry(at=now, kind=TimelineKind.WINDOW_CLOSED, summary=summary, detail={"edge": "self-service"})
            )
            self._emit(rec, PurchaseChangeKind.WINDOW_CLOSED, summary, key="self-service", now=now)
        if (
            rec.phase in (Phase.CLOSED, Phase.FAILED)
            and windows.closes_at
            and now >= windows.closes_at
            and "final" not in edges
        ):
            summary = f"Every revocation window closed at {_iso(windows.closes_at)}"
            rec.timeline.append(
                TimelineEntry(at=now, kind=TimelineKind.WINDOW_CLOSED, summary=summary, detail={"edge": "final"})
            )
            self._emit(rec, PurchaseChangeKind.WINDOW_CLOSED, summary, key="final", now=now)

    async def on_email_delivered(self, event: EmailDelivered, *, message_id: str) -> None:
        """One timeline entry per delivery, keyed by its message id (the entry is the dedupe
        record: no inbox round-trips). The deliveries of one purchase arrive together; taking
        them one at a time here spares the conflicting replaces and their re-reads."""
        async with self._purchase_locks.hold(event.purchase_id):
            record = await self._store.get(event.purchase_id)
            if record is None:
                log.warning("email delivered for an unknown purchase", purchase_id=event.purchase_id)
                return
            if _has_delivery(record, message_id):
                return
            account = await self._store.account(record.purchase.account.id)
            await self._update(event.purchase_id, partial(_add_delivery, event, message_id), loaded=(record, account))


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _has_delivery(record: PurchaseRecord, message_id: str) -> bool:
    return any(e.detail and e.detail.get("message_id") == message_id for e in record.timeline)


async def _add_delivery(
    event: EmailDelivered, message_id: str, rec: PurchaseRecord, account: AccountRecord | None, now: datetime
) -> None:
    if not _has_delivery(rec, message_id):  # a concurrent replica may have added it meanwhile
        rec.timeline.append(
            TimelineEntry(
                at=event.occurred_at,
                kind=TimelineKind.EMAILED,
                summary=f"Email ({event.kind}) to {event.recipient}: {event.status}",
                detail={"message_id": message_id, "recipient": event.recipient, "status": event.status},
            )
        )


def _problem_code(exc: AwsCallError) -> ErrorCode:
    if exc.failure in (Failure.ACCESS_DENIED, Failure.NOT_ASSUMABLE, Failure.SUBSCRIPTION_REQUIRED):
        return ErrorCode.UNAVAILABLE
    if exc.code in ("ValidationException", "reserved-instances-not-in-queued-state"):
        return ErrorCode.CONFLICT
    if exc.code == "ServiceQuotaExceededException":
        return ErrorCode.UNAVAILABLE
    if exc.failure is Failure.NOT_FOUND:
        return ErrorCode.NOT_FOUND
    return ErrorCode.FAILED


def _failure_message(exc: AwsCallError) -> str:
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


def _done_message(record: PurchaseRecord) -> str:
    if record.status is RevocationStatus.PENDING:
        return (
            "AWS accepted the return (pending-return); it is irreversible, "
            "the upfront charge is refunded within 24 hours."
        )
    kind = record.purchase.commitment.kind
    if kind is CommitmentKind.SAVINGS_PLAN and record.aws.state == "returned":
        return "The Savings Plan was returned."
    return f"Revoked: AWS reports the commitment {record.aws.state}."

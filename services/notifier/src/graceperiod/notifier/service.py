"""The notifier's business class: handlers call it; it receives its collaborators.

Every email is claimed in the delivery store before it is sent and recorded after, so a
redelivered event finds it and sends nothing twice. Per event:

* every recipient sent (now or before) or refused, at least one sent → ack;
* some recipient failed transiently (4xx, server down) → ``TransientError``: the message is
  retried with back-off and only the recipients not yet done are tried again;
* every recipient refused for good (5xx) → ``PermanentMessageError``: the message goes to the
  dead-letter queue with the reasons, never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.formatting import utc
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    DeliveryStatus,
    EmailDelivered,
    EmailKind,
    EmailOutcome,
    GetNotificationSettings,
    ListDeliveries,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseRecorded
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.vocabulary import expected_refund
from graceperiod.contracts.wait_list import PoolRunningLow
from graceperiod.notifier.adapters.mail import MailTransport, PermanentDeliveryError, TransientDeliveryError
from graceperiod.notifier.domain.deliveries import Claim, DeliveryKey, DeliveryRecord, announcement_id
from graceperiod.notifier.domain.emails import (
    OUTCOME_HEADLINES,
    Email,
    ExecutedEmail,
    OutcomeEmail,
    PurchaseFacts,
    announces,
    executed_subject,
    outcome_story,
    outcome_subject,
    pool_alert_email,
)
from graceperiod.notifier.domain.recipients import normalise, resolve_recipients
from graceperiod.notifier.domain.reminders import (
    ReminderEmail,
    ReminderRecord,
    ReminderState,
    after_change,
    at_due_time,
    finished,
    reminder_for,
    reminder_headline,
    reminder_subject,
)
from graceperiod.notifier.domain.windows import window_notice
from graceperiod.notifier.links import LinkSigner
from graceperiod.notifier.rendering import EmailRenderer
from graceperiod.notifier.store import DeliveryStore, ReminderStore, SettingsStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import PermanentMessageError, TransientError
from graceperiod.runtime.mongo import until_stored

log = get_logger("graceperiod.notifier")


class NotifierService:
    def __init__(
        self,
        *,
        deliveries: DeliveryStore,
        settings: SettingsStore,
        transport: MailTransport,
        renderer: EmailRenderer,
        links: LinkSigner,
        events: EventSink,
        clock: Clock,
        brand: str,
        link_fallback_ttl: timedelta = timedelta(days=7),
        delivery_retention: timedelta | None = None,
        reminders: ReminderStore | None = None,
        reminder_hours_before: int = 0,
        reminder_batch: int = 100,
    ) -> None:
        self._deliveries = deliveries
        self._settings = settings
        self._transport = transport
        self._renderer = renderer
        self._links = links
        self._events = events
        self._clock = clock
        self._brand = brand
        self._link_fallback_ttl = link_fallback_ttl
        self._retention = delivery_retention
        self._reminders = reminders
        self._reminder_hours = reminder_hours_before if reminders is not None else 0
        self._reminder_batch = reminder_batch

    # --- Events -------------------------------------------------------------------------

    async def on_purchase_recorded(self, event: PurchaseRecorded) -> None:
        # The reminder is stored while the emails go out (its insert shared with other events'
        # reminders); the event is acked only once both are done, and a retry redoes either.
        reminder = asyncio.ensure_future(self._schedule_reminder(event))
        try:
            await self._email_executed(event)
        except BaseException:
            with contextlib.suppress(Exception):
                await reminder  # the error reported is the emails'
            raise
        await reminder

    async def _email_executed(self, event: PurchaseRecorded) -> None:
        purchase = event.purchase
        recipients = await self._recipients(purchase)
        facts = PurchaseFacts.of(purchase, event.refund)
        subject = executed_subject(purchase, self._brand)
        dashboard = self._links.dashboard_url(purchase.purchase_id)

        def compose(recipients: Sequence[str]) -> list[Email]:
            now = self._clock.now()
            notice = window_notice(event.windows, event.phase, now)
            links = self._revoke_links(purchase, event.windows, recipients, now, offered=notice.button is not None)
            email = ExecutedEmail(
                brand=self._brand,
                subject=subject,
                facts=facts,
                notice=notice,
                revoke_url=None,
                dashboard_url=dashboard,
                recipient="",
                now=now,
            )
            return self._renderer.executed_many(email, links)

        keys = [DeliveryKey(EmailKind.PURCHASE_EXECUTED, purchase.purchase_id, r) for r in recipients]
        await self._deliver_all(keys, compose)

    def _revoke_links(
        self, purchase: PurchaseExecuted, windows: Windows, recipients: Sequence[str], now: datetime, *, offered: bool
    ) -> list[tuple[str, str | None]]:
        """Each recipient's own revoke link (valid until the last window closes), or None when
        nothing is offered or the link would already have expired."""
        expires = windows.closes_at or purchase.executed_at + self._link_fallback_ttl
        if not offered or expires <= now:
            return [(recipient, None) for recipient in recipients]
        pid = purchase.purchase_id

        def link(recipient: str) -> str:
            token = self._links.token(
                purchase_id=pid, recipient=recipient, expires_at=expires, now=now, provider=purchase.provider
            )
            return self._links.revoke_url(pid, token)

        return [(recipient, link(recipient)) for recipient in recipients]

    async def on_purchase_changed(self, event: PurchaseChanged, *, message_id: str | None) -> None:
        """Email the outcome of a revocation to the people told about the purchase."""
        await self._reminder_after(event)
        if not announces(event.change):
            return
        purchase = event.purchase
        # The same people as the executed-purchase email, even if the global address changed
        # since; only when none was ever sent (recorded before the notifier ran) resolve afresh.
        recipients = await self._recipients(purchase, told=EmailKind.PURCHASE_EXECUTED)
        # One email per change event: its deterministic message id tells a redelivery of the
        # same change from a second change of the same kind (e.g. a retried revocation failing again).
        occurrence = message_id or f"{event.change}@{event.occurred_at.isoformat()}"
        occurred_at = utc(event.occurred_at)
        dashboard = self._links.dashboard_url(purchase.purchase_id)
        facts = PurchaseFacts.of(purchase, event.refund)

        def compose(recipients: Sequence[str]) -> list[Email]:
            notice = window_notice(event.windows, event.phase, self._clock.now())
            what, details, next_step = outcome_story(
                event.change,
                summary=event.summary,
                audit=event.audit,
                actor=event.actor,
                occurred_at=occurred_at,
                notice=notice,
                refund=expected_refund(purchase, event.aws_state, event.refund),
                currency=purchase.cost.currency,
                provider=purchase.provider,
            )
            email = OutcomeEmail(
                brand=self._brand,
                subject=outcome_subject(event.change, purchase, self._brand),
                headline=OUTCOME_HEADLINES[event.change],
                change=event.change,
                what_happened=what,
                details=details,
                next_step=next_step,
                facts=facts,
                dashboard_url=dashboard,
            )
            return self._renderer.outcome_many(
                email, recipients, purchase_id=purchase.purchase_id, occurrence=occurrence
            )

        keys = [
            DeliveryKey(EmailKind.REVOCATION_OUTCOME, purchase.purchase_id, r, occurrence, event.change)
            for r in recipients
        ]
        await self._deliver_all(keys, compose)

    async def _recipients(self, purchase: PurchaseExecuted, *, told: EmailKind | None = None) -> list[str]:
        """Those already sent the ``told`` email about the purchase, else who is to be told now."""
        recipients = await self._deliveries.recipients_of(purchase.purchase_id, told) if told else []
        if not recipients:
            settings = await self._settings.get()
            recipients = resolve_recipients(purchase, settings.global_notification_email)
        if not recipients:
            msg = f"purchase {purchase.purchase_id} has no valid recipient address"
            raise PermanentMessageError(msg)
        return recipients

    async def on_pool_running_low(self, event: PoolRunningLow) -> None:
        """Email the low-pool alert to the global notification address, once per alert."""
        settings = await self._settings.get()
        address = normalise(settings.global_notification_email) if settings.global_notification_email else None
        recipients = [address] if address else []
        if not recipients:
            log.warning("the pool runs low but no global notification address is set", alert_id=event.alert_id)
            return
        email = pool_alert_email(event, brand=self._brand, dashboard_url=self._links.pool_url())

        def compose(recipients: Sequence[str]) -> list[Email]:
            return self._renderer.pool_alert_many(email, recipients, alert_id=event.alert_id)

        keys = [DeliveryKey(EmailKind.POOL_RUNNING_LOW, event.alert_id, r) for r in recipients]
        await self._deliver_all(keys, compose, announce=False)

    async def on_tick(self) -> None:
        await self._send_due_reminders()
        if self._retention is None:
            return
        purged = await self._deliveries.purge(finished_before=self._clock.now() - self._retention)
        if purged:
            log.info("old deliveries purged", count=purged)

    # --- The reminder before the self-service window closes --------------------------------

    async def _schedule_reminder(self, event: PurchaseRecorded) -> None:
        if self._reminders is None:
            return
        reminder = reminder_for(event, hours_before=self._reminder_hours, now=self._clock.now())
        if reminder is not None:
            await self._reminders.schedule(reminder)

    async def _reminder_after(self, event: PurchaseChanged) -> None:
        if self._reminders is None:
            return
        record = await self._reminders.get(event.purchase.purchase_id)
        changed = after_change(record, event, self._clock.now()) if record is not None else None
        if record is not None and changed is not None:
            await self._reminders.replace(changed, was=record.state)

    async def _send_due_reminders(self) -> None:
        """Send the reminders due now. A reminder that cannot go out now stays scheduled for the
        next tick (ticks are never retried or dead-lettered); one that fails does not hold up
        the others."""
        store = self._reminders
        if store is None:
            return
        for record in await store.due(self._clock.now(), limit=self._reminder_batch):
            try:
                await self._remind(store, record)
            except (TransientError, TransientDeliveryError) as exc:
                log.info("reminder deferred", purchase_id=record.purchase_id, error=str(exc))
            except PermanentMessageError as exc:
                log.warning("reminder not sent", purchase_id=record.purchase_id, error=str(exc))
                stopped = finished(record, ReminderState.CANCELLED, self._clock.now(), str(exc))
                await store.replace(stopped, was=ReminderState.SCHEDULED)
            except Exception:
                log.exception("reminder failed", purchase_id=record.purchase_id)

    async def _remind(self, store: ReminderStore, record: ReminderRecord) -> None:
        missed = at_due_time(record, self._clock.now())
        if missed is not None:
            await store.replace(missed, was=ReminderState.SCHEDULED)
            return
        purchase = record.purchase
        recipients = await self._recipients(purchase, told=EmailKind.PURCHASE_EXECUTED)
        facts = PurchaseFacts.of(purchase)
        dashboard = self._links.dashboard_url(purchase.purchase_id)

        def compose(recipients: Sequence[str]) -> list[Email]:
            now = self._clock.now()
            notice = window_notice(record.windows, Phase.SELF_SERVICE, now)
            email = ReminderEmail(
                brand=self._brand,
                subject=reminder_subject(purchase, self._brand),
                headline=reminder_headline(record, now),
                facts=facts,
                notice=notice,
                revoke_url=None,
                dashboard_url=dashboard,
                recipient="",
            )
            links = self._revoke_links(purchase, record.windows, recipients, now, offered=notice.button is not None)
            return self._renderer.reminder_many(email, links)

        keys = [DeliveryKey(EmailKind.WINDOW_REMINDER, purchase.purchase_id, r) for r in recipients]
        await self._deliver_all(keys, compose)
        sent = finished(record, ReminderState.SENT, self._clock.now(), f"{len(keys)} recipients")
        await store.replace(sent, was=ReminderState.SCHEDULED)

    # --- Commands and queries -------------------------------------------------------------

    async def set_settings(self, command: SetNotificationSettings) -> NotificationSettingsReply:
        if not command.actor.can(Permission.UPDATE_CONFIG):
            problem = Problem(code=ErrorCode.FORBIDDEN, message="changing notification settings needs update:config")
            return NotificationSettingsReply(problem=problem)
        address: str | None = None
        if command.global_notification_email:
            address = normalise(command.global_notification_email)
            if address is None:
                problem = Problem(
                    code=ErrorCode.INVALID,
                    message=f"{command.global_notification_email!r} is not an email address",
                )
                return NotificationSettingsReply(problem=problem)
        settings = await self._settings.update(
            global_address=address,
            updated_by=command.actor.email,
            now=self._clock.now(),
            idempotency_key=command.idempotency_key,
        )
        log.info("notification settings changed", global_notification_email=address, by=command.actor.email)
        return NotificationSettingsReply(settings=settings)

    async def get_settings(self, query: GetNotificationSettings) -> NotificationSettingsReply:
        return NotificationSettingsReply(settings=await self._settings.get())

    async def list_deliveries(self, query: ListDeliveries) -> DeliveriesReply:
        return DeliveriesReply(items=await self._deliveries.for_purchase(query.purchase_id))

    # --- Delivery -------------------------------------------------------------------------

    async def _deliver_all(
        self, keys: Sequence[DeliveryKey], compose: Callable[[Sequence[str]], list[Email]], *, announce: bool = True
    ) -> None:
        """Claim, send, record and announce one event's emails: the store is written once to
        claim them all and once to record those sent, whatever the number of recipients.
        (Only purchase emails are announced: the revocation service adds them to its timeline.)"""
        claims = await self._deliveries.claim_many(keys, now=self._clock.now())
        finished, failures, todo = _sorted_claims(keys, claims)
        if todo:
            try:
                emails = compose([key.recipient for key in todo])
            except Exception:
                # A bug (rendering, say): nothing was sent; let the retry take the claims at once.
                for key in todo:
                    await self._deliveries.release(key, now=self._clock.now(), detail="error before sending")
                raise
            outcomes = await asyncio.gather(*(self._send(key, e) for key, e in zip(todo, emails, strict=True)))
            sent = [key for key, outcome in zip(todo, outcomes, strict=True) if outcome is None]
            finished.extend(await self._finish(sent, DeliveryStatus.SENT, ""))
            for key, outcome in zip(todo, outcomes, strict=True):
                if isinstance(outcome, PermanentDeliveryError):
                    finished.extend(await self._finish([key], DeliveryStatus.REJECTED, str(outcome)))
                elif outcome is not None:
                    failures.append(outcome)
        if announce and finished:
            await self._announce(finished)
        self._verdict(keys, finished, failures)

    @staticmethod
    def _verdict(
        keys: Sequence[DeliveryKey], finished: list[tuple[DeliveryKey, DeliveryRecord]], failures: list[BaseException]
    ) -> None:
        """Ack (return), retry (TransientError) or dead-letter (PermanentMessageError) the event."""
        if failures:
            unexpected = [f for f in failures if not isinstance(f, TransientError | TransientDeliveryError)]
            if unexpected:
                raise unexpected[0]
            # Done recipients are recorded and skipped next time; retry the rest.
            msg = f"{len(failures)} of {len(keys)} deliveries failed for now: {failures[0]}"
            raise TransientError(msg)
        if finished and all(d.status is DeliveryStatus.REJECTED for _, d in finished):
            reasons = "; ".join(f"{k.recipient}: {d.detail}" for k, d in finished)
            msg = f"every recipient of {keys[0].kind} email for {keys[0].purchase_id} was refused: {reasons}"
            raise PermanentMessageError(msg)

    async def _send(self, key: DeliveryKey, email: Email) -> Exception | None:
        """None when the server accepted the email, else the failure (the claim released when
        a retry may succeed)."""
        try:
            await self._transport.send(email)
        except PermanentDeliveryError as exc:
            log.warning("email refused", purchase_id=key.purchase_id, recipient=key.recipient, error=str(exc))
            return exc
        except Exception as exc:
            await self._deliveries.release(key, now=self._clock.now(), detail=str(exc))
            log.warning("email deferred", purchase_id=key.purchase_id, recipient=key.recipient, error=str(exc))
            return exc
        return None

    async def _finish(
        self, keys: Sequence[DeliveryKey], status: DeliveryStatus, detail: str
    ) -> list[tuple[DeliveryKey, DeliveryRecord]]:
        """Record sent (or refused) emails, however long the database is unreachable: the
        server has answered, and an unrecorded email would be sent again by the redelivery
        once its claim's lease expired (the chaos suite saw every email in flight during a
        FerretDB outage sent twice before this)."""
        if not keys:
            return []
        deliveries = await until_stored(
            lambda: self._deliveries.finish_many(keys, status=status, now=self._clock.now(), detail=detail),
            what=f"email {status.value}",
        )
        return list(zip(keys, deliveries, strict=True))

    async def _announce(self, finished: Sequence[tuple[DeliveryKey, DeliveryRecord]]) -> None:
        """One event for the emails of one event that are finished (one message per event,
        not per recipient), those sent before included: their first announcement may have
        been lost."""
        emails = [
            EmailOutcome(
                recipient=key.recipient,
                status=delivery.status,
                at=delivery.finished_at,
                detail=delivery.detail,
                delivery_id=key.event_id,
            )
            for key, delivery in finished
        ]
        key, first = finished[0][0], emails[0]
        event = EmailDelivered(
            occurred_at=first.at,
            purchase_id=key.purchase_id,
            kind=key.kind,
            recipient=first.recipient,
            status=first.status,
            change=key.change,
            detail=first.detail,
            deliveries=emails,
        )
        await self._events.publish(event, message_id=announcement_id([key for key, _ in finished]))


def _sorted_claims(
    keys: Sequence[DeliveryKey], claims: Sequence[tuple[Claim, DeliveryRecord | None]]
) -> tuple[list[tuple[DeliveryKey, DeliveryRecord]], list[BaseException], list[DeliveryKey]]:
    """The emails already sent (announced again: the first announcement may have been lost),
    those another worker is sending (retry later), and those to send now."""
    finished: list[tuple[DeliveryKey, DeliveryRecord]] = []
    failures: list[BaseException] = []
    todo: list[DeliveryKey] = []
    for key, (claim, done) in zip(keys, claims, strict=True):
        if claim is Claim.DONE:
            assert done is not None
            finished.append((key, done))
        elif claim is Claim.BUSY:
            msg = f"another worker is sending {key.kind} email for {key.purchase_id} to {key.recipient}"
            failures.append(TransientError(msg))
        else:
            todo.append(key)
    return finished, failures, todo

"""The notifier's business class: handlers call it; it receives its collaborators."""

from __future__ import annotations

import asyncio
from typing import Protocol

from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.notifier.adapters.smtp import PermanentDeliveryError, TransientDeliveryError
from graceperiod.notifier.domain.emails import Email, executed_email
from graceperiod.notifier.domain.recipients import resolve_recipients
from graceperiod.notifier.store import Claim, DeliveryStatus, DeliveryStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.middleware import PermanentMessageError, TransientError
from graceperiod.runtime.mongo import until_stored

log = get_logger("graceperiod.notifier")


class MailTransport(Protocol):
    async def send(self, email: Email) -> None: ...


class NotifierService:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        transport: MailTransport,
        clock: Clock,
        brand: str,
        global_address: str | None,
        max_concurrent_sends: int = 8,
    ) -> None:
        self._store = store
        self._transport = transport
        self._clock = clock
        self._brand = brand
        self._global_address = global_address
        self._sends = asyncio.Semaphore(max_concurrent_sends)

    async def on_purchase_recorded(self, event: PurchaseRecorded) -> None:
        recipients = resolve_recipients(event.purchase, self._global_address)
        if not recipients:
            msg = f"purchase {event.purchase.purchase_id} has no valid recipient address"
            raise PermanentMessageError(msg)
        emails = [executed_email(event, r, self._brand) for r in recipients]
        outcomes = await asyncio.gather(
            *(self._deliver("executed", event.purchase.purchase_id, e) for e in emails),
            return_exceptions=True,
        )
        transient = [o for o in outcomes if isinstance(o, BaseException)]
        if transient:
            # Delivered recipients are recorded and skipped next time; retry the rest.
            raise TransientError(f"{len(transient)} of {len(emails)} deliveries failed: {transient[0]}")
        if all(o is DeliveryStatus.REJECTED for o in outcomes):
            msg = f"every recipient of purchase {event.purchase.purchase_id} was rejected by the mail server"
            raise PermanentMessageError(msg)

    async def _deliver(self, kind: str, purchase_id: str, email: Email) -> DeliveryStatus | None:
        # Claim only once a send slot is free: the lease must start when the send starts. A
        # claim taken before queueing for a slot could expire while still queued (a backlog,
        # a slow database), another worker would take it over and both would send (the chaos
        # suite's replicas scenario caught one such duplicate).
        async with self._sends:
            claim = await self._store.claim(
                kind=kind, purchase_id=purchase_id, recipient=email.to, now=self._clock.now()
            )
            if claim is Claim.DONE:
                return None
            if claim is Claim.BUSY:
                msg = f"another worker is sending {kind} email for {purchase_id} to {email.to}"
                raise TransientError(msg)
            return await self._send_claimed(kind, purchase_id, email)

    async def _send_claimed(self, kind: str, purchase_id: str, email: Email) -> DeliveryStatus:
        try:
            await self._transport.send(email)
        except TransientDeliveryError:
            await self._store.release(kind=kind, purchase_id=purchase_id, recipient=email.to, now=self._clock.now())
            raise
        except PermanentDeliveryError as exc:
            detail = str(exc)
            # The server answered: record it even through a database outage, or the retry
            # would find the claim unfinished and try this recipient again.
            await until_stored(
                lambda: self._store.finish(
                    kind=kind,
                    purchase_id=purchase_id,
                    recipient=email.to,
                    status=DeliveryStatus.REJECTED,
                    now=self._clock.now(),
                    detail=detail,
                ),
                what="email rejection",
            )
            log.warning("email rejected", purchase_id=purchase_id, recipient=email.to, error=detail)
            return DeliveryStatus.REJECTED
        # The email is out: a failed record would make the redelivery send it again.
        await until_stored(
            lambda: self._store.finish(
                kind=kind,
                purchase_id=purchase_id,
                recipient=email.to,
                status=DeliveryStatus.SENT,
                now=self._clock.now(),
            ),
            what="email sent",
        )
        log.info("email sent", purchase_id=purchase_id, recipient=email.to, kind=kind)
        return DeliveryStatus.SENT

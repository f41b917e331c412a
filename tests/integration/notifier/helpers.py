"""Helpers for the notifier's integration tests: events to publish, reading the emails back out
of the real SMTP sink and the events off the real broker, checking link tokens."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import aio_pika
import jwt
from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.identities import event_owner
from graceperiod.contracts.links import LINK_AUDIENCE, LINK_ISSUER
from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.devstack.testkit.upstream import publish_upstream

NotifierFactory = Callable[..., AsgiFastStream]


def verify_link(token: str, jwks: jwt.PyJWKSet) -> dict[str, Any]:
    key = jwks[jwt.get_unverified_header(token)["kid"]].key
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience=LINK_AUDIENCE,
        issuer=LINK_ISSUER,
        options={"require": ["iss", "aud", "sub", "pid", "jti", "iat", "exp"]},
    )
    return claims


def recorded(
    *,
    contacts: list[str] | None = None,
    requester: str = "alice@example.com",
    executed_at: datetime | None = None,
    windows: Windows | None = None,
    phase: Phase = Phase.SELF_SERVICE,
    **purchase: Any,
) -> PurchaseRecorded:
    executed = executed_at or datetime.now(UTC).replace(microsecond=0)
    windows = windows or Windows(
        self_service_until=executed + timedelta(days=7),
        support_case_until=executed + timedelta(days=7),
        closes_at=executed + timedelta(days=7),
    )
    return PurchaseRecorded(
        occurred_at=executed,
        purchase=sample_purchase(
            executed_at=executed,
            contacts=contacts if contacts is not None else ["Owner@Example.com ", "finops@example.com"],
            requester_email=requester,
            **purchase,
        ),
        windows=windows,
        phase=phase,
    )


async def publish_event(broker: RabbitBroker, routing_key: str, event: Any, *, message_id: str) -> None:
    """Publish ``event`` as its owner does (an internal event is believed from its owner only)."""
    body = event.model_dump(mode="json")
    await publish_upstream(broker, routing_key, body, message_id=message_id, user_id=event_owner(routing_key))


def about(purchase_id: str, kind: str | None = None) -> Callable[[EmailMessage], bool]:
    def match(message: EmailMessage) -> bool:
        if message["X-Grace-Period-Purchase"] != purchase_id:
            return False
        return kind is None or str(message["X-Grace-Period-Email"]).startswith(kind)

    return match


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


LINK = re.compile(r"https://gp\.example\.com/api/purchases/[^/\s]+/revoke\?token=[\w.-]+")


class _Buttons(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("class") == "button-link" and found.get("href"):
            self.hrefs.append(str(found["href"]))


def buttons(html: str) -> list[str]:
    """The links of the email's buttons (table-based, so a plain <a> inside a coloured cell)."""
    parser = _Buttons()
    parser.feed(html)
    return parser.hrefs


async def take(amqp_url: str, queue: str, *, expect: int, timeout: float = 15.0) -> list[Any]:
    """Read (and ack) up to ``expect`` messages from a queue, waiting at most ``timeout``."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=True)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            message = await source.get(fail=False, timeout=5)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            found.append(message)
        return found
    finally:
        await connection.close()

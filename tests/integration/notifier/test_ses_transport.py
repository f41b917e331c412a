"""The SES v2 transport: real aioboto3 HTTP calls to the local AWS endpoint (moto's SES v2)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from email import message_from_string, policy
from typing import Any

import aioboto3
import pytest
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.devstack.testkit.fixtures import running, unique
from graceperiod.notifier.adapters.ses import SesConfigurationError
from tests.integration.notifier.helpers import LINK, NotifierFactory, publish_event, recorded
from tests.integration.progress import Finished


async def sent_by_ses(endpoint: str, purchase_id: str, *, expect: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Raw messages moto's SES accepted that are about one purchase."""
    deadline = time.monotonic() + timeout
    while True:
        data = await asyncio.to_thread(_model_data, endpoint)
        found = [m for m in data.get("ses", {}).get("RawMessage", []) if purchase_id in m["raw_data"]]
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def _model_data(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


@pytest.fixture
def ses_endpoint(aws_endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", aws_endpoint_url)
    return aws_endpoint_url


async def test_emails_go_out_through_ses_from_a_verified_identity(
    make_notifier: NotifierFactory, ses_endpoint: str, upstream: RabbitBroker
) -> None:
    domain = f"{unique('ses')}.example.com"
    async with aioboto3.Session().client("sesv2", region_name="us-east-1") as ses:
        await ses.create_email_identity(EmailIdentity=domain)
    notifier = make_notifier(email_transport="ses", ses_region="us-east-1", mail_from=f"Grace Period <gp@{domain}>")
    event = recorded(contacts=["owner@example.com"])
    pid = event.purchase.purchase_id
    recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(notifier):
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"purchase-recorded:{pid}")
        sent = await sent_by_ses(ses_endpoint, pid, expect=2)
        # A redelivery sends nothing more through SES either.
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await recorded_events.wait(2)  # the redelivery handled: whatever it sent, SES has
        again = await sent_by_ses(ses_endpoint, pid, expect=2)

    assert len(sent) == len(again) == 2
    messages = [message_from_string(m["raw_data"], policy=policy.default) for m in sent]
    assert sorted(str(m["To"]) for m in messages) == ["alice@example.com", "owner@example.com"]
    for raw, message in zip(sent, messages, strict=True):
        assert raw["source"] == f"Grace Period <gp@{domain}>"
        assert str(message["Subject"]).startswith("[Grace Period] Purchase executed: aws/savingsplans")
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        assert plain is not None
        assert LINK.search(str(plain.get_content()))


async def test_ses_without_an_identity_for_the_sender_refuses_to_start(
    make_notifier: NotifierFactory, ses_endpoint: str
) -> None:
    sender = f"gp@{unique('nope')}.example.com"
    notifier = make_notifier(email_transport="ses", ses_region="us-east-1", mail_from=sender)
    with pytest.raises(SesConfigurationError, match="SES has no identity for"):
        async with running(notifier):
            pass

"""Discovery to the mailbox, all real (RabbitMQ, the MongoDB-protocol server, the SMTP server,
the AWS endpoint through aioboto3): a Savings Plan and a Reserved Instance bought with plain AWS
calls are each emailed once to the global address and the account's contacts; an executor
announcing them afterwards emails only its requester."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.buyer import buy_plan, buy_ri
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from tests.integration.revocation.conftest import Harness
from tests.integration.revocation.test_discovery import clients_of, found_id, scanned

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(
    amqp_url: str, mongodb_url: str, db_prefix: str, smtp_server: SmtpSinkServer, link_keys_dir: Path
) -> AsyncIterator[None]:
    app = notifier_app(
        NotifierSettings(
            amqp_url=amqp_url,
            mongodb_url=mongodb_url,
            mongodb_database=f"{db_prefix}_notifier",
            retry_backoff_base_seconds=0.05,
            smtp_url=smtp_server.url,
            global_notification_email=GLOBAL_NOTIFICATION_EMAIL,
            link_keys_dir=link_keys_dir,
        )
    )
    async with running(app):
        yield


def about(purchase_id: str) -> Callable[[EmailMessage], bool]:
    return lambda m: m["X-Grace-Period-Purchase"] == purchase_id


@pytest.mark.usefixtures("notifier")
async def test_a_plan_and_an_ri_bought_outside_are_each_emailed_once_and_an_executor_adds_only_its_requester(
    harness: Harness, aws_endpoint_url: str, mailbox: Mailbox
) -> None:
    """Issue 14's "done when": bought with plain boto3 calls, each commitment is emailed once to
    the global address and the account's contacts; the executor's later announcement of the
    same commitment emails only its requester."""
    account = await harness.account(name="Payments Production", contact_emails=["owner@example.com"])
    clients = await clients_of(aws_endpoint_url, account)
    bought = {"savingsplans": await buy_plan(clients), "ec2": await buy_ri(clients)}
    await scanned(harness, account)
    owners = sorted([GLOBAL_NOTIFICATION_EMAIL, "owner@example.com"])
    for service, commitment in bought.items():
        canonical = found_id(account, service, commitment)
        found = await mailbox.wait_for(2, where=about(canonical), timeout=30, settle=1.0)
        assert sorted(m["To"] for m in found) == owners, service
        assert all("Purchase found in your account" in m["Subject"] for m in found)
        assert all("Payments Production" in m["Subject"] for m in found)

    for service, commitment in bought.items():
        canonical = found_id(account, service, commitment)
        await harness.purchase(
            account,
            commitment_id=commitment,
            service=service,
            kind="savings_plan" if service == "savingsplans" else "reserved_instance",
            contacts=["owner@example.com"],
            requester_email="bob@example.com",
        )
        emails = await mailbox.wait_for(3, where=about(canonical), timeout=30, settle=2.0)
        assert sorted(m["To"] for m in emails) == sorted([*owners, "bob@example.com"]), service
        [to_requester] = [m for m in emails if m["To"] == "bob@example.com"]
        assert "Purchase executed" in to_requester["Subject"]

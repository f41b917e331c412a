"""Fixtures for the AWS endpoint's own tests: the real aioboto3 client over HTTP."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aioboto3
import pytest
from botocore.config import Config

from graceperiod.devstack.aws_endpoint.control import EmulatorControl

ROLE = "GracePeriodRevocation"

ClientFactory = Callable[..., AbstractAsyncContextManager[Any]]


def new_account_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(12))


@pytest.fixture
async def control(aws_endpoint_url: str) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(aws_endpoint_url) as ctl:
        saved = await ctl.configure()
        yield ctl
        await ctl.clear_faults()
        await ctl.set_clock(real=True)
        await ctl.configure(**saved)
        await ctl.reset_rate_limits()


@pytest.fixture
async def account(control: EmulatorControl) -> str:
    return await onboarded(control)


async def assume(vendor_client: ClientFactory, account: str) -> dict[str, str]:
    """Credentials of Grace Period's role in ``account`` (registered by :func:`onboarded`)."""
    async with vendor_client("sts") as sts:
        reply = await sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="tests", ExternalId=f"ext-{account}"
        )
    creds = reply["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


async def onboarded(control: EmulatorControl) -> str:
    """A fresh account with Grace Period's role."""
    account_id = new_account_id()
    await control.account(account_id, roles={ROLE: f"ext-{account_id}"}, support_plan="business")
    return account_id


@pytest.fixture
def session() -> aioboto3.Session:
    return aioboto3.Session()


@pytest.fixture
def vendor_client(session: aioboto3.Session, aws_endpoint_url: str) -> ClientFactory:
    """Clients signed with the test's own (vendor) keys."""

    def make(service: str, region: str = "us-east-1", *, attempts: int = 1) -> AbstractAsyncContextManager[Any]:
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
        return session.client(service, region_name=region, endpoint_url=aws_endpoint_url, config=config)  # type: ignore[no-any-return]

    return make


def clients_for(session: aioboto3.Session, url: str, credentials: dict[str, str]) -> ClientFactory:
    """A client factory signed with ``credentials`` (another account than the fixture's)."""

    def make(service: str, region: str = "us-east-1", *, attempts: int = 1) -> AbstractAsyncContextManager[Any]:
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
        return session.client(  # type: ignore[no-any-return]
            service, region_name=region, endpoint_url=url, config=config, **credentials
        )

    return make


@pytest.fixture
async def credentials(vendor_client: ClientFactory, account: str) -> dict[str, str]:
    return await assume(vendor_client, account)


@pytest.fixture
def client(session: aioboto3.Session, aws_endpoint_url: str, credentials: dict[str, str]) -> ClientFactory:
    """Clients signed with the credentials of the test account's assumed role."""
    return clients_for(session, aws_endpoint_url, credentials)

"""Buying commitments as a person does: plain aioboto3 calls in an account, through its role,
against the local AWS endpoint (what discovery then finds)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aioboto3

from graceperiod.devstack.testkit.upstream import ROLE_NAME

#: ``clients("ec2", "eu-west-1")``: an aioboto3 client acting in the account.
Clients = Callable[..., AbstractAsyncContextManager[Any]]


async def clients_of(endpoint_url: str, account_id: str, *, external_id: str, role: str = ROLE_NAME) -> Clients:
    """aioboto3 clients acting in ``account_id`` through ``role`` (assumed once, here)."""
    session = aioboto3.Session(aws_access_key_id="buyer", aws_secret_access_key="buyer")  # noqa: S106
    async with session.client("sts", region_name="us-east-1", endpoint_url=endpoint_url) as sts:
        creds = (
            await sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="buyer", ExternalId=external_id
            )
        )["Credentials"]

    def make(service: str, region: str = "us-east-1") -> AbstractAsyncContextManager[Any]:
        return session.client(  # type: ignore[no-any-return]
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    return make


async def buy_plan(clients: Clients, commitment: str = "1") -> str:
    """A Compute Savings Plan (the first offering); its id."""
    async with clients("savingsplans") as sp:
        [offering, *_] = (await sp.describe_savings_plans_offerings(planTypes=["Compute"]))["searchResults"]
        bought = await sp.create_savings_plan(savingsPlanOfferingId=offering["offeringId"], commitment=commitment)
        return str(bought["savingsPlanId"])


async def buy_ri(clients: Clients, region: str = "us-east-1") -> str:
    """One m6i.large Reserved Instance in ``region`` (the first offering); its id."""
    async with clients("ec2", region) as ec2:
        [offering, *_] = (await ec2.describe_reserved_instances_offerings(InstanceType="m6i.large"))[
            "ReservedInstancesOfferings"
        ]
        bought = await ec2.purchase_reserved_instances_offering(
            ReservedInstancesOfferingId=offering["ReservedInstancesOfferingId"], InstanceCount=1
        )
        return str(bought["ReservedInstancesId"])

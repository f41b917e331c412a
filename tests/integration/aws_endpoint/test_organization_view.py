"""The organisation-wide view: Cost Explorer in the management account names every member's
Savings Plans and reservations with the owning account; a member sees only its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory, assume, clients_for, onboarded

BOUGHT = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
LATER = BOUGHT + timedelta(days=2)
PERIOD = {"Start": "2026-11-09", "End": "2026-11-12"}
RDS = "Amazon Relational Database Service"


async def _buy_everything(clients: ClientFactory) -> dict[str, str]:
    async with clients("savingsplans") as sp:
        [offering, *_] = (await sp.describe_savings_plans_offerings(planTypes=["Compute"]))["searchResults"]
        plan = await sp.create_savings_plan(savingsPlanOfferingId=offering["offeringId"], commitment="3")
    async with clients("ec2", "eu-west-1") as ec2:
        [ri_offering, *_] = (await ec2.describe_reserved_instances_offerings())["ReservedInstancesOfferings"]
        ri = await ec2.purchase_reserved_instances_offering(
            ReservedInstancesOfferingId=ri_offering["ReservedInstancesOfferingId"], InstanceCount=1
        )
    async with clients("rds", "eu-west-1") as rds:
        [db_offering, *_] = (await rds.describe_reserved_db_instances_offerings())["ReservedDBInstancesOfferings"]
        db = await rds.purchase_reserved_db_instances_offering(
            ReservedDBInstancesOfferingId=db_offering["ReservedDBInstancesOfferingId"]
        )
    return {
        "plan": plan["savingsPlanId"],
        "ri": ri["ReservedInstancesId"],
        "db": db["ReservedDBInstance"]["ReservedDBInstanceId"],
    }


@pytest.fixture
async def organization(control: EmulatorControl, vendor_client: ClientFactory, aws_endpoint_url: str) -> dict[str, Any]:
    """A management account and two members; each member bought a plan, an RI and an RDS node."""
    await control.set_clock(now=BOUGHT)
    await control.configure(payment_delay_seconds=60)
    management, *members = [await onboarded(control) for _ in range(3)]
    await control.organization(management, [{"id": m, "name": f"team-{i}"} for i, m in enumerate(members)])
    session = aioboto3.Session()

    async def clients_of(accounts: list[str]) -> dict[str, ClientFactory]:
        return {a: clients_for(session, aws_endpoint_url, await assume(vendor_client, a)) for a in accounts}

    buyers = await clients_of(members)
    bought = {m: await _buy_everything(buyers[m]) for m in members}
    await control.set_clock(now=LATER)
    clients = await clients_of([management, *members])  # the first credentials expired meanwhile
    return {"management": management, "members": members, "clients": clients, "bought": bought}


async def _plans(clients: ClientFactory, **extra: Any) -> list[dict[str, Any]]:
    async with clients("ce") as ce:
        reply = await ce.get_savings_plans_utilization_details(TimePeriod=PERIOD, **extra)
    return reply["SavingsPlansUtilizationDetails"]  # type: ignore[no-any-return]


async def _reservations(clients: ClientFactory, service: str | None = None) -> list[dict[str, Any]]:
    extra = {"Filter": {"Dimensions": {"Key": "SERVICE", "Values": [service]}}} if service else {}
    async with clients("ce") as ce:
        reply = await ce.get_reservation_utilization(
            TimePeriod=PERIOD, GroupBy=[{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}], **extra
        )
    return reply["UtilizationsByTime"][0]["Groups"]  # type: ignore[no-any-return]


async def test_the_management_account_sees_every_members_commitments_with_their_owner(
    organization: dict[str, Any],
) -> None:
    management, members, bought = organization["management"], organization["members"], organization["bought"]
    clients = organization["clients"][management]
    plans = await _plans(clients)
    owners = {d["SavingsPlanArn"].split(":")[4]: d["SavingsPlanArn"].rsplit("/", 1)[1] for d in plans}
    assert owners == {m: bought[m]["plan"] for m in members}
    [detail, *_] = plans
    assert detail["Attributes"]["HourlyCommitment"] == "3"
    assert detail["Attributes"]["SavingsPlansType"] == "Compute"

    ris = await _reservations(clients)
    assert {(g["Attributes"]["accountId"], g["Attributes"]["leaseId"]) for g in ris} == {
        (m, bought[m]["ri"]) for m in members
    }
    assert {g["Attributes"]["accountName"] for g in ris} == {"team-0", "team-1"}
    assert {g["Attributes"]["region"] for g in ris} == {"eu-west-1"}
    dbs = await _reservations(clients, RDS)
    assert {g["Attributes"]["leaseId"] for g in dbs} == {bought[m]["db"] for m in members}


async def test_a_member_sees_only_its_own(organization: dict[str, Any]) -> None:
    member, other = organization["members"]
    clients = organization["clients"][member]
    assert [d["SavingsPlanArn"].split(":")[4] for d in await _plans(clients)] == [member]
    assert [g["Attributes"]["accountId"] for g in await _reservations(clients)] == [member]
    only_other = await _plans(
        organization["clients"][organization["management"]],
        Filter={"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [other]}},
    )
    assert [d["SavingsPlanArn"].split(":")[4] for d in only_other] == [other]


async def test_cost_explorer_lags_and_never_reports_the_future(
    organization: dict[str, Any], control: EmulatorControl
) -> None:
    clients = organization["clients"][organization["management"]]
    async with clients("ce") as ce:
        with pytest.raises(ClientError) as future:
            await ce.get_savings_plans_utilization_details(TimePeriod={"Start": "2026-11-11", "End": "2026-11-20"})
    assert future.value.response["Error"]["Code"] == "ValidationException"
    await control.configure(cost_explorer_delay_seconds=3 * 86400)
    assert await _plans(clients) == []
    assert await _reservations(clients) == []


async def test_organizations_lists_members_to_the_management_account_only(
    organization: dict[str, Any], control: EmulatorControl, vendor_client: ClientFactory, aws_endpoint_url: str
) -> None:
    management, members = organization["management"], organization["members"]
    async with organization["clients"][management]("organizations") as orgs:
        listed = await orgs.list_accounts()
        described = await orgs.describe_organization()
    async with organization["clients"][members[0]]("organizations") as orgs:
        with pytest.raises(ClientError) as member:
            await orgs.list_accounts()
        assert (await orgs.describe_organization())["Organization"]["MasterAccountId"] == management
    loner = await onboarded(control)
    loner_clients = clients_for(aioboto3.Session(), aws_endpoint_url, await assume(vendor_client, loner))
    async with loner_clients("organizations") as orgs:
        with pytest.raises(ClientError) as alone:
            await orgs.list_accounts()
    assert alone.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    assert {a["Id"] for a in listed["Accounts"]} == {management, *members}
    assert described["Organization"]["MasterAccountId"] == management
    assert member.value.response["Error"]["Code"] == "AccessDeniedException"
    assert loner not in {a["Id"] for a in listed["Accounts"]}

"""Onboarding an Azure tenant against the local Azure endpoint (real SDK over HTTPS, real
RabbitMQ and FerretDB): a principal granted exactly what the Azure onboarding template grants
returns a reservation end to end; registration probes the principal, and a principal the
template was not applied for, or a wrong secret, shows as "re-apply" on the tenant."""

from __future__ import annotations

import json
import uuid

from graceperiod.contracts.revocation import AccountAccessReply, ListAccountAccess
from graceperiod.contracts.revocation_views import AccountAccess, Phase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.azure_endpoint.control import actions, role
from graceperiod.devstack.servers.processes import repo_root
from graceperiod.revocation.domain.azure import READ_ORDERS
from tests.integration.azure_endpoint.conftest import ServicePrincipal, new_principal
from tests.integration.revocation.conftest import ADMIN
from tests.integration.revocation_azure.conftest import AzureWorld

TEMPLATE = repo_root() / "deploy" / "onboarding" / "grace-period-azure-reservations.json"


def template_actions() -> list[str]:
    granted: list[str] = json.loads(TEMPLATE.read_text())["variables"]["actions"]
    return granted


async def access_of(world: AzureWorld, tenant_id: str) -> AccountAccess:
    reply = await world.harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)
    [found] = [a for a in reply.accounts if a.account_id == tenant_id]
    return found


async def test_the_templates_grant_is_enough_to_return_a_reservation(azure_world: AzureWorld) -> None:
    world = azure_world
    onboarded = await new_principal(world.control, world.admin.tenant_id, [actions(*template_actions())])
    registered = await world.register(onboarded)
    assert registered.status is CommandStatus.DONE, registered
    assert registered.account is not None
    assert (registered.account.missing_actions, registered.account.role_assumable) == ([], True)
    order = await world.order(total=1200)
    await world.control.return_plan(order_id=order["id"], polls=1)
    body = await world.purchase(order)
    await world.harness.wait_for(body["purchase_id"], lambda v: v.refund is not None)
    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.DONE, reply
    await world.harness.wait_for(body["purchase_id"], lambda v: v.phase is Phase.REVOKED)
    assert (await world.control.order(order["id"]))["returns_accepted"] == 1


async def test_a_principal_without_the_template_is_shown_as_re_apply(azure_world: AzureWorld) -> None:
    world = azure_world
    subscription = f"/subscriptions/{uuid.uuid4()}"
    outsider = await new_principal(world.control, world.admin.tenant_id, [role("Owner", scope=subscription)])
    reply = await world.register(outsider)
    assert reply.status is CommandStatus.DONE, reply
    assert f"it lacks {READ_ORDERS}: apply the Azure onboarding template" in reply.message
    access = await access_of(world, world.admin.tenant_id)
    assert access.missing_actions == [READ_ORDERS]
    assert access.reapply_bundle
    assert access.role_assumable is True

    # The template applied afterwards (the same principal): registering again probes again.
    await world.control.principal(
        world.admin.tenant_id, outsider.client_id, role_assignments=[actions(*template_actions())]
    )
    again = await world.register(outsider)
    assert again.account is not None
    assert (again.account.missing_actions, again.account.reapply_bundle) == ([], False)


async def test_a_wrong_secret_is_shown_as_refused_at_sign_in(azure_world: AzureWorld) -> None:
    world = azure_world
    wrong = ServicePrincipal(world.admin.tenant_id, world.admin.client_id, "not-the-secret")
    reply = await world.register(wrong)
    assert reply.status is CommandStatus.DONE, reply
    assert "Azure refused to sign it in" in reply.message
    access = await access_of(world, world.admin.tenant_id)
    assert access.role_assumable is False
    assert access.reapply_bundle
    assert access.message is not None
    assert "Azure refused the service principal" in access.message

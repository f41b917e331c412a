"""The Azure onboarding template (deploy/onboarding/grace-period-azure-reservations.json): a
tenant-scope ARM deployment granting Grace Period's service principal exactly the
Microsoft.Capacity actions the revocation service calls (adapters/azure/rbac.py, itself checked
against the adapter's SDK calls), assigned at the reservations' scope and never a subscription."""

from __future__ import annotations

import json
import re
from typing import Any

from graceperiod.revocation.adapters.azure.rbac import REQUIRED_AZURE_ACTIONS
from tests.deploy.conftest import DEPLOY

TEMPLATE = DEPLOY / "onboarding" / "grace-period-azure-reservations.json"
CAPACITY = "/providers/Microsoft.Capacity"


def template() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(TEMPLATE.read_text())
    return document


def resource(kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in template()["resources"] if r["type"] == kind]
    assert len(found) == 1, found
    return found[0]


def test_it_is_a_tenant_scope_deployment() -> None:
    assert template()["$schema"].endswith("/tenantDeploymentTemplate.json#")


def test_the_role_grants_exactly_the_actions_the_revocation_service_calls() -> None:
    role = resource("Microsoft.Authorization/roleDefinitions")["properties"]
    [permissions] = role["permissions"]
    assert permissions["actions"] == "[variables('actions')]"
    granted = set(template()["variables"]["actions"])
    assert granted == REQUIRED_AZURE_ACTIONS, (
        f"missing {sorted(REQUIRED_AZURE_ACTIONS - granted)}, extra {sorted(granted - REQUIRED_AZURE_ACTIONS)}"
    )
    assert permissions["notActions"] == permissions["dataActions"] == permissions["notDataActions"] == []
    assert not any("*" in action for action in granted)
    assert role["type"] == "CustomRole"


def test_the_role_is_assigned_at_the_reservations_scope_only() -> None:
    scopes = template()["variables"]["scopes"]
    literals = re.findall(r"'(/[^']*)'", scopes)
    assert literals == [CAPACITY, CAPACITY + "/reservationOrders/{0}"], literals
    assert "subscription" not in scopes.lower()
    role = resource("Microsoft.Authorization/roleDefinitions")
    assert role["properties"]["assignableScopes"] == "[variables('scopes')]"
    assignment = resource("Microsoft.Authorization/roleAssignments")
    assert assignment["scope"] == "[variables('scopes')[copyIndex()]]"
    assert assignment["copy"]["count"] == "[length(variables('scopes'))]"


def test_the_assignment_is_the_service_principals_and_names_the_custom_role() -> None:
    assignment = resource("Microsoft.Authorization/roleAssignments")
    properties = assignment["properties"]
    role_id = "[tenantResourceId('Microsoft.Authorization/roleDefinitions', variables('roleId'))]"
    assert properties["roleDefinitionId"] == role_id
    assert assignment["dependsOn"] == [role_id]
    assert properties["principalId"] == "[parameters('principalObjectId')]"
    assert properties["principalType"] == "ServicePrincipal"
    assert resource("Microsoft.Authorization/roleDefinitions")["name"] == "[variables('roleId')]"

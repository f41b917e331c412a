"""Every Reservations SDK call the Azure adapter makes is mapped to the Microsoft.Capacity
action Azure checks for it (adapters/azure/rbac.py), and every mapped call is made: read
statically from the adapter's source, as the IAM source check does for AWS."""

from __future__ import annotations

import ast
from pathlib import Path

from graceperiod.revocation.adapters.azure import rbac
from graceperiod.revocation.domain.azure import CALCULATE_REFUND, READ_ORDERS, READ_RESERVATIONS, RETURN

ADAPTER = Path(rbac.__file__).resolve().parent
PACKAGE = ADAPTER.parents[1]
#: ReservationsMgmtClient's operation groups the adapter may use.
GROUPS = {"reservation", "reservation_order", "calculate_refund", "return_operations"}


def _sdk_calls() -> set[tuple[str, str]]:
    """(operation group, method) of every ``client.<group>.<method>(...)`` in the adapter."""
    found: set[tuple[str, str]] = set()
    for path in ADAPTER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr in GROUPS:
                found.add((owner.attr, node.func.attr))
    return found


def test_every_sdk_call_is_mapped_to_its_action_and_every_mapping_is_used() -> None:
    assert _sdk_calls() == set(rbac.SDK_ACTIONS)


def test_the_required_actions_are_the_four_the_rules_name() -> None:
    assert {READ_ORDERS, READ_RESERVATIONS, CALCULATE_REFUND, RETURN} == rbac.REQUIRED_AZURE_ACTIONS
    assert all(action.startswith("Microsoft.Capacity/reservationOrders/") for action in rbac.REQUIRED_AZURE_ACTIONS)


def test_no_azure_sdk_outside_the_adapter() -> None:
    found: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        if ADAPTER in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azure."):
                found.append(f"{path.relative_to(PACKAGE)} imports {node.module}")
            if isinstance(node, ast.Import):
                found += [
                    f"{path.relative_to(PACKAGE)} imports {a.name}" for a in node.names if a.name.startswith("azure.")
                ]
    assert found == [], "Azure calls belong in adapters/azure/"

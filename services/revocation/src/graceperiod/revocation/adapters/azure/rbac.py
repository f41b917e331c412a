"""The Microsoft.Capacity actions the revocation service performs in a customer's tenant, as
its service principal: what a role assignment for Grace Period must grant (at the
reservation-order or tenant ``/providers/Microsoft.Capacity`` scope). A unit test reads every SDK
call in ``adapters/azure`` (statically) and checks it is mapped here, and that each mapping is used;
another checks the Azure onboarding template (deploy/onboarding/grace-period-azure-reservations.json)
grants exactly :data:`REQUIRED_AZURE_ACTIONS`."""

from __future__ import annotations

from typing import Final

from graceperiod.revocation.domain.azure import CALCULATE_REFUND, READ_ORDERS, READ_RESERVATIONS, RETURN

#: (operation group, method) of ``ReservationsMgmtClient`` -> the action Azure checks.
#: A return's status polls and its final GET read the order (ARM's Azure-AsyncOperation and
#: Location point under the order), hence READ_ORDERS beside RETURN.
SDK_ACTIONS: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("reservation_order", "list"): frozenset({READ_ORDERS}),
    ("reservation_order", "get"): frozenset({READ_ORDERS}),
    ("reservation", "get"): frozenset({READ_RESERVATIONS}),
    ("reservation", "list"): frozenset({READ_RESERVATIONS}),
    ("calculate_refund", "post"): frozenset({CALCULATE_REFUND}),
    ("return_operations", "begin_post"): frozenset({RETURN, READ_ORDERS}),
}

REQUIRED_AZURE_ACTIONS: Final[frozenset[str]] = frozenset().union(*SDK_ACTIONS.values())

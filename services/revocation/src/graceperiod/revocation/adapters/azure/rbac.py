"""The Microsoft.Capacity actions the revocation service performs in a customer's tenant, as
its service principal. The onboarding template (``deploy/onboarding/grace-period-azure.json``)
grants exactly these; a unit test reads every SDK call in ``adapters/azure`` (statically) and
checks it maps to one of them, and that each one is used."""

from __future__ import annotations

from typing import Final

from graceperiod.revocation.domain.azure import CALCULATE_REFUND, READ_ORDERS, READ_RESERVATIONS, RETURN

#: (operation group, method) of ``ReservationsMgmtClient`` -> the action Azure checks.
#: A return's status polls and its final GET read the order (ARM's Azure-AsyncOperation and
#: Location point under the order), hence READ_ORDERS beside RETURN.
SDK_ACTIONS: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("reservation", "get"): frozenset({READ_RESERVATIONS}),
    ("calculate_refund", "post"): frozenset({CALCULATE_REFUND}),
    ("return_operations", "begin_post"): frozenset({RETURN, READ_ORDERS}),
}

REQUIRED_AZURE_ACTIONS: Final[frozenset[str]] = frozenset().union(*SDK_ACTIONS.values())

#: The action no probe can check without acting, and why; a denial is learnt when first used.
UNPROBED_AZURE_ACTIONS: Final[dict[str, str]] = {
    RETURN: "no dry run: an authorised return of a real reservation returns it",
}

PROBED_AZURE_ACTIONS: Final[frozenset[str]] = REQUIRED_AZURE_ACTIONS - UNPROBED_AZURE_ACTIONS.keys()

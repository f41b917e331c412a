"""Who may do what with revocation. (Who may act on a purchase is shared with the gateway:
``graceperiod.contracts.revocation.may_act_on``.)"""

from __future__ import annotations

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.revocation import may_act_on
from graceperiod.contracts.rpc import Actor, ErrorCode
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import PurchaseRecord


def may_configure(actor: Actor) -> bool:
    return actor.can(Permission.UPDATE_CONFIG)


def ensure_may_act(actor: Actor, record: PurchaseRecord) -> None:
    """Refuse (forbidden) unless ``actor`` may act on the purchase."""
    if not may_act_on(actor, record.purchase.requested_by):
        raise Rejected(
            ErrorCode.FORBIDDEN,
            f"{actor.email} may not act on purchase {record.purchase_id}: needs revoke-any:purchases, "
            "or revoke-own:purchases on a purchase they requested",
        )

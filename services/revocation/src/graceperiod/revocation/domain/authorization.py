"""Who may do what with revocation. (Who may act on a purchase is shared with the gateway:
``graceperiod.contracts.revocation_views.may_act_on``.)"""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation_views import may_act_on
from graceperiod.contracts.rpc import Actor, ErrorCode
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import PurchaseRecord


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks, as the service verified them (``graceperiod.runtime.actor_assertions``): the
    gateway's asserted actor, and the email-link token they act on, if any, verified here."""

    actor: Actor
    link: LinkClaims | None = None

    def may_act_on(self, record: PurchaseRecord) -> bool:
        return may_act_on(self.actor, record.purchase, link=self.link)


def may_configure(actor: Actor) -> bool:
    return actor.can(Permission.UPDATE_CONFIG)


def ensure_may_act(asker: Asker, record: PurchaseRecord) -> None:
    """Refuse (forbidden) unless ``asker`` may act on the purchase."""
    if not asker.may_act_on(record):
        raise Rejected(
            ErrorCode.FORBIDDEN,
            f"{asker.actor.email} may not act on purchase {record.purchase_id}: needs revoke-any:purchases, "
            "revoke-own:purchases on a purchase they requested, or an email link for it",
        )

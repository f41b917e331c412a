"""Who may act on a purchase. The gateway checks too; the revocation service decides."""

from __future__ import annotations

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.upstream import PurchaseExecuted


def may_act_on(actor: Actor, purchase: PurchaseExecuted) -> bool:
    """``revoke-any:purchases``; or ``revoke-own:purchases`` on a purchase the actor requested;
    or the email-link path, where the gateway verified a signed link token bound to this
    purchase and to the actor's address (the token itself is the grant)."""
    if actor.can(Permission.REVOKE_ANY_PURCHASES):
        return True
    if actor.path is ActionPath.EMAIL_LINK:
        return True
    requester = purchase.requested_by
    own = actor.user_id == requester.user_id or actor.email.strip().lower() == requester.email.strip().lower()
    return own and actor.can(Permission.REVOKE_OWN_PURCHASES)


def may_configure(actor: Actor) -> bool:
    return actor.can(Permission.UPDATE_CONFIG)

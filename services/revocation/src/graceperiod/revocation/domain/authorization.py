"""Who may configure revocation. (Who may act on a purchase is shared with the gateway:
``graceperiod.contracts.revocation.may_act_on``.)"""

from __future__ import annotations

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import Actor


def may_configure(actor: Actor) -> bool:
    return actor.can(Permission.UPDATE_CONFIG)

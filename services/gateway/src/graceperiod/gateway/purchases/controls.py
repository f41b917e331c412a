"""Which controls a purchase shows to one person: the phase (from the revocation service)
decides what is possible, the person's permissions decide whether they may do it.

Pure: no I/O, easy to test for every (phase, permission) pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from graceperiod.contracts.revocation_views import (
    ACTIONABLE_PHASES,
    FINISHED_PHASES,
    AllowedAction,
    Phase,
    PurchaseView,
    UnavailableReason,
)
from graceperiod.gateway import explain
from graceperiod.gateway.auth.identity import Identity


class Control(StrEnum):
    REVOKE = "revoke"
    """A "Revoke purchase" button that opens the confirm dialog."""
    SUPPORT_CASE = "support-case"
    """A "Request refund via AWS Support" button that opens the editable draft."""
    SUPPORT_UNAVAILABLE = "support-unavailable"
    """A note: why no case can be filed through the API, and the manual console route."""
    CLOSED = "closed"
    """A disabled control with the closed-window tooltip."""
    OUTCOME = "outcome"
    """The outcome (and the case status) of an earlier action."""
    MARK_RESOLVED = "mark-resolved"
    """A "Mark case resolved" form next to the outcome."""
    NOT_YOURS = "not-yours"
    """The action exists but this person may not take it (someone else's purchase)."""
    NOTHING = "nothing"


@dataclass(frozen=True)
class Controls:
    shown: tuple[Control, ...]
    note: str = ""

    def __contains__(self, control: object) -> bool:
        return control in self.shown


def controls_for(view: PurchaseView, identity: Identity) -> Controls:  # noqa: PLR0911 - one answer per phase
    may_act = identity.can_revoke(view.purchase)
    allowed = set(view.allowed_actions)
    phase = view.phase
    if phase is Phase.SELF_SERVICE and AllowedAction.REVOKE in allowed:
        return Controls((Control.REVOKE,)) if may_act else _not_yours(view)
    if phase is Phase.SUPPORT_CASE and AllowedAction.REQUEST_SUPPORT_CASE in allowed:
        return Controls((Control.SUPPORT_CASE,)) if may_act else _not_yours(view)
    if phase is Phase.SUPPORT_UNAVAILABLE:
        return Controls((Control.SUPPORT_UNAVAILABLE,))
    if phase is Phase.CLOSED:
        return Controls((Control.CLOSED,), explain.closed_tooltip(view))
    if phase in FINISHED_PHASES:
        shown: tuple[Control, ...] = (Control.OUTCOME,)
        if phase is Phase.CASE_OPEN and AllowedAction.MARK_CASE_RESOLVED in allowed and may_act:
            shown += (Control.MARK_RESOLVED,)
        return Controls(shown)
    refused = view.unavailable is not None and view.unavailable.reason is UnavailableReason.NOT_PERMITTED
    if phase in ACTIONABLE_PHASES and (refused or not may_act):
        return _not_yours(view)
    if view.unavailable is not None:
        # e.g. self-service, but the account's role lacks the actions revocation needs
        return Controls((Control.SUPPORT_UNAVAILABLE,))
    return Controls((Control.NOTHING,))


def _not_yours(view: PurchaseView) -> Controls:
    if view.purchase.requested_by is None:
        return Controls((Control.NOT_YOURS,), "Found in the account, so nobody's own: only an admin can act on it.")
    return Controls(
        (Control.NOT_YOURS,),
        f"Only {view.purchase.requester_label}, who requested this purchase, or an admin can act on it.",
    )

"""Which control each (phase, person) pair gets: pure, every phase covered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.revocation_views import AllowedAction, Phase, Unavailability, UnavailableReason
from graceperiod.devstack.testkit.gateway_samples import purchase_view
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.purchases.controls import Control, controls_for

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = Identity(
    "u-alice", "alice@example.com", "Alice", ("user",), frozenset({Permission.REVOKE_OWN_PURCHASES}), "session"
)
BOB = Identity("u-bob", "bob@example.com", "Bob", ("user",), frozenset({Permission.REVOKE_OWN_PURCHASES}), "session")
ADMIN = Identity(
    "u-admin", "admin@example.com", "Ada", ("admin",), frozenset({Permission.REVOKE_ANY_PURCHASES}), "session"
)
NOBODY = Identity("u-x", "x@example.com", None, (), frozenset(), "bearer")

ALLOWED = {
    Phase.SELF_SERVICE: [AllowedAction.REVOKE],
    Phase.SUPPORT_CASE: [AllowedAction.REQUEST_SUPPORT_CASE],
    Phase.CASE_OPEN: [AllowedAction.MARK_CASE_RESOLVED],
}


def view(phase: Phase):  # type: ignore[no-untyped-def]
    return purchase_view(NOW, phase=phase).model_copy(update={"allowed_actions": ALLOWED.get(phase, [])})


@pytest.mark.parametrize(
    ("phase", "owner", "stranger", "admin"),
    [
        (Phase.SELF_SERVICE, (Control.REVOKE,), (Control.NOT_YOURS,), (Control.REVOKE,)),
        (Phase.SUPPORT_CASE, (Control.SUPPORT_CASE,), (Control.NOT_YOURS,), (Control.SUPPORT_CASE,)),
        (
            Phase.SUPPORT_UNAVAILABLE,
            (Control.SUPPORT_UNAVAILABLE,),
            (Control.SUPPORT_UNAVAILABLE,),
            (Control.SUPPORT_UNAVAILABLE,),
        ),
        (Phase.CLOSED, (Control.CLOSED,), (Control.CLOSED,), (Control.CLOSED,)),
        (Phase.REVOCATION_PENDING, (Control.OUTCOME,), (Control.OUTCOME,), (Control.OUTCOME,)),
        (Phase.REVOKED, (Control.OUTCOME,), (Control.OUTCOME,), (Control.OUTCOME,)),
        (
            Phase.CASE_OPEN,
            (Control.OUTCOME, Control.MARK_RESOLVED),
            (Control.OUTCOME,),
            (Control.OUTCOME, Control.MARK_RESOLVED),
        ),
        (Phase.CASE_RESOLVED, (Control.OUTCOME,), (Control.OUTCOME,), (Control.OUTCOME,)),
        (Phase.FAILED, (Control.OUTCOME,), (Control.OUTCOME,), (Control.OUTCOME,)),
    ],
)
def test_controls_per_phase_and_person(
    phase: Phase, owner: tuple[Control, ...], stranger: tuple[Control, ...], admin: tuple[Control, ...]
) -> None:
    v = view(phase)
    assert controls_for(v, ALICE).shown == owner
    assert controls_for(v, BOB).shown == stranger
    assert controls_for(v, ADMIN).shown == admin
    assert Control.REVOKE not in controls_for(v, NOBODY)
    assert Control.SUPPORT_CASE not in controls_for(v, NOBODY)


def test_closed_carries_the_tooltip_text() -> None:
    assert controls_for(view(Phase.CLOSED), ALICE).note == (
        "Revocation window closed. Contact AWS Support if you believe a refund is warranted."
    )


def test_self_service_the_service_does_not_allow_is_not_offered() -> None:
    v = view(Phase.SELF_SERVICE).model_copy(
        update={
            "allowed_actions": [],
            "unavailable": Unavailability(reason=UnavailableReason.ROLE_LACKS_ACTIONS, message="Re-apply the bundle."),
        }
    )
    assert controls_for(v, ADMIN).shown == (Control.SUPPORT_UNAVAILABLE,)


def test_a_requester_known_by_email_under_another_user_id_may_act_as_the_service_allows() -> None:
    """The gateway and the revocation service apply one rule (the requester's email counts)."""
    v = view(Phase.SELF_SERVICE)
    same_email = Identity(
        "u-alice-sso",
        v.purchase.requested_by.email.upper(),
        "Alice",
        ("user",),
        frozenset({Permission.REVOKE_OWN_PURCHASES}),
        "session",
    )
    assert controls_for(v, same_email).shown == (Control.REVOKE,)

"""Rules the revocation service shares with the gateway, the notifier and the test fakes:
who may act on a purchase, the phase sets, the support-case text limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation import SubmitSupportCase
from graceperiod.contracts.revocation_views import (
    ACTED_PHASES,
    ACTIONABLE_PHASES,
    CASE_BODY_MAX_LENGTH,
    CASE_SUBJECT_MAX_LENGTH,
    FINISHED_PHASES,
    Phase,
    may_act_on,
    valid_case_text,
)
from graceperiod.contracts.rpc import Actor
from graceperiod.devstack.testkit.samples import sample_purchase


def _actor(user_id: str, email: str, *permissions: Permission, path: ActionPath = ActionPath.DASHBOARD) -> Actor:
    return Actor(user_id=user_id, email=email, permissions=list(permissions), path=path)


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (_actor("u-alice", "alice@example.com", Permission.REVOKE_OWN_PURCHASES), True),
        (_actor("u-other", "ALICE@example.com", Permission.REVOKE_OWN_PURCHASES), True),
        (_actor("u-bob", "bob@example.com", Permission.REVOKE_OWN_PURCHASES), False),
        (_actor("u-alice", "alice@example.com"), False),
        (_actor("u-admin", "admin@example.com", Permission.REVOKE_ANY_PURCHASES), True),
        (_actor("owner@example.com", "owner@example.com", path=ActionPath.EMAIL_LINK), False),
    ],
    ids=["own", "own-by-email", "someone-elses", "no-permission", "any", "email-link-path-without-a-link"],
)
def test_revoke_own_and_revoke_any(actor: Actor, allowed: bool) -> None:
    purchase = sample_purchase(requester_email="alice@example.com")
    assert may_act_on(actor, purchase) is allowed


def _link(purchase_id: str, recipient: str) -> LinkClaims:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return LinkClaims(purchase_id, recipient, "jti-1", at, None, "kid-1")


@pytest.mark.parametrize(
    ("link_purchase", "link_recipient", "allowed"),
    [
        ("same", "owner@example.com", True),
        ("other-purchase", "owner@example.com", False),
        ("same", "someone@example.com", False),
    ],
    ids=["its-own-link", "a-link-for-another-purchase", "a-link-for-another-person"],
)
def test_only_a_verified_link_for_this_purchase_and_person_grants(
    link_purchase: str, link_recipient: str, allowed: bool
) -> None:
    purchase = sample_purchase(requester_email="alice@example.com")
    actor = _actor("email:owner@example.com", "Owner@example.com", path=ActionPath.EMAIL_LINK)
    pid = purchase.purchase_id if link_purchase == "same" else link_purchase
    assert may_act_on(actor, purchase, link=_link(pid, link_recipient)) is allowed


def test_a_failed_purchase_is_finished_but_nothing_was_done() -> None:
    assert Phase.FAILED in FINISHED_PHASES
    assert Phase.FAILED not in ACTED_PHASES
    assert ACTED_PHASES < FINISHED_PHASES
    assert not ACTIONABLE_PHASES & FINISHED_PHASES
    assert Phase.CLOSED not in FINISHED_PHASES | ACTIONABLE_PHASES


@pytest.mark.parametrize(
    ("subject", "body", "valid"),
    [
        ("s", "b", True),
        ("s" * CASE_SUBJECT_MAX_LENGTH, "b" * CASE_BODY_MAX_LENGTH, True),
        ("s" * (CASE_SUBJECT_MAX_LENGTH + 1), "b", False),
        ("s", "b" * (CASE_BODY_MAX_LENGTH + 1), False),
        ("  ", "b", False),
        ("s", "", False),
    ],
)
def test_case_text_limits_are_the_commands_limits(subject: str, body: str, valid: bool) -> None:
    """What the gateway's forms accept is exactly what the command accepts."""
    assert valid_case_text(subject, body) is valid
    actor = _actor("u-admin", "admin@example.com", Permission.REVOKE_ANY_PURCHASES)
    try:
        SubmitSupportCase(actor=actor, idempotency_key="k", purchase_id="p", subject=subject, body=body)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert accepted is valid

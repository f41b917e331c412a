"""The phase function at every window edge (one second before, at, one second after), per
product, and under every plan/permission/status that changes the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation_views import AllowedAction, Phase, SupportPlan, UnavailableReason
from graceperiod.revocation.domain.commitments import SelfServiceAction, self_service
from graceperiod.revocation.domain.phase import AccessFacts, Assessment, PurchaseFacts, assess
from graceperiod.revocation.domain.providers import Standing
from graceperiod.revocation.domain.records import AwsState, RevocationStatus
from graceperiod.runtime.clock import FrozenClock
from tests.unit.revocation.provider_facts import aws_standing, aws_windows

EXECUTED = datetime(2026, 11, 3, 14, 22, tzinfo=UTC)
SECOND = timedelta(seconds=1)
SUPPORT_WINDOW = timedelta(days=7)
SUPPORT_UNTIL = EXECUTED + SUPPORT_WINDOW
RETURNABLE_UNTIL = EXECUTED + timedelta(days=2)
QUEUED_START = EXECUTED + timedelta(days=3)
LATE_START = EXECUTED + timedelta(days=30)  # a queued purchase starting after the support window

OK = AccessFacts(role_assumable=True, support_plan=SupportPlan.API_ACCESS)

PRODUCTS: dict[str, tuple[CommitmentKind, AwsService, AwsState]] = {
    "sp-returnable": (
        CommitmentKind.SAVINGS_PLAN,
        AwsService.SAVINGS_PLANS,
        AwsState(known=True, state="active", start=EXECUTED, returnable_until=RETURNABLE_UNTIL),
    ),
    "sp-not-returnable": (
        CommitmentKind.SAVINGS_PLAN,
        AwsService.SAVINGS_PLANS,
        AwsState(known=True, state="active", start=EXECUTED, returnable_until=EXECUTED),
    ),
    "sp-queued": (
        CommitmentKind.SAVINGS_PLAN,
        AwsService.SAVINGS_PLANS,
        AwsState(known=True, state="queued", start=QUEUED_START, returnable_until=QUEUED_START),
    ),
    "sp-queued-late": (
        CommitmentKind.SAVINGS_PLAN,
        AwsService.SAVINGS_PLANS,
        AwsState(known=True, state="queued", start=LATE_START, returnable_until=LATE_START),
    ),
    "ri-queued": (
        CommitmentKind.RESERVED_INSTANCE,
        AwsService.EC2,
        AwsState(known=True, state="queued", start=QUEUED_START),
    ),
    "ri-active": (
        CommitmentKind.RESERVED_INSTANCE,
        AwsService.EC2,
        AwsState(known=True, state="active", start=EXECUTED),
    ),
    "rds-node": (CommitmentKind.RESERVED_NODE, AwsService.RDS, AwsState(known=True, state="active", start=EXECUTED)),
}


def _facts(
    product: str, *, status: RevocationStatus = RevocationStatus.NONE, blocked: SelfServiceAction | None = None
) -> tuple[PurchaseFacts, Standing]:
    kind, service, aws = PRODUCTS[product]
    windows = aws_windows(kind, service, aws)
    return PurchaseFacts("123456789012", windows, status=status, blocked=blocked), aws_standing(kind, service, aws)


def _at(product: str, instant: datetime, access: AccessFacts = OK, **kwargs: object) -> Assessment:
    clock = FrozenClock(instant)
    facts, standing = _facts(product, **kwargs)  # type: ignore[arg-type]
    return assess(facts, standing, access, clock.now())


def _assert_lacks(result: Assessment, action: str) -> None:
    assert result.unavailable is not None
    assert result.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    assert action in result.unavailable.message
    assert "re-apply the onboarding bundle" in result.unavailable.message


EDGES = [
    # product, edge, phase 1 s before, phase at, phase 1 s after
    ("sp-returnable", RETURNABLE_UNTIL, Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE),
    ("sp-returnable", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
    ("sp-not-returnable", EXECUTED, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE),
    ("sp-not-returnable", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
    ("sp-queued", QUEUED_START, Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE),
    ("sp-queued", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
    ("sp-queued-late", SUPPORT_UNTIL, Phase.SELF_SERVICE, Phase.SELF_SERVICE, Phase.SELF_SERVICE),
    ("sp-queued-late", LATE_START, Phase.SELF_SERVICE, Phase.CLOSED, Phase.CLOSED),
    ("ri-queued", QUEUED_START, Phase.SELF_SERVICE, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE),
    ("ri-queued", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
    ("ri-active", EXECUTED, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE, Phase.SUPPORT_CASE),
    ("ri-active", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
    ("rds-node", SUPPORT_UNTIL, Phase.SUPPORT_CASE, Phase.CLOSED, Phase.CLOSED),
]


@pytest.mark.parametrize(
    ("product", "edge", "before", "at", "after"), EDGES, ids=[f"{e[0]}@{e[1]:%m-%d}" for e in EDGES]
)
def test_every_window_edge(product: str, edge: datetime, before: Phase, at: Phase, after: Phase) -> None:
    assert [_at(product, edge + offset).phase for offset in (-SECOND, timedelta(0), SECOND)] == [before, at, after]


@pytest.mark.parametrize(
    ("product", "action"),
    [
        ("sp-returnable", SelfServiceAction.RETURN_SAVINGS_PLAN),
        ("sp-queued", SelfServiceAction.DELETE_QUEUED_SAVINGS_PLAN),
        ("ri-queued", SelfServiceAction.DELETE_QUEUED_RESERVED_INSTANCES),
    ],
)
def test_self_service_offers_revoke_with_the_right_aws_action(product: str, action: SelfServiceAction) -> None:
    result = _at(product, EXECUTED + timedelta(hours=1))
    assert result.phase is Phase.SELF_SERVICE
    assert result.actions == (AllowedAction.REVOKE,)
    assert result.unavailable is None
    kind, service, aws = PRODUCTS[product]
    offer = self_service(kind, service, aws)  # what a revoke calls AWS with
    assert offer is not None
    assert offer.action is action


@pytest.mark.parametrize("product", ["ri-active", "rds-node", "sp-not-returnable"])
def test_support_case_is_the_only_route_for_products_without_an_api_undo(product: str) -> None:
    result = _at(product, EXECUTED + timedelta(hours=1))
    assert result.phase is Phase.SUPPORT_CASE
    assert result.actions == (AllowedAction.REQUEST_SUPPORT_CASE,)


@pytest.mark.parametrize("offset", [-SECOND, timedelta(0), SECOND])
def test_no_support_plan_makes_support_unavailable_with_the_console_route(offset: timedelta) -> None:
    access = AccessFacts(role_assumable=True, support_plan=SupportPlan.NO_API_ACCESS)
    result = _at("ri-active", SUPPORT_UNTIL + offset, access)
    if offset < timedelta(0):
        assert result.phase is Phase.SUPPORT_UNAVAILABLE
        assert result.actions == ()
        assert result.unavailable is not None
        assert result.unavailable.reason is UnavailableReason.NO_SUPPORT_PLAN
        assert result.unavailable.manual_route is not None
        assert result.unavailable.manual_route.startswith("https://console.aws.amazon.com/support/")
    else:
        assert result.phase is Phase.CLOSED


def test_no_support_plan_does_not_affect_self_service() -> None:
    access = AccessFacts(role_assumable=True, support_plan=SupportPlan.NO_API_ACCESS)
    assert _at("sp-returnable", RETURNABLE_UNTIL - SECOND, access).phase is Phase.SELF_SERVICE
    assert _at("sp-returnable", RETURNABLE_UNTIL, access).phase is Phase.SUPPORT_UNAVAILABLE


@pytest.mark.parametrize("missing", ["support:CreateCase", "support:DescribeServices"])
def test_a_role_lacking_support_actions_says_which(missing: str) -> None:
    access = AccessFacts(role_assumable=True, support_plan=SupportPlan.API_ACCESS, missing_actions=frozenset({missing}))
    result = _at("ri-active", EXECUTED + timedelta(hours=1), access)
    assert result.phase is Phase.SUPPORT_UNAVAILABLE
    _assert_lacks(result, missing)


def test_a_role_lacking_the_self_service_action_gets_no_revoke_button() -> None:
    access = AccessFacts(
        role_assumable=True,
        support_plan=SupportPlan.API_ACCESS,
        missing_actions=frozenset({"ec2:DeleteQueuedReservedInstances"}),
    )
    result = _at("ri-queued", EXECUTED + timedelta(hours=1), access)
    assert result.phase is Phase.SELF_SERVICE
    assert result.actions == ()
    assert result.unavailable is not None
    assert "ec2:DeleteQueuedReservedInstances" in result.unavailable.message


@pytest.mark.parametrize("product", ["sp-returnable", "ri-active"])
def test_an_unassumable_role_offers_nothing(product: str) -> None:
    result = _at(product, EXECUTED + timedelta(hours=1), AccessFacts(role_assumable=False))
    assert result.actions == ()
    assert result.unavailable is not None
    assert result.unavailable.reason is UnavailableReason.ROLE_NOT_ASSUMABLE


def test_unknown_plan_still_offers_the_case() -> None:
    result = _at("ri-active", EXECUTED, AccessFacts(role_assumable=True))
    assert result.actions == (AllowedAction.REQUEST_SUPPORT_CASE,)


@pytest.mark.parametrize(
    ("status", "phase", "actions"),
    [
        (RevocationStatus.REVOKED, Phase.REVOKED, ()),
        (RevocationStatus.PENDING, Phase.REVOCATION_PENDING, ()),
        (RevocationStatus.CASE_OPEN, Phase.CASE_OPEN, (AllowedAction.MARK_CASE_RESOLVED,)),
        (RevocationStatus.CASE_RESOLVED, Phase.CASE_RESOLVED, ()),
    ],
)
@pytest.mark.parametrize("instant", [EXECUTED, SUPPORT_UNTIL, SUPPORT_UNTIL + SECOND])
def test_what_happened_wins_over_the_clock(
    status: RevocationStatus, phase: Phase, actions: tuple[AllowedAction, ...], instant: datetime
) -> None:
    result = _at("sp-returnable", instant, status=status)
    assert (result.phase, result.actions) == (phase, actions)


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("returned", Phase.REVOKED),
        ("queued-deleted", Phase.REVOKED),
        ("pending-return", Phase.REVOCATION_PENDING),
        ("payment-failed", Phase.CLOSED),
        ("retired", Phase.CLOSED),
    ],
)
def test_aws_states_done_outside_grace_period(state: str, phase: Phase) -> None:
    kind, service, _ = PRODUCTS["sp-returnable"]
    aws = AwsState(known=True, state=state, start=EXECUTED, returnable_until=RETURNABLE_UNTIL)
    windows = aws_windows(kind, service, aws)
    result = assess(PurchaseFacts("123456789012", windows), aws_standing(kind, service, aws), OK, EXECUTED + SECOND)
    assert result.phase is phase
    assert result.actions == ()


@pytest.mark.parametrize(
    ("offset", "phase"), [(-SECOND, Phase.SUPPORT_CASE), (timedelta(0), Phase.FAILED), (SECOND, Phase.FAILED)]
)
def test_a_failed_attempt_is_failed_only_once_nothing_else_is_possible(offset: timedelta, phase: Phase) -> None:
    assert _at("ri-active", SUPPORT_UNTIL + offset, status=RevocationStatus.FAILED).phase is phase


def test_a_blocked_return_falls_back_to_a_support_case() -> None:
    result = _at("sp-returnable", EXECUTED + SECOND, blocked=SelfServiceAction.RETURN_SAVINGS_PLAN)
    assert result.phase is Phase.SUPPORT_CASE


@pytest.mark.parametrize(
    ("kind", "service", "offers_revoke"),
    [
        (CommitmentKind.SAVINGS_PLAN, AwsService.SAVINGS_PLANS, True),
        (CommitmentKind.RESERVED_INSTANCE, AwsService.EC2, True),
        (CommitmentKind.RESERVED_NODE, AwsService.REDSHIFT, False),
    ],
)
def test_unknown_aws_state_never_guesses_a_window(
    kind: CommitmentKind, service: AwsService, offers_revoke: bool
) -> None:
    aws = AwsState(known=False, error="throttled")
    windows = aws_windows(kind, service, aws)
    assert windows.self_service_known is False
    assert windows.self_service_until is None
    assert windows.closes_at == SUPPORT_UNTIL
    facts, standing = PurchaseFacts("123456789012", windows), aws_standing(kind, service, aws)
    inside = assess(facts, standing, OK, SUPPORT_UNTIL - SECOND)
    assert inside.phase is Phase.SUPPORT_CASE
    assert (AllowedAction.REVOKE in inside.actions) is offers_revoke
    assert assess(facts, standing, OK, SUPPORT_UNTIL).phase is Phase.CLOSED


@pytest.mark.parametrize(
    ("kind", "service", "describe"),
    [
        (CommitmentKind.SAVINGS_PLAN, AwsService.SAVINGS_PLANS, "savingsplans:DescribeSavingsPlans"),
        (CommitmentKind.RESERVED_INSTANCE, AwsService.EC2, "ec2:DescribeReservedInstances"),
        (CommitmentKind.RESERVED_NODE, AwsService.REDSHIFT, "redshift:DescribeReservedNodes"),
    ],
)
def test_a_role_that_cannot_read_the_commitment_says_so_instead_of_offering_revoke(
    kind: CommitmentKind, service: AwsService, describe: str
) -> None:
    aws = AwsState(known=False, error=f"AccessDeniedException: not authorized to perform: {describe}")
    windows = aws_windows(kind, service, aws)
    access = AccessFacts(True, SupportPlan.API_ACCESS, frozenset({describe}))
    result = assess(PurchaseFacts("123456789012", windows), aws_standing(kind, service, aws), access, EXECUTED + SECOND)
    assert result.phase is Phase.SUPPORT_CASE
    assert result.actions == (AllowedAction.REQUEST_SUPPORT_CASE,)
    _assert_lacks(result, describe)


def test_a_missing_describe_does_not_matter_once_aws_was_read() -> None:
    access = AccessFacts(
        role_assumable=True,
        support_plan=SupportPlan.API_ACCESS,
        missing_actions=frozenset({"savingsplans:DescribeSavingsPlans"}),
    )
    result = _at("sp-returnable", EXECUTED + SECOND, access)
    assert (result.phase, result.actions, result.unavailable) == (Phase.SELF_SERVICE, (AllowedAction.REVOKE,), None)


def test_windows_come_from_aws_fields() -> None:
    _, aws = _facts("sp-returnable")
    facts, _ = _facts("sp-returnable")
    assert facts.windows.self_service_until == RETURNABLE_UNTIL
    assert facts.windows.support_case_until == SUPPORT_UNTIL
    assert facts.windows.closes_at == SUPPORT_UNTIL
    late, _ = _facts("sp-queued-late")
    assert late.windows.closes_at == LATE_START
    assert aws.known

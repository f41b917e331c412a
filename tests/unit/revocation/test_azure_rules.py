"""Azure's rules behind the providers' one interface, read by the same phase function as AWS's:
a reservation is returnable until it expires, within Microsoft's refund cap; savings plans,
products Microsoft does not refund, expired reservations and a reached cap are closed, each
with its reason; no support-case phase exists for Azure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation_views import AllowedAction, Phase, UnavailableReason
from graceperiod.revocation.domain.azure import READ_RESERVATIONS, RETURN
from graceperiod.revocation.domain.lifecycle import LifecyclePolicy, assessment, facts_of, next_check
from graceperiod.revocation.domain.phase import AccessFacts, Assessment, assess
from graceperiod.revocation.domain.records import AccountRecord, AzureState, PurchaseRecord, RevocationStatus
from graceperiod.revocation.domain.standing import standing_of
from tests.unit.revocation.provider_facts import EXECUTED, EXPIRES, azure_record, azure_state

SECOND = timedelta(seconds=1)
TENANT = "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"
PRINCIPAL = AccountRecord(account_id=TENANT, provider=Provider.AZURE, azure_client_id="c", azure_secret="sealed")


def _at(record: PurchaseRecord, instant: timedelta | None = None, account: AccountRecord = PRINCIPAL) -> Assessment:
    return assessment(record, account, EXECUTED + (instant if instant is not None else SECOND))


def test_a_reservation_is_returnable_until_it_expires_and_no_support_window_exists() -> None:
    record = azure_record(azure_state())
    assert record.windows.self_service_until == EXPIRES
    assert record.windows.support_case_until is None
    assert record.windows.closes_at == EXPIRES
    found = _at(record)
    assert (found.phase, found.actions, found.unavailable) == (Phase.SELF_SERVICE, (AllowedAction.REVOKE,), None)


@pytest.mark.parametrize(
    ("offset", "phase"), [(-SECOND, Phase.SELF_SERVICE), (timedelta(0), Phase.CLOSED), (SECOND, Phase.CLOSED)]
)
def test_the_expiry_edge_is_exclusive_and_closes_with_its_reason(offset: timedelta, phase: Phase) -> None:
    record = azure_record(azure_state())
    found = assessment(record, PRINCIPAL, EXPIRES + offset)
    assert found.phase is phase
    if phase is Phase.CLOSED:
        assert found.unavailable is not None
        assert found.unavailable.reason is UnavailableReason.EXPIRED


def test_never_a_support_case_whatever_the_instant() -> None:
    record = azure_record(azure_state())
    for offset in (SECOND, timedelta(days=6), timedelta(days=8), timedelta(days=400)):
        found = _at(record, offset)
        assert found.phase not in (Phase.SUPPORT_CASE, Phase.SUPPORT_UNAVAILABLE)
        assert AllowedAction.REQUEST_SUPPORT_CASE not in found.actions


def test_a_savings_plan_is_closed_without_reading_azure() -> None:
    record = azure_record(AzureState(), kind="savings_plan")
    found = _at(record)
    assert found.phase is Phase.CLOSED
    assert found.unavailable is not None
    assert found.unavailable.reason is UnavailableReason.NOT_REFUNDABLE
    assert "savings plans cannot be cancelled" in found.unavailable.message
    assert record.windows.closes_at is None


def test_a_product_microsoft_does_not_refund_is_closed_with_microsofts_words() -> None:
    error = ("SelfServiceRefundNotSupported", "Reservation order x is not eligible for refund.")
    found = _at(azure_record(azure_state(errors=(error,))))
    assert found.phase is Phase.CLOSED
    assert found.unavailable is not None
    assert found.unavailable.reason is UnavailableReason.NOT_REFUNDABLE
    assert "not eligible for refund" in found.unavailable.message


@pytest.mark.parametrize(
    ("consumed", "cancelled", "phase"),
    [
        ("48999.99", "1000.00", Phase.SELF_SERVICE),  # 1 cent left after it
        ("49000.00", "1000.00", Phase.SELF_SERVICE),  # exactly the cap
        ("49000.01", "1000.00", Phase.CLOSED),  # 1 cent over
    ],
)
def test_the_refund_cap_edge(consumed: str, cancelled: str, phase: Phase) -> None:
    found = _at(azure_record(azure_state(consumed=consumed, cancelled=cancelled)))
    assert found.phase is phase
    if phase is Phase.CLOSED:
        assert found.unavailable is not None
        assert found.unavailable.reason is UnavailableReason.REFUND_CAP_REACHED
        assert "49,000.01 USD of the 50,000.00 USD" in found.unavailable.message
        assert "999.99 USD is left" in found.unavailable.message


def test_azures_own_cap_refusal_closes_even_when_the_numbers_seem_to_fit() -> None:
    error = ("RefundLimitExceeded", "The refund exceeds the remaining refund limit.")
    assert _at(azure_record(azure_state(errors=(error,)))).phase is Phase.CLOSED


@pytest.mark.parametrize(
    ("state", "display", "phase"),
    [("Succeeded", "Processing", Phase.REVOCATION_PENDING), ("Cancelled", "Cancelled", Phase.REVOKED)],
)
def test_a_return_seen_in_azure_wins_whoever_made_it(state: str, display: str, phase: Phase) -> None:
    assert _at(azure_record(azure_state(state=state, display=display))).phase is phase


def test_unknown_state_offers_revoke_until_the_term_could_end_never_guessing_a_window() -> None:
    record = azure_record(AzureState(known=False, error="throttled"), term_months=12)
    assert record.windows.self_service_known is False
    assert record.windows.self_service_until is None
    horizon = EXECUTED + timedelta(days=365)
    assert record.windows.closes_at == horizon
    assert _at(record).actions == (AllowedAction.REVOKE,)
    assert assessment(record, PRINCIPAL, horizon).phase is Phase.CLOSED


def test_credentials_that_cannot_read_the_reservation_say_so_instead_of_offering_revoke() -> None:
    record = azure_record(AzureState(known=False, error="AuthorizationFailed"))
    standing = standing_of(record, EXECUTED)
    access = AccessFacts(role_assumable=True, missing_actions=frozenset({READ_RESERVATIONS}))
    found = assess(facts_of(record), standing, access, EXECUTED + SECOND)
    assert found.actions == ()
    assert found.unavailable is not None
    assert found.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    assert READ_RESERVATIONS in found.unavailable.message
    assert "Azure onboarding template" in found.unavailable.message


def test_a_principal_lacking_return_gets_no_revoke_button_and_the_template_named() -> None:
    record = azure_record(azure_state())
    access = AccessFacts(role_assumable=True, missing_actions=frozenset({RETURN}))
    found = assess(facts_of(record), standing_of(record, EXECUTED), access, EXECUTED + SECOND)
    assert (found.phase, found.actions) == (Phase.SELF_SERVICE, ())
    assert found.unavailable is not None
    assert RETURN in found.unavailable.message


def test_a_refused_principal_or_none_registered_offers_nothing() -> None:
    record = azure_record(azure_state())
    refused = PRINCIPAL.model_copy(update={"role_assumable": False})
    for account in (refused, None):
        found = assessment(record, account, EXECUTED + SECOND)
        assert found.actions == ()
        assert found.unavailable is not None
        assert found.unavailable.reason is UnavailableReason.PRINCIPAL_UNUSABLE


def test_a_failed_return_within_the_window_may_be_tried_again() -> None:
    record = azure_record(azure_state()).model_copy(update={"status": RevocationStatus.FAILED})
    assert _at(record).actions == (AllowedAction.REVOKE,)
    assert assessment(record, PRINCIPAL, EXPIRES).phase is Phase.CLOSED


def test_the_refund_estimate_is_quoted_again_a_day_later() -> None:
    record = azure_record(azure_state())
    assert next_check(record, EXECUTED + SECOND, LifecyclePolicy()) == EXECUTED + timedelta(days=1)

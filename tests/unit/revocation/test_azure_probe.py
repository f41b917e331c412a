"""What the registration probe of an Azure tenant's service principal teaches (domain/accounts.py:
azure_probed): usable, an action refused (the onboarding template is missing), refused at sign-in,
or nothing when Azure did not answer."""

from __future__ import annotations

from datetime import UTC, datetime

from graceperiod.contracts.enums import Provider
from graceperiod.revocation.domain.accounts import azure_probed
from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.revocation.domain.azure import READ_ORDERS
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.records import AccountRecord

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TENANT = AccountRecord(
    account_id="3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43", provider=Provider.AZURE, azure_client_id="c", azure_secret="s"
)


def refusal(failure: Failure) -> AzureCallError:
    return AzureCallError(failure, "AuthorizationFailed: no", action=READ_ORDERS, status=403)


def test_a_usable_principal_is_checked_with_nothing_missing() -> None:
    seen = azure_probed(TENANT.model_copy(update={"probe_missing": [READ_ORDERS]}), None, NOW)
    view = seen.view()
    assert (view.role_assumable, view.missing_actions, view.reapply_bundle, view.checked_at) == (True, [], False, NOW)


def test_a_refused_read_is_a_missing_action_and_asks_for_the_template() -> None:
    view = azure_probed(TENANT, refusal(Failure.ACCESS_DENIED), NOW).view()
    assert (view.role_assumable, view.missing_actions, view.reapply_bundle) == (True, [READ_ORDERS], True)


def test_a_refused_sign_in_is_not_assumable() -> None:
    view = azure_probed(TENANT, refusal(Failure.NOT_ASSUMABLE), NOW).view()
    assert view.role_assumable is False
    assert view.reapply_bundle
    assert view.message is not None
    assert view.message.startswith("Azure refused the service principal")


def test_a_probe_azure_did_not_answer_teaches_nothing() -> None:
    seen = azure_probed(TENANT, refusal(Failure.THROTTLED), NOW)
    assert (seen.role_assumable, seen.missing, seen.checked_at) == (None, [], None)
    assert seen.message is not None
    assert "did not finish" in seen.message

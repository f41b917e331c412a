"""Issue 7, point 6: migrating an existing customer to a new onboarding bundle.

An account whose role predates some actions shows "re-apply the onboarding bundle" naming
them, found by the revocation service's permission probes; once the customer has run the
one-shot ``aws cloudformation update-stack`` (docs/operations.md#reapply-the-onboarding-bundle),
the next probe (on the first tick past ``probe_max_age``) finds nothing missing and the account
is normal again. Also: every action the service needs is either probed or documented as
learnt-when-used, and the onboarding template grants exactly those actions.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from graceperiod.contracts.revocation import AccountAccessReply, ListAccountAccess
from graceperiod.contracts.revocation_views import AccountAccess, AllowedAction, Phase, UnavailableReason
from graceperiod.revocation.adapters.iam import PROBED_IAM_ACTIONS, REQUIRED_IAM_ACTIONS, UNPROBED_IAM_ACTIONS
from graceperiod.revocation.settings import RevocationSettings
from tests.deploy.test_onboarding import granted_actions
from tests.integration.revocation.conftest import ADMIN, Harness

#: Actions a customer's role may lack after an upgrade of the bundle (one per kind of probe:
#: an EC2 DryRun, a describe of an id that cannot exist, a read-only Support call).
NEW_ACTIONS = ["ec2:DeleteQueuedReservedInstances", "rds:DescribeReservedDBInstances", "support:DescribeCases"]
DOCS = Path(__file__).parents[3] / "docs"


async def access_of(harness: Harness, account: str) -> AccountAccess:
    accounts = (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    return next(a for a in accounts if a.account_id == account)


async def test_an_account_flips_from_reapply_the_bundle_to_normal_once_its_role_has_the_actions(
    harness: Harness,
) -> None:
    account = await harness.account(denied=NEW_ACTIONS)  # registering the role runs the probes
    before = await access_of(harness, account)
    assert before.missing_actions == sorted(NEW_ACTIONS)
    assert before.reapply_bundle is True
    assert before.role_assumable is True

    ri = await harness.control.reserved_instance(
        account, region="eu-west-1", start=harness.clock.now() + timedelta(days=3)
    )
    pid = (
        await harness.purchase(
            account,
            kind="reserved_instance",
            service="ec2",
            commitment_id=ri["ReservedInstancesId"],
            region="eu-west-1",
        )
    )["purchase_id"]
    blocked = await harness.view(pid)
    assert blocked.allowed_actions == []
    assert blocked.unavailable is not None
    assert blocked.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    assert "re-apply the onboarding bundle" in blocked.unavailable.message
    assert "ec2:DeleteQueuedReservedInstances" in blocked.unavailable.message

    # The customer runs `aws cloudformation update-stack` with the new template: the role gains
    # the actions. Nothing changes until the probe is redone...
    await harness.control.account(account, denied_actions=[])
    assert (await access_of(harness, account)).reapply_bundle is True
    # ...on the first tick past the probe's maximum age.
    harness.clock.advance(timedelta(seconds=RevocationSettings().probe_max_age_seconds + 1))
    await harness.tick()
    deadline = time.monotonic() + 20
    while (after := await access_of(harness, account)).reapply_bundle:
        assert time.monotonic() < deadline, f"the account still says re-apply the bundle: {after}"
        await asyncio.sleep(0.1)
    assert after.missing_actions == []
    assert after.checked_at == harness.clock.now()

    normal = await harness.view(pid)
    assert normal.phase is Phase.SELF_SERVICE
    assert normal.allowed_actions == [AllowedAction.REVOKE]
    assert normal.unavailable is None


async def test_a_role_that_cannot_read_the_commitment_names_the_action_on_the_purchase(harness: Harness) -> None:
    """Recorded while the role lacks DescribeSavingsPlans: the window is unknown, so the view
    names the missing action instead of offering a Revoke that the command would refuse."""
    account = await harness.account(denied=["savingsplans:DescribeSavingsPlans"])
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]

    view = await harness.view(pid)
    assert view.windows.self_service_known is False
    assert view.phase is Phase.SUPPORT_CASE
    assert view.allowed_actions == [AllowedAction.REQUEST_SUPPORT_CASE]
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    assert "savingsplans:DescribeSavingsPlans" in view.unavailable.message


async def test_the_probes_check_exactly_the_probed_actions(harness: Harness) -> None:
    """A role refused every action the service needs: the probes name exactly the probed ones
    (each listed probe really exercises its action; the others are learnt when used)."""
    account = await harness.account(denied=sorted(REQUIRED_IAM_ACTIONS))
    access = await access_of(harness, account)
    assert access.missing_actions == sorted(PROBED_IAM_ACTIONS)
    assert access.reapply_bundle is True


def test_every_required_action_is_probed_or_documented_as_unprobeable() -> None:
    assert PROBED_IAM_ACTIONS.isdisjoint(UNPROBED_IAM_ACTIONS)
    assert PROBED_IAM_ACTIONS | set(UNPROBED_IAM_ACTIONS) == REQUIRED_IAM_ACTIONS
    documented = (DOCS / "revocation.md").read_text()
    for action, why in UNPROBED_IAM_ACTIONS.items():
        assert action in documented, f"docs/revocation.md does not say {action} is learnt when used"
        assert why


def test_the_onboarding_template_grants_exactly_the_required_actions() -> None:
    assert granted_actions() == REQUIRED_IAM_ACTIONS


def test_the_migration_the_banner_links_to_is_documented() -> None:
    operations = (DOCS / "operations.md").read_text()
    section = operations.split("## Reapply the onboarding bundle", 1)[1].split("\n## ", 1)[0]
    assert "aws cloudformation update-stack" in section
    assert "deploy/onboarding/grace-period-role.yaml" in section
    assert "UsePreviousValue" in section or "ParameterKey=ExternalId" in section

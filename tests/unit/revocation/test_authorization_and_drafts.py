from __future__ import annotations

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation_views import case_reference
from graceperiod.contracts.rpc import Actor
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.revocation.domain.authorization import may_configure
from graceperiod.revocation.domain.drafts import draft_case


def _actor(user_id: str, email: str, *permissions: Permission, path: ActionPath = ActionPath.DASHBOARD) -> Actor:
    return Actor(user_id=user_id, email=email, permissions=list(permissions), path=path)


def test_configuring_needs_update_config() -> None:
    assert may_configure(_actor("a", "a@example.com", Permission.UPDATE_CONFIG))
    assert not may_configure(_actor("a", "a@example.com", Permission.REVOKE_ANY_PURCHASES))


def test_the_draft_carries_what_aws_billing_needs() -> None:
    purchase = sample_purchase(kind="reserved_instance", service="ec2", commitment_id="ri-0abc", region="eu-west-1")
    draft = draft_case(purchase)
    assert draft.subject.startswith(case_reference(purchase.purchase_id))
    assert draft.subject_prefix == case_reference(purchase.purchase_id)  # shown as fixed in the form
    for fact in (
        "123456789012",
        "ri-0abc",
        "eu-west-1",
        "13140.00",
        purchase.executed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ):
        assert fact in draft.body
    assert draft.category_code == "reserved-instances"
    assert draft.issue_type == "customer-service"
    assert draft.service_code == "billing"
    assert draft_case(sample_purchase()).category_code == "other-billing-questions"

"""``purchase.executed`` with ``provider: azure``, added compatibly: every version-1 AWS message
(the published examples, the frozen fixtures written before Azure existed) is still valid, to the
model and to the published JSON Schema; an Azure message carries its own fields, and each
provider's fields are refused for the other, with the error at the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from graceperiod.contracts.base import SCHEMA_VERSION
from graceperiod.contracts.enums import AzureBenefit, Provider
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.upstream_examples import AWS_SAVINGS_PLAN, AZURE_RESERVATION
from graceperiod.devstack.testkit.samples import azure_purchase_payload, purchase_payload

ROOT = Path(__file__).resolve().parents[3]
V1_FIXTURES = sorted((Path(__file__).parent / "v1_messages").glob("*.json"))
ASYNCAPI = ROOT / "docs" / "asyncapi.json"


def _published_examples() -> list[dict[str, Any]]:
    document = json.loads(ASYNCAPI.read_text())
    schemas = document["components"]["schemas"]
    return list(schemas["PurchaseExecuted"].get("examples", []))


def test_schema_version_stays_1_azure_is_a_compatible_extension() -> None:
    assert SCHEMA_VERSION == 1


@pytest.mark.parametrize("fixture", V1_FIXTURES, ids=[f.stem for f in V1_FIXTURES])
def test_every_version_1_aws_message_is_still_valid(fixture: Path) -> None:
    body = json.loads(fixture.read_text())
    parsed = PurchaseExecuted.model_validate(body)
    jsonschema.validate(body, PurchaseExecuted.model_json_schema())
    assert parsed.provider is Provider.AWS
    assert parsed.azure is None
    assert (parsed.service, parsed.commitment) == parsed.aws_product()
    assert parsed.commitment_id == body["commitment"]["id"]


def test_the_published_examples_are_valid_and_include_both_providers() -> None:
    examples = _published_examples()
    assert [e["provider"] for e in examples] == ["aws", "azure"], "run `make docs` after changing the examples"
    schema = PurchaseExecuted.model_json_schema()
    for example in examples:
        PurchaseExecuted.model_validate(example)
        jsonschema.validate(example, schema)
    assert examples[0] == json.loads(json.dumps(AWS_SAVINGS_PLAN))


def test_an_azure_reservation_carries_what_a_return_needs() -> None:
    purchase = PurchaseExecuted.model_validate(AZURE_RESERVATION)
    azure = purchase.azure_product()
    assert azure.kind is AzureBenefit.RESERVATION
    assert (azure.order_id, azure.benefit_id) == (azure.reservation_order_id, azure.reservation_id)
    assert purchase.account.id == "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"  # the tenant
    assert (purchase.product, purchase.location, azure.quantity, purchase.term_months) == (
        "VirtualMachines",
        "westeurope",
        2,
        36,
    )
    assert azure.billing_scope is not None
    assert azure.subscription_id == "9f2d6a41-5b8c-4e07-b3a9-1c7e0d4f8b62"
    with pytest.raises(ValueError, match="not an AWS purchase"):
        purchase.aws_product()


def test_guids_and_locations_are_read_as_azure_compares_them() -> None:
    body = azure_purchase_payload(tenant_id="3B7C1E9D-2F4A-4D8B-A6E0-5C9F2B7D1E43", location="WestEurope")
    purchase = PurchaseExecuted.model_validate(body)
    assert purchase.account.id == "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"
    assert purchase.location == "westeurope"


def test_an_azure_savings_plan_names_its_own_ids() -> None:
    purchase = PurchaseExecuted.model_validate(azure_purchase_payload(kind="savings_plan"))
    azure = purchase.azure_product()
    assert azure.kind is AzureBenefit.SAVINGS_PLAN
    assert purchase.commitment_id == azure.savings_plan_id
    assert purchase.product == "savings plan"


def _without(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _set(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


AZURE_REFUSALS = [
    ("no azure object", _without("azure"), ("azure",), "missing"),
    ("an AWS service", _set("ec2", "service"), ("service",), "another provider"),
    ("an AWS account id", _set("123456789012", "account", "id"), ("account", "id"), "tenant id"),
    ("a term Azure does not sell", _set(24, "term_months"), ("term_months",), "terms of"),
    ("no reservation id", _without("azure", "reservation_id"), ("azure", "reservation_id"), "missing"),
    ("no resource type", _without("azure", "reserved_resource_type"), ("azure", "reserved_resource_type"), "missing"),
    ("a malformed order id", _set("order-1", "azure", "reservation_order_id"), ("azure", "reservation_order_id"), ""),
    ("no quantity", _set(0, "azure", "quantity"), ("azure", "quantity"), ""),
    (
        "an enrollment named as a billing profile",
        _set(
            {"kind": "billing_profile", "id": "/providers/Microsoft.Billing/billingAccounts/8611537"},
            "azure",
            "billing_scope",
        ),
        ("azure", "billing_scope"),
        "billing profile",
    ),
]


@pytest.mark.parametrize(("case", "change", "loc", "words"), AZURE_REFUSALS, ids=[c[0] for c in AZURE_REFUSALS])
def test_an_azure_message_with_a_wrong_field_is_refused_at_that_field(
    case: str, change: Callable[[dict[str, Any]], None], loc: tuple[str, ...], words: str
) -> None:
    body = copy.deepcopy(AZURE_RESERVATION)
    change(body)
    with pytest.raises(ValidationError) as refused:
        PurchaseExecuted.model_validate(body)
    errors = refused.value.errors()
    assert any(error["loc"][: len(loc)] == loc for error in errors), errors
    assert words in str(refused.value)


AWS_REFUSALS = [
    ("no commitment", _without("commitment"), ("commitment",), "missing"),
    ("no service", _without("service"), ("service",), "missing"),
    ("an azure object", _set(AZURE_RESERVATION["azure"], "azure"), ("azure",), "another provider"),
    (
        "a tenant as the account",
        _set("3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43", "account", "id"),
        ("account", "id"),
        "12-digit",
    ),
]


@pytest.mark.parametrize(("case", "change", "loc", "words"), AWS_REFUSALS, ids=[c[0] for c in AWS_REFUSALS])
def test_an_aws_message_still_needs_its_aws_fields(
    case: str, change: Callable[[dict[str, Any]], None], loc: tuple[str, ...], words: str
) -> None:
    body = purchase_payload()
    change(body)
    with pytest.raises(ValidationError) as refused:
        PurchaseExecuted.model_validate(body)
    assert any(error["loc"][: len(loc)] == loc for error in refused.value.errors())
    assert words in str(refused.value)


def test_the_json_schema_requires_each_providers_fields() -> None:
    schema = PurchaseExecuted.model_json_schema()
    no_azure = copy.deepcopy(AZURE_RESERVATION)
    del no_azure["azure"]
    no_commitment = copy.deepcopy(AWS_SAVINGS_PLAN)
    del no_commitment["commitment"]
    for body in (no_azure, no_commitment):
        with pytest.raises(jsonschema.ValidationError, match="is a required property"):
            jsonschema.validate(body, schema)

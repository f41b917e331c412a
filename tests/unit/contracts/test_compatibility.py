"""Contract changes stay compatible (brief: "Where the product goes next"): messages valid under
schema_version 1 stay valid, with the same schema_version. The examples in docs/asyncapi.json
are such messages; each validates against today's models and against the document's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from graceperiod.contracts.base import SCHEMA_VERSION
from graceperiod.contracts.enums import ExecutionVia
from graceperiod.contracts.revocation import RegisterAccountRole
from graceperiod.contracts.upstream import NOBODY_REQUESTED, PurchaseExecuted

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
#: Documented messages with v1 examples (commands travel as plain JSON, so the document has
#: no schema for RegisterAccountRole: its examples are the model's own, below).
MODELS = {"PurchaseExecuted": PurchaseExecuted}


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOC.read_text())
    return document


def _examples() -> list[tuple[str, dict[str, Any]]]:
    schemas = _document()["components"]["schemas"]
    return [(name, example) for name in MODELS for example in schemas[name].get("examples", [])]


def test_the_document_carries_v1_examples_of_the_upstream_messages() -> None:
    names = {name for name, _ in _examples()}
    assert names == set(MODELS)


@pytest.mark.parametrize(("name", "example"), _examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_v1_example_still_validates(name: str, example: dict[str, Any]) -> None:
    MODELS[name].model_validate(example)
    document = _document()
    schema = {**document["components"]["schemas"][name], "components": document["components"]}
    jsonschema.validate(example, schema)


def test_schema_version_is_unchanged() -> None:
    assert SCHEMA_VERSION == 1


def test_a_discovered_purchase_needs_no_requester_and_names_nobody() -> None:
    [executed, *_] = [e for n, e in _examples() if n == "PurchaseExecuted"]
    discovered = PurchaseExecuted.model_validate({**executed, "requested_by": None, "execution": {"via": "discovered"}})
    assert discovered.discovered
    assert discovered.execution.via is ExecutionVia.DISCOVERED
    assert discovered.requester_label == NOBODY_REQUESTED
    assert PurchaseExecuted.model_validate(executed).requester_label == "Alice Example"


def test_registering_an_account_takes_its_name_contacts_and_regions_optionally() -> None:
    [old] = RegisterAccountRole.model_json_schema()["examples"]
    before = RegisterAccountRole.model_validate(old)
    assert (before.name, before.contact_emails, before.regions) == (None, [], None)
    after = RegisterAccountRole.model_validate(
        {**old, "name": "Payments", "contact_emails": ["owner@example.com"], "regions": ["eu-west-1"]}
    )
    assert (after.name, after.contact_emails, after.regions) == ("Payments", ["owner@example.com"], ["eu-west-1"])

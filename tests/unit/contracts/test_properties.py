"""Property-based tests of every contract model (hypothesis): valid instances survive the wire,
the wire form matches the published JSON Schema, and invalid input is always rejected with a
``ValidationError`` (what the reliability middleware dead-letters as bad input), never with
another exception that it would retry as a bug."""

from __future__ import annotations

import contextlib
import functools
import json
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from graceperiod.contracts.base import SCHEMA_VERSION, Message
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from tests.unit.contracts.strategies import JSON_VALUES, contract_models, field_values, models

MODELS = contract_models()
IDS = [m.__name__ for m in MODELS]
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)


def test_every_contract_module_contributes_models() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"PurchaseExecuted", "Tick", "PurchaseRecorded", "EmailDelivered", "AccountSettled", "Actor"} <= names
    assert len(MODELS) > 40


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_valid_instances_round_trip_through_json(model: type[BaseModel], data: st.DataObject) -> None:
    instance = data.draw(models(model))
    assert model.model_validate_json(instance.model_dump_json()) == instance
    assert model.model_validate(json.loads(instance.model_dump_json())) == instance


@functools.cache
def _schema_validator(model: type[BaseModel]) -> Any:
    schema = model.model_json_schema(mode="serialization")
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_the_wire_form_matches_the_published_json_schema(model: type[BaseModel], data: st.DataObject) -> None:
    instance = data.draw(models(model))
    _schema_validator(model).validate(json.loads(instance.model_dump_json()))


def _required(model: type[BaseModel]) -> list[str]:
    """Fields a body must carry (a Tick without occurred_at takes it from `at`: documented default)."""
    return [
        field
        for field, info in model.model_fields.items()
        if info.is_required() and not (model.__name__ == "Tick" and field == "occurred_at")
    ]


WITH_REQUIRED = [m for m in MODELS if _required(m)]
ALL_OPTIONAL = [m for m in MODELS if not _required(m)]


@pytest.mark.parametrize("model", WITH_REQUIRED, ids=[m.__name__ for m in WITH_REQUIRED])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_a_missing_required_field_is_rejected(model: type[BaseModel], data: st.DataObject) -> None:
    wire = json.loads(data.draw(models(model)).model_dump_json())
    for field in _required(model):
        with pytest.raises(ValidationError) as raised:
            model.model_validate({k: v for k, v in wire.items() if k != field})
        assert (field,) in [error["loc"][:1] for error in raised.value.errors() if error["type"] == "missing"]


@pytest.mark.parametrize("model", ALL_OPTIONAL, ids=[m.__name__ for m in ALL_OPTIONAL])
def test_a_model_without_required_fields_reads_an_empty_body_as_its_defaults(model: type[BaseModel]) -> None:
    """Replies, views and settings whose every field has a default: an empty body is valid and
    means exactly the defaults (nothing to reject, so the test above does not apply)."""
    empty = model.model_validate({})
    assert empty == model()
    assert empty.model_fields_set == set()
    assert set(json.loads(empty.model_dump_json())) == set(model.model_fields)


MESSAGES = [m for m in MODELS if issubclass(m, Message)]


@pytest.mark.parametrize("model", MESSAGES, ids=[m.__name__ for m in MESSAGES])
@SETTINGS
@given(data=st.data(), version=st.integers(min_value=SCHEMA_VERSION + 1, max_value=10**6))
def test_a_schema_version_from_the_future_is_rejected(
    model: type[BaseModel], data: st.DataObject, version: int
) -> None:
    wire = {**json.loads(data.draw(models(model)).model_dump_json()), "schema_version": version}
    with pytest.raises(ValidationError, match="schema_version"):
        model.model_validate(wire)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@settings(max_examples=30, deadline=None)
@given(raw=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_are_either_valid_or_a_validation_error(model: type[BaseModel], raw: bytes) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate_json(raw)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_a_field_of_the_wrong_shape_is_rejected(model: type[BaseModel], data: st.DataObject) -> None:
    """Every field, required or not, refuses a nested list of lists (no contract field takes one)."""
    values: dict[str, Any] = data.draw(field_values(model))
    typed = [name for name, info in model.model_fields.items() if "Any" not in str(info.annotation)]
    if not typed:
        return
    field = data.draw(st.sampled_from(typed))
    with pytest.raises(ValidationError):
        model.model_validate({**values, field: [[[1]], [["x"]]]})


@given(amount=st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_money_as_a_json_number_is_rejected(amount: float) -> None:
    payload = purchase_payload()
    payload["cost"]["upfront"] = amount
    with pytest.raises(ValidationError, match="decimal string"):
        PurchaseExecuted.model_validate_json(json.dumps(payload))


@given(when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))  # noqa: DTZ001 - naive on purpose
def test_a_naive_datetime_is_rejected(when: datetime) -> None:
    payload = purchase_payload()
    payload["executed_at"] = when.isoformat()
    with pytest.raises(ValidationError, match="timezone"):
        PurchaseExecuted.model_validate(payload)

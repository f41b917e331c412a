"""Hypothesis strategies for every contract model, derived from the models themselves.

Each field's strategy comes from its annotation and its constraints (pattern, lengths,
bounds, enum members, literals, nested models, unions), so a field added to a contract is
covered without touching the tests. Values are generated the way the contract states them
(stripped strings, aware datetimes, finite decimals), and instances are built with
``model_validate`` so model validators apply; combinations they refuse are filtered out.
"""

from __future__ import annotations

import functools
import inspect
import types
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic.types import StringConstraints

from graceperiod.contracts import base, cooldown, lease_costs, notifier, refunds, revocation, rpc, upstream, wait_list
from graceperiod.contracts.enums import Provider

CONTRACT_MODULES = (base, upstream, rpc, revocation, notifier, cooldown, lease_costs, wait_list, refunds)

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; `timezones` makes values aware
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=OFFSETS,
)


def contract_models() -> list[type[BaseModel]]:
    """Every pydantic model defined in the contracts package."""
    found: dict[str, type[BaseModel]] = {}
    for module in CONTRACT_MODULES:
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{value.__name__}"] = value
    return [found[key] for key in sorted(found)]


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, StringConstraints):
            found |= {k: v for k, v in vars(item).items() if v is not None}
        elif isinstance(item, FieldInfo):
            found |= _constraints(item.metadata)
        elif isinstance(getattr(item, "pattern", None), str):  # Field(pattern=...) metadata
            found["pattern"] = item.pattern
        elif isinstance(item, annotated_types.Ge):
            found["ge"] = item.ge
        elif isinstance(item, annotated_types.Gt):
            found["gt"] = item.gt
        elif isinstance(item, annotated_types.Le):
            found["le"] = item.le
        elif isinstance(item, annotated_types.Lt):
            found["lt"] = item.lt
        elif isinstance(item, annotated_types.MinLen):
            found["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            found["max_length"] = item.max_length
    return found


def _text(c: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = c.get("min_length", 0), min(c.get("max_length", 40), 40)
    if pattern := c.get("pattern"):
        texts = st.from_regex(pattern, fullmatch=True)
    else:
        alphabet = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
        texts = st.text(alphabet, min_size=low, max_size=high)
    # Every contract model strips whitespace: generate what survives it unchanged.
    return texts.filter(lambda s: s == s.strip() and low <= len(s) <= c.get("max_length", 10**6))


def _number(kind: type, c: dict[str, Any]) -> st.SearchStrategy[Any]:
    low = c.get("ge", c.get("gt"))
    high = c.get("le", c.get("lt"))
    if kind is int:
        low = -(10**6) if low is None else int(low) + (1 if "gt" in c else 0)
        high = 10**6 if high is None else int(high) - (1 if "lt" in c else 0)
        return st.integers(low, high)
    if kind is float:
        return st.floats(
            min_value=low, max_value=high if high is not None else 1e6, exclude_min="gt" in c, allow_nan=False
        )
    return st.decimals(
        min_value=Decimal(low) if low is not None else Decimal("-1e9"),
        max_value=Decimal(high) if high is not None else Decimal("1e9"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )


def strategy_for(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    metadata = list(metadata or [])
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return strategy_for(inner, [*extra, *metadata])
    c = _constraints(metadata)
    if annotation is Any:
        return JSON_VALUES
    if annotation is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin in (Union, types.UnionType):
        return st.one_of([strategy_for(arg) for arg in get_args(annotation)])
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(strategy_for(item), min_size=c.get("min_length", 0), max_size=min(c.get("max_length", 3), 3))
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseModel):
            return models(annotation)
        if issubclass(annotation, Enum):
            return st.sampled_from(list(annotation))
        if annotation is bool:
            return st.booleans()
        if annotation in (int, float, Decimal):
            return _number(annotation, c)
        if annotation is str:
            return _text(c)
        if annotation is SecretStr:
            return _text(c).map(SecretStr)
        if annotation in (datetime, AwareDatetime):
            return INSTANTS
        if annotation is date:
            return st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
    msg = f"no strategy for {annotation!r}"
    raise NotImplementedError(msg)


def _valid(model: type[BaseModel], values: dict[str, Any]) -> bool:
    try:
        model.model_validate(values)
    except ValidationError:
        return False
    return True


#: Fields whose validators narrow what their annotation says (generating the wide range and
#: filtering would reject almost every example).
OVERRIDES: dict[str, st.SearchStrategy[Any]] = {"schema_version": st.integers(1, base.SCHEMA_VERSION)}


def field_values(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Field values for ``model``: every required field, a random subset of the optional ones."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = OVERRIDES[name] if name in OVERRIDES else strategy_for(info.annotation, info.metadata)
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _purchases_of(provider: Provider) -> st.SearchStrategy[dict[str, Any]]:
    """``purchase.executed`` values of one provider: its own fields present, the other's absent,
    the account id and term of its shape (random draws would rarely satisfy all of them)."""
    fields = upstream.PurchaseExecuted.model_fields
    account = field_values(upstream.Account)
    if provider is Provider.AWS:
        own = {
            "service": strategy_for(fields["service"].annotation),
            "commitment": models(upstream.Commitment),
            "account": account.map(lambda a: a | {"id": "123456789012"}),
        }
    else:
        own = {
            "azure": models(upstream.AzurePurchase),
            "account": account.map(lambda a: a | {"id": "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"}),
            "term_months": st.sampled_from(sorted(upstream.AZURE_TERMS_MONTHS)),
        }
    plain = {
        name: OVERRIDES[name] if name in OVERRIDES else strategy_for(info.annotation, info.metadata)
        for name, info in fields.items()
        if name not in own and name not in ("service", "commitment", "azure", "provider")
    }
    required = {name: strategy for name, strategy in plain.items() if fields[name].is_required()}
    optional = {name: strategy for name, strategy in plain.items() if not fields[name].is_required()}
    return st.fixed_dictionaries({**required, **own, "provider": st.just(provider.value)}, optional=optional)


@functools.cache
def models(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid instances of ``model`` (one strategy object per model, built once)."""
    values = (
        st.one_of([_purchases_of(p) for p in Provider]) if model is upstream.PurchaseExecuted else field_values(model)
    )
    return values.filter(lambda v: _valid(model, v)).map(model.model_validate)

"""Path, query and header parameters shared by the API and the pages."""

from __future__ import annotations

import hashlib
import re
import uuid
from enum import StrEnum
from typing import Annotated, Any

from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIType
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from graceperiod.gateway.web.schemas import ACCOUNT_ID_PATTERN, IDENTIFIER_PATTERN


def optional_text(**extra: Any) -> dict[str, Any]:
    """The OpenAPI schema of an optional query or header parameter: a plain string, not
    "string or null" (a query string cannot carry a null; leaving the parameter out is how to
    say "none"). For ``schema_extra``: Litestar would otherwise document ``oneOf [..., null]``."""
    return {"one_of": None, "type": OpenAPIType.STRING, **extra}


def optional_choice(choices: type[StrEnum]) -> dict[str, Any]:
    """Like :func:`optional_text`, for a parameter taking one of an enum's values."""
    return optional_text(enum=[c.value for c in choices])


#: An opaque page cursor, as returned in ``next_cursor``; leave it out for the first page.
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=512,
        description="The `next_cursor` of the previous page; leave it out for the first page.",
        schema_extra=optional_text(),
    ),
]

PurchaseId = Annotated[
    str, PathParameter(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="The purchase id.")
]
AccountId = Annotated[str, PathParameter(pattern=ACCOUNT_ID_PATTERN, description="A 12-digit AWS account id.")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        schema_extra=optional_text(),
        description=(
            "Makes a retried action harmless: the same key never acts twice. Any string; keys that are not "
            "short identifiers are hashed. Default: a new key per request."
        ),
    ),
]

_KEY = re.compile(IDENTIFIER_PATTERN)


def idempotency(key: str | None) -> str:
    if key is None or not key.strip():
        return uuid.uuid4().hex
    key = key.strip()
    if len(key) <= 128 and _KEY.match(key):
        return key
    return "sha256-" + hashlib.sha256(key.encode()).hexdigest()[:48]


def action_key(idempotency_key: IdempotencyKey = None) -> str:
    """The ``key`` dependency of an action: its ``Idempotency-Key`` header, usable as a key."""
    return idempotency(idempotency_key)


#: How an action asks for its idempotency key: ``key: ActionKey``, with ``"key": ACTION_KEY``
#: among its controller's dependencies.
ACTION_KEY = Provide(action_key, sync_to_thread=False)
ActionKey = NamedDependency[str]

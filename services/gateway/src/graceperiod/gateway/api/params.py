"""Path, query and header parameters shared by the API and the pages."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.params import HeaderParameter, PathParameter

from graceperiod.gateway.api.schemas import ACCOUNT_ID_PATTERN, IDENTIFIER_PATTERN

PurchaseId = Annotated[
    str, PathParameter(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128, description="The purchase id.")
]
AccountId = Annotated[str, PathParameter(pattern=ACCOUNT_ID_PATTERN, description="A 12-digit AWS account id.")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=IDENTIFIER_PATTERN,
        min_length=8,
        max_length=128,
        required=False,
        description="Makes a retried action harmless: the same key never acts twice. Default: a new key.",
    ),
]


def idempotency(key: str | None) -> str:
    return key or uuid.uuid4().hex

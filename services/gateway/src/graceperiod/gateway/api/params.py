"""Path, query and header parameters shared by the API and the pages."""

from __future__ import annotations

import hashlib
import re
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
        required=False,
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

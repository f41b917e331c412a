"""Reading Azure's replies and errors: amounts, request ids, times, and which
:class:`~graceperiod.revocation.domain.aws_answers.Failure` an SDK error means."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.revocation.domain.azure_answers import AzureCallError

CENT = Decimal("0.01")
#: Azure's error messages are cut to this (they end in problems and summaries of bounded length).
MESSAGE_LIMIT = 300
#: ARM's 401 codes for a token it issued that has expired (a new token fixes it).
EXPIRED_TOKEN_CODES = frozenset({"ExpiredAuthenticationToken"})


def amount(price: Any) -> Decimal:
    """A ``Price`` (``{currencyCode, amount}``) as an exact amount in cents (0 when absent)."""
    value = getattr(price, "amount", None) if price is not None else None
    return Decimal(str(value)).quantize(CENT) if value is not None else Decimal(0).quantize(CENT)


def currency(price: Any, default: str = "USD") -> str:
    return str(getattr(price, "currency_code", None) or default)


def enum_text(value: Any) -> str:
    """An SDK enum member as Azure's own word (``str()`` of one gives its Python name)."""
    return str(getattr(value, "value", value) or "")


def request_id_of(response: Any) -> str | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    found = headers.get("x-ms-request-id")
    return str(found) if found else None


def as_json(model: Any) -> dict[str, Any]:
    """An SDK model (a mapping of Azure's JSON) as plain JSON for the audit."""
    if model is None:
        return {}
    as_dict = getattr(model, "as_dict", None)
    data = as_dict() if callable(as_dict) else dict(model)
    return {str(k): v for k, v in data.items()}


def _http_failure(status: int, code: str) -> Failure:
    if status == 401:
        return Failure.EXPIRED if code in EXPIRED_TOKEN_CODES else Failure.NOT_ASSUMABLE
    if status == 403:
        return Failure.ACCESS_DENIED
    if status == 404:
        return Failure.NOT_FOUND
    if status == 429:
        return Failure.THROTTLED
    return Failure.UNAVAILABLE if status >= 500 or status == 0 else Failure.REJECTED


def classify(exc: BaseException, action: str) -> AzureCallError:
    """What an SDK error means for Grace Period (any exception: the call's ``except`` is broad)."""
    if isinstance(exc, HttpResponseError) and exc.response is not None and exc.status_code:
        error = getattr(exc, "error", None)
        code = str(getattr(error, "code", "") or "")
        message = str(getattr(error, "message", "") or exc.message or code)[:MESSAGE_LIMIT]
        status = int(exc.status_code)
        failure = _http_failure(status, code)
        if isinstance(exc, ClientAuthenticationError) and not code:
            failure = Failure.NOT_ASSUMABLE  # the token endpoint refused the principal (AADSTS...)
        return AzureCallError(
            failure,
            f"{code or status}: {message}",
            action=action,
            code=code,
            status=status,
            request_id=request_id_of(exc.response),
        )
    if isinstance(exc, ClientAuthenticationError):
        return AzureCallError(Failure.NOT_ASSUMABLE, _first_line(exc), action=action, code="ClientAuthenticationError")
    if isinstance(exc, ServiceRequestError | ServiceResponseError | asyncio.TimeoutError | OSError | AzureError):
        return AzureCallError(Failure.UNAVAILABLE, f"{type(exc).__name__}: {_first_line(exc)}", action=action)
    return AzureCallError(Failure.UNAVAILABLE, f"{type(exc).__name__}: {_first_line(exc)}", action=action)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:MESSAGE_LIMIT]

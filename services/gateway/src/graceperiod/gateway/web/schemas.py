"""What the JSON API's bodies share: strict request bodies and the patterns of ids.

Request bodies are strict (no type coercion) and reject unknown fields, so what the OpenAPI
document says is exactly what the API accepts. Each feature's bodies live in its ``schemas``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:@/+=-]+$"
ACCOUNT_ID_PATTERN = r"^\d{12}$"
#: An email address, loosely (one @, no spaces). The spaces are spelt out: ``\s`` differs between
#: the JSON Schema (ECMAScript) and pydantic regex engines (U+0085 is a space to one only), so a
#: request the OpenAPI document allows would be refused (the OpenAPI fuzz test found it).
EMAIL_ADDRESS_PATTERN = r"^[^@ \t\n\r\f\v]{1,64}@[^@ \t\n\r\f\v]{1,255}$"
#: An email address or nothing.
EMAIL_PATTERN = r"^(|[^@ \t\n\r\f\v]{1,64}@[^@ \t\n\r\f\v]{1,255})$"


def _integral(value: object) -> object:
    """JSON Schema calls 72.0 an integer; so do we (72.5 and "72" stay invalid)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Lets an integer field of a request body take 72.0 (add it to a contract's bounded int type).
INTEGRAL = BeforeValidator(_integral)
WholeNumber = Annotated[int, INTEGRAL]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

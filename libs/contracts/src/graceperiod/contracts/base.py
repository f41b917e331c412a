"""Building blocks every message shares: the envelope fields, money, identifiers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

#: The newest body version this code understands. A message with a higher
#: ``schema_version`` is rejected (and dead-lettered) rather than half-understood.
SCHEMA_VERSION = 1


def _reject_float(value: Any) -> Any:
    # Floats cannot represent money exactly; the contract sends decimal strings.
    if isinstance(value, float):
        msg = "money must be a decimal string such as '12.50', not a JSON number"
        raise ValueError(msg)
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        msg = "money must be a finite amount"
        raise ValueError(msg)
    return value


#: A decimal amount, validated from a string (or int) and serialised as a string.
Money = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    AfterValidator(_finite),
    PlainSerializer(str, return_type=str, when_used="json"),
]

#: A UTC-aware instant; naive datetimes are rejected.
Instant = AwareDatetime

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+=-]+$"),
]
AwsAccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
#: A reference the receiving service checks itself, so that a malformed one is answered with
#: the reason (:func:`identifier_problem`) instead of the whole command being dead-lettered.
Reference = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1024)]

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def identifier_problem(value: str, *, what: str) -> str | None:
    """Why ``value`` is not a valid :data:`Identifier` (None when it is one)."""
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        return f"{what} {value[:80]!r} is malformed: 1 to 128 characters among letters, digits and ._:@/+=- expected"
    return None


#: A Microsoft Entra ID tenant, subscription or reservation id: a GUID (stored lower-case,
#: as Azure compares them).
AZURE_GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
AzureGuid = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=f"^{AZURE_GUID_PATTERN}$"),
    AfterValidator(str.lower),
]
#: What Grace Period is onboarded to and acts in: a 12-digit AWS account, or an Azure tenant (GUID).
AccountId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=rf"^(\d{{12}}|{AZURE_GUID_PATTERN})$"),
    AfterValidator(str.lower),
]
#: Kept as a plain string: one malformed contact address must not make a whole
#: purchase message unreadable. Consumers that send mail validate it themselves.
EmailAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]


class Model(BaseModel):
    """Base of every contract model: unknown fields ignored, values immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class Message(Model):
    """Base of every message body: the envelope fields the brief requires."""

    #: The routing key a message of this type is published with, where it has one.
    routing_key: ClassVar[str | None] = None

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    occurred_at: Instant

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            msg = (
                f"schema_version {value} is newer than this consumer understands "
                f"(up to {SCHEMA_VERSION}); upgrade the consumer before the publisher"
            )
            raise ValueError(msg)
        return value


class RequiredVersionMessage(Message):
    """A message whose publisher must state ``schema_version`` (the upstream contract)."""

    schema_version: int = Field(ge=1)


def missing(field: str) -> InitErrorDetails:
    """A "Field required" error at ``field``, for a model validator that requires it conditionally."""
    return InitErrorDetails(type="missing", loc=(field,), input=None)


def invalid(loc: tuple[str | int, ...], value: Any, message: str) -> InitErrorDetails:
    """A value error at ``loc``, for a model validator that checks fields together."""
    return InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)

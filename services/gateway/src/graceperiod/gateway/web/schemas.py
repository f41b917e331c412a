"""Request and response bodies of the JSON API that are not contract models themselves.

Request bodies are strict (no type coercion) and reject unknown fields, so what the OpenAPI
document says is exactly what the API accepts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, COOLDOWN_HOURS_MIN, AccountView
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.notifier import DeliveryView
from graceperiod.contracts.revocation import AccountAccess, PurchaseView
from graceperiod.contracts.rpc import CommandStatus

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:@/+=-]+$"
ACCOUNT_ID_PATTERN = r"^\d{12}$"
EMAIL_PATTERN = r"^(|[^@\s]{1,64}@[^@\s]{1,255})$"


def _integral(value: object) -> object:
    """JSON Schema calls 72.0 an integer; so do we (72.5 and "72" stay invalid)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_integral)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Me(BaseModel):
    user_id: str
    email: str | None = Field(description="Null when the identity provider did not say it verified the address.")
    name: str | None
    roles: list[str]
    permissions: list[Permission]
    auth: Literal["session", "bearer"]
    csrf_token: str | None = Field(
        default=None, description="For session-authenticated clients: send it as X-CSRFToken on writes."
    )


class PurchasePage(BaseModel):
    items: list[PurchaseView]
    next_cursor: str | None = None


class CommandResult(BaseModel):
    """The outcome of an action: ``done`` (final, 200) or ``in-progress`` (accepted, 202)."""

    status: CommandStatus
    message: str
    purchase: PurchaseView | None = None


class SupportCaseSubmission(RequestBody):
    """The (edited) support-case draft to file; omitted or empty fields keep the drafted text."""

    subject: Annotated[str, Field(max_length=512)] = ""
    body: Annotated[str, Field(max_length=8000)] = ""


class Resolution(RequestBody):
    note: Annotated[str, Field(max_length=2000)] = ""


class RoleRegistration(RequestBody):
    """The role Grace Period assumes in the account: ``arn:<partition>:iam::<account>:role/<role_name>``."""

    # StringConstraints (not Field(pattern=...)): Litestar only publishes patterns given this way.
    role_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@/-]+$", max_length=512)]
    external_id: Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"


class AccountAccessList(BaseModel):
    accounts: list[AccountAccess]


class PoolAccount(AccountView):
    cooldown_remaining_seconds: int | None = Field(
        default=None, description="Seconds left in Cooldown (Cooldown accounts only), by the gateway's clock."
    )


class PoolPage(BaseModel):
    items: list[PoolAccount]
    next_cursor: str | None = None
    as_of: datetime


class ReleaseRequest(RequestBody):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ReleaseResult(BaseModel):
    status: CommandStatus
    message: str
    account: PoolAccount | None = None
    warning: str | None = None


class PolicyUpdate(RequestBody):
    enforce_account_cooldown: bool
    cooldown_period_hours: Annotated[WholeNumber, Field(ge=COOLDOWN_HOURS_MIN, le=COOLDOWN_HOURS_MAX)]


class NotificationSettingsUpdate(RequestBody):
    """The global notification address; an empty string means none."""

    global_notification_email: Annotated[str, StringConstraints(max_length=320, pattern=EMAIL_PATTERN)]


class DeliveryList(BaseModel):
    items: list[DeliveryView]


class DevToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int

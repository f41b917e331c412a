"""Bodies of the settings API: AWS account roles and access, the notification address."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar.params import KwargDefinition
from pydantic import BaseModel, Field, StringConstraints

from graceperiod.contracts.revocation_views import AccountAccess
from graceperiod.gateway.web.schemas import EMAIL_ADDRESS_PATTERN, EMAIL_PATTERN, RequestBody

_REGION = r"^[a-z]{2}(-[a-z]+)+-\d+$"


class RoleRegistration(RequestBody):
    """The role Grace Period assumes in the account: ``arn:<partition>:iam::<account>:role/<role_name>``."""

    # StringConstraints (not Field(pattern=...)): Litestar only publishes patterns given this way.
    role_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@/-]+$", max_length=512)]
    external_id: Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    name: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    """What purchases Grace Period finds in the account show as its name."""
    contact_emails: list[
        Annotated[
            str,
            StringConstraints(max_length=320, pattern=EMAIL_ADDRESS_PATTERN),
            # Litestar's OpenAPI drops a list item's pydantic pattern; this keeps it in the document.
            KwargDefinition(max_length=320, pattern=EMAIL_ADDRESS_PATTERN),
        ]
    ] = Field(default_factory=list, max_length=100)
    """Who is emailed about purchases Grace Period finds in the account."""
    regions: list[
        Annotated[
            str, StringConstraints(max_length=32, pattern=_REGION), KwargDefinition(max_length=32, pattern=_REGION)
        ]
    ] = Field(default_factory=list, max_length=40)
    """Regions to scan for commitments; none: the account's enabled Regions."""

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"


class AccountAccessList(BaseModel):
    accounts: list[AccountAccess]


class NotificationSettingsUpdate(RequestBody):
    """The global notification address; an empty string means none."""

    global_notification_email: Annotated[str, StringConstraints(max_length=320, pattern=EMAIL_PATTERN)]

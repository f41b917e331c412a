"""Bodies of the settings API: AWS account roles and access, the notification address."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from graceperiod.contracts.revocation import AccountAccess
from graceperiod.gateway.web.schemas import EMAIL_PATTERN, RequestBody


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


class NotificationSettingsUpdate(RequestBody):
    """The global notification address; an empty string means none."""

    global_notification_email: Annotated[str, StringConstraints(max_length=320, pattern=EMAIL_PATTERN)]

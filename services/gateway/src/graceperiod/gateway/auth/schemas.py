"""Bodies of the identity endpoints: who am I, and the dev sign-in's API tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from graceperiod.contracts.enums import Permission


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


class DevToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int

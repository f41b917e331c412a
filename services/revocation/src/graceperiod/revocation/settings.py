"""Revocation service settings (environment variables prefixed ``REVOCATION_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.runtime.settings import ServiceSettings


class RevocationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVOCATION_", extra="ignore", frozen=True, populate_by_name=True)

    mongodb_database: str = "graceperiod_revocation"
    http_port: int = 8081
    support_window_days: float = Field(
        default=7,
        gt=0,
        description=(
            "Product policy: how long after execution we offer to file an AWS Support refund "
            "request. Not an AWS rule: AWS documents no refund window for reserved products."
        ),
    )

"""Gateway settings (environment variables prefixed ``GATEWAY_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from graceperiod.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True, populate_by_name=True)

    mongodb_database: str = "graceperiod_gateway"
    http_port: int = 8080

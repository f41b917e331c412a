"""Cooldown service settings (environment variables prefixed ``COOLDOWN_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from graceperiod.runtime.settings import ServiceSettings


class CooldownSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COOLDOWN_", extra="ignore", frozen=True, populate_by_name=True)

    mongodb_database: str = "graceperiod_cooldown"
    http_port: int = 8083

"""Cooldown service settings (environment variables prefixed ``COOLDOWN_``).

The cooldown *policy* (enforcement on/off, period in hours) is not a setting: it is data,
changed at run time by the SetCooldownPolicy command and shared by every replica.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.cooldown.options import CooldownOptions
from graceperiod.runtime.settings import ServiceSettings


class CooldownSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COOLDOWN_", extra="ignore", frozen=True, populate_by_name=True)

    mongodb_database: str = "graceperiod_cooldown"
    http_port: int = 8083

    release_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Due accounts a release pass reads and claims at a time."
    )
    release_concurrency: int = Field(
        default=32, ge=1, le=1000, description="Releases of one batch stored and announced at once."
    )
    claim_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "A change a worker claimed but did not finish storing (it crashed) is finished by "
            "the next worker that meets it after this long."
        ),
    )
    recent_use_window_hours: float = Field(
        default=24.0,
        gt=0,
        description=(
            "Acquisition prefers accounts cleaned longer ago than this and warns when it has to "
            "hand out a more recently used one."
        ),
    )
    acquisition_candidate_batch: int = Field(
        default=100, ge=1, le=5000, description="Available accounts read at once and shared by concurrent acquisitions."
    )
    history_limit: int = Field(default=50, ge=1, le=1000, description="Changes shown as an account's history.")
    pool_gauge_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The pool-size gauge is refreshed on a tick at most this often (it reads every account).",
    )

    def options(self) -> CooldownOptions:
        return CooldownOptions(
            release_batch_size=self.release_batch_size,
            release_concurrency=self.release_concurrency,
            claim_grace=timedelta(seconds=self.claim_grace_seconds),
            recent_use_window=timedelta(hours=self.recent_use_window_hours),
            candidate_batch=self.acquisition_candidate_batch,
            history_limit=self.history_limit,
            gauge_interval=timedelta(seconds=self.pool_gauge_interval_seconds),
        )

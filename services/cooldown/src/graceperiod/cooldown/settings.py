"""Cooldown service settings (environment variables prefixed ``COOLDOWN_``).

The cooldown *policy* (enforcement on/off, fixed or settled mode, the request budget, the
wait-list expiry, the low-pool alert) is not a setting: it is data, changed at run time by
the SetCooldownPolicy command and shared by every replica.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.runtime.aws import ClientOptions, Role
from graceperiod.runtime.settings import AwsServiceSettings, RetryMode, RoleSessionSeconds


class CooldownSettings(AwsServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COOLDOWN_")
    broker_identity: ClassVar[BrokerIdentity | None] = BrokerIdentity.COOLDOWN

    mongodb_database: str = "graceperiod_cooldown"
    http_port: int = 8083

    release_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Due accounts a release pass reads and claims at a time."
    )
    release_pipeline: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Batches a release pass has in flight at once (one's events confirmed while the next is stored).",
    )
    release_concurrency: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Releases of one batch stored one by one at once (those a batch's single writes cannot take).",
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

    # --- Lease costs (Cost Explorer in the organisation's management account)
    cost_role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description=(
            "The role the service assumes in the management (payer) account to read lease costs "
            "(ce:GetCostAndUsage). Unset: lease costs are not read and settled mode is unavailable."
        ),
    )
    cost_external_id: str | None = Field(
        default=None, min_length=2, max_length=1224, description="The ExternalId the cost role's trust policy requires."
    )
    cost_role_session_seconds: RoleSessionSeconds = Field(
        default=3600, description="Lifetime of the cost role's credentials (renewed before they end)."
    )
    cost_read_batch_size: int = Field(default=200, ge=1, le=5000, description="Due cost reads a tick makes at most.")
    cost_read_concurrency: int = Field(default=4, ge=1, le=50, description="Cost Explorer requests in flight at once.")
    aws_retry_mode: RetryMode = Field(
        default="adaptive", description="botocore retry mode (adaptive also paces calls when throttled)."
    )

    @model_validator(mode="after")
    def _external_id_with_the_role(self) -> CooldownSettings:
        if self.cost_role_arn and not self.cost_external_id:
            msg = "COOLDOWN_COST_EXTERNAL_ID is required with COOLDOWN_COST_ROLE_ARN (the role's trust policy needs it)"
            raise ValueError(msg)
        return self

    def cost_role(self) -> Role | None:
        if not self.cost_role_arn:
            return None
        account = self.cost_role_arn.split(":")[4]
        assert self.cost_external_id is not None
        return Role(account_id=account, role_arn=self.cost_role_arn, external_id=self.cost_external_id)

    def aws_options(self) -> ClientOptions:
        return self.aws_client_options(
            session_name="graceperiod-cooldown", session_seconds=self.cost_role_session_seconds
        )

    def options(self) -> CooldownOptions:
        return CooldownOptions(
            release_batch_size=self.release_batch_size,
            release_pipeline=self.release_pipeline,
            release_concurrency=self.release_concurrency,
            claim_grace=timedelta(seconds=self.claim_grace_seconds),
            recent_use_window=timedelta(hours=self.recent_use_window_hours),
            candidate_batch=self.acquisition_candidate_batch,
            history_limit=self.history_limit,
            gauge_interval=timedelta(seconds=self.pool_gauge_interval_seconds),
            read_batch_size=self.cost_read_batch_size,
            read_concurrency=self.cost_read_concurrency,
        )

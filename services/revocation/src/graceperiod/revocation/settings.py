"""Revocation service settings (environment variables prefixed ``REVOCATION_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.runtime.settings import AwsServiceSettings, CommaSeparated, LinkKeySettings, RoleSessionSeconds


class RevocationSettings(AwsServiceSettings, LinkKeySettings):
    """Email links: the revocation service verifies the link a link request acts on itself
    (:class:`LinkKeySettings`)."""

    model_config = SettingsConfigDict(env_prefix="REVOCATION_")
    broker_identity: ClassVar[BrokerIdentity | None] = BrokerIdentity.REVOCATION

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
    default_role_name: str = Field(
        default="GracePeriodRevocation",
        description="Role assumed in a customer account when RegisterAccountRole names no role ARN.",
    )
    role_session_name: str = "graceperiod-revocation"
    role_session_seconds: RoleSessionSeconds = 3600
    credential_refresh_margin_seconds: float = Field(
        default=300, ge=0, description="Assume the role again this long before its credentials expire."
    )
    aws_retry_rounds: int = Field(
        default=3,
        ge=1,
        description="Our own rounds (with back-off and jitter) around an operation AWS keeps throttling.",
    )
    aws_backoff_base_seconds: float = Field(default=0.5, gt=0)
    aws_backoff_cap_seconds: float = Field(default=8.0, gt=0)
    reply_within_seconds: float = Field(
        default=3.0, gt=0, description="Answer a command's caller by then; later outcomes come as events."
    )
    max_commands_in_flight: int = Field(
        default=32,
        ge=1,
        description="Commands carried out at once; more wait, unanswered and unacknowledged, until one finishes.",
    )
    attempt_lease_seconds: float = Field(
        default=120, gt=0, description="An action under way longer than this is resumed by a tick."
    )
    pending_poll_seconds: float = Field(default=60, gt=0, description="How often a pending return is re-read.")
    case_poll_seconds: float = Field(default=300, gt=0, description="How often open support cases are re-read.")
    unknown_retry_seconds: float = Field(default=300, gt=0, description="How often AWS is re-read when it was not.")
    probe_max_age_seconds: float = Field(
        default=6 * 3600, gt=0, description="Support-plan and permission probes older than this are redone on ticks."
    )
    command_retention_days: float = Field(default=30, gt=0, description="How long idempotency keys are kept.")
    tick_batch: int = Field(default=200, ge=1, description="Purchases and accounts looked at per tick, at most.")

    azure_arm_url: str = Field(
        default="https://management.azure.com", description="Azure Resource Manager's base URL (Reservations API)."
    )
    azure_authority: str = Field(
        default="https://login.microsoftonline.com", description="Microsoft Entra ID's authority host for sign-in."
    )
    azure_ca_bundle: str | None = Field(
        default=None, description="A CA bundle to trust for Azure's endpoints instead of the system's (local endpoint)."
    )
    azure_retries: int = Field(default=3, ge=0, description="azure-core retries per read (never for a return POST).")
    azure_polling_seconds: float = Field(
        default=10.0, gt=0, description="Seconds between polls of a running return when Azure sends no Retry-After."
    )
    azure_follow_seconds: float = Field(
        default=20.0, ge=0, description="How long a revoke command follows Azure's return before leaving it to ticks."
    )
    azure_return_timeout_seconds: float = Field(
        default=3600,
        gt=0,
        description="A return Azure has not finished this long after accepting it is reported as timed out.",
    )
    secret_keys: list[str] = Field(
        default_factory=list,
        description=(
            "Fernet keys sealing Azure client secrets at rest (the first seals, all open). "
            "Without one, RegisterAzurePrincipal is refused."
        ),
    )
    discovery_enabled: bool = Field(
        default=True,
        description=(
            "Scan the onboarded accounts for commitments bought anywhere (console, CLI, other tools). Off: only "
            "purchase.executed makes a purchase."
        ),
    )
    discovery_interval_seconds: float = Field(
        default=60,
        gt=0,
        description=(
            "Each onboarded account is scanned for commitments (wherever they were bought) at most once per "
            "interval; the accounts' scans spread over it."
        ),
    )
    discovery_concurrency: int = Field(
        default=16,
        ge=1,
        description=(
            "Account scans run at once, per replica. A scan mostly waits on AWS (its Regions read at once): 500 "
            "accounts a minute at about a second each keep 8 busy. Keep it below the AWS client pool "
            "(20 connections per service and Region), so a revoke never queues behind scans."
        ),
    )
    discovery_regions: CommaSeparated = Field(
        default_factory=list,
        description=(
            "Regions scanned in every account, comma-separated; empty: each account's own (RegisterAccountRole), "
            "else its enabled Regions (ec2:DescribeRegions)."
        ),
    )
    discovery_organization_interval_seconds: float = Field(
        default=6 * 3600,
        gt=0,
        description=(
            "How often a management account's organisation-wide view is read (Cost Explorer charges each "
            "request and refreshes its data a few times a day)."
        ),
    )
    discovery_events_queue_url: str | None = Field(
        default=None,
        description=(
            "Grace Period's SQS queue of purchase events (deploy/aws/purchase-events.yaml): a purchase event "
            "scans its account at once. Unset: scans on their interval only."
        ),
    )
    discovery_events_queue_region: str = "us-east-1"
    discovery_event_spacing_seconds: float = Field(
        default=10, ge=0, description="A purchase event does not scan an account scanned this recently again."
    )

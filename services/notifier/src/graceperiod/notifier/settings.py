"""Notifier settings (environment variables prefixed ``NOTIFIER_``, plus ``SMTP_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.runtime.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")
    broker_identity: ClassVar[BrokerIdentity | None] = BrokerIdentity.NOTIFIER

    mongodb_database: str = "graceperiod_notifier"
    http_port: int = 8082

    # --- What the emails say and where their links point
    brand: str = Field(default="Grace Period", description="Shown in subjects ([<brand>] ...) and email headers.")
    public_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The gateway's public URL: links are {public_base_url}/api/purchases/{id}/revoke?token=...",
    )
    mail_from: str = Field(
        default="Grace Period <graceperiod@localhost>", description="From header (an SES verified identity for SES)."
    )
    mail_reply_to: str | None = Field(default=None, description="Reply-To header, e.g. the FinOps team's address.")
    global_notification_email: str | None = Field(
        default=None,
        description=(
            "Initial global notification address. Changeable at run time (SetNotificationSettings, "
            "needs update:config); a run-time change wins over this value from then on."
        ),
    )
    settings_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a replica reuses the stored settings before re-reading them."
    )

    # --- Transport
    email_transport: Literal["smtp", "ses"] = Field(default="smtp", description="smtp (default) or ses (SES v2).")
    smtp_url: str = Field(
        default="smtp://127.0.0.1:2525",
        validation_alias="SMTP_URL",
        description=(
            "smtp://[user:password@]host:port (STARTTLS when offered; ?starttls=require to insist, "
            "?starttls=off to never) or smtps://... for implicit TLS; ?verify=false skips certificate checks."
        ),
    )
    max_concurrent_sends: int = Field(
        default=8, ge=1, le=100, description="SMTP: persistent connections in the pool; SES: requests in flight."
    )
    ses_region: str | None = Field(default=None, description="SES region (default: AWS_DEFAULT_REGION).")
    ses_configuration_set: str | None = None

    # --- Link tokens
    link_keys_dir: Path | None = Field(
        default=None, description="Directory of <kid>.pem Ed25519 private keys (graceperiod-keys generate)."
    )
    link_signing_keys: dict[str, str] = Field(
        default_factory=dict, description='Alternatively, the keys themselves: JSON {"<kid>": "<PEM>"}.'
    )
    link_signing_kid: str | None = Field(default=None, description="The key that signs (default: the last kid).")
    link_fallback_ttl_days: int = Field(
        default=7, ge=1, description="Link lifetime when a purchase's windows are unknown (else: when they close)."
    )

    # --- The reminder before the self-service window closes
    reminder_hours_before: int = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description=(
            "One reminder email this many hours before a purchase's self-service window closes (once per "
            "purchase and recipient, only while it can still be undone through the AWS API); 0: no reminders."
        ),
    )
    reminder_batch_size: int = Field(default=100, ge=1, le=10_000, description="Reminders sent per tick at most.")

    # --- Deliveries
    delivery_lease_seconds: float = Field(
        default=120.0,
        ge=30,
        description="How long a claimed email is reserved for its sender before another worker may take it over.",
    )
    delivery_retention_days: int | None = Field(
        default=None,
        ge=90,
        description=(
            "Delete delivery records this long after they finished (on ticks). Unset (the default): keep them; "
            "a deleted record lets a replayed event email again."
        ),
    )

"""Notifier settings (environment variables prefixed ``NOTIFIER_``, plus ``SMTP_URL``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.runtime.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True, populate_by_name=True)

    mongodb_database: str = "graceperiod_notifier"
    http_port: int = 8082
    smtp_url: str = Field(
        default="smtp://127.0.0.1:2525",
        validation_alias="SMTP_URL",
        description=(
            "smtp://[user:password@]host:port (STARTTLS when offered; add ?starttls=require to insist) "
            "or smtps://... for implicit TLS."
        ),
    )
    mail_from: str = "Grace Period <graceperiod@localhost>"
    brand: str = "Grace Period"
    global_notification_email: str | None = Field(
        default=None, description="Initial global notification address; changeable at run time."
    )
    public_base_url: str = Field(default="http://127.0.0.1:8080", description="Where email links point.")

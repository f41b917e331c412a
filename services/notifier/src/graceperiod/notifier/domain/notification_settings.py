"""The run-time notification settings as stored (one document, ``settings``)."""

from __future__ import annotations

from datetime import datetime

from graceperiod.contracts.notifier import NotificationSettings
from graceperiod.runtime.mongo import Record


class SettingsRecord(Record):
    global_notification_email: str | None = None
    updated_by: str | None = None
    """None until someone changes the settings at run time (then the configured value no longer applies)."""
    updated_at: datetime | None = None
    idempotency_key: str | None = None
    """The command that set them: the same command again changes nothing."""

    def view(self) -> NotificationSettings:
        return NotificationSettings(
            global_notification_email=self.global_notification_email,
            updated_by=self.updated_by,
            updated_at=self.updated_at,
        )

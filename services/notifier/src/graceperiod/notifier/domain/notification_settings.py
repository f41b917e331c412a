"""The run-time notification settings as stored (one document, ``settings``)."""

from __future__ import annotations

from graceperiod.contracts.notifier import NotificationSettings


class SettingsRecord(NotificationSettings):
    """The settings (the contract's fields) and the command that set them."""

    idempotency_key: str | None = None
    """The command that set them: the same command again changes nothing."""

    def view(self) -> NotificationSettings:
        return NotificationSettings.model_validate(self.model_dump(exclude={"idempotency_key"}))

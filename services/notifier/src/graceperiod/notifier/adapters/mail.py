"""What every mail transport shares: its interface, its two kinds of failure, the MIME message."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from typing import Protocol

from graceperiod.notifier.domain.emails import Email


class PermanentDeliveryError(Exception):
    """The server refused this email for good (5xx, SES MessageRejected): recorded, never retried."""


class TransientDeliveryError(Exception):
    """The server or network failed for now (4xx, refused connection, timeout, throttling): retry later."""


class MailTransport(Protocol):
    async def start(self) -> None:
        """Open what can be opened ahead of the first email (and check the configuration)."""
        ...

    async def close(self) -> None: ...

    async def send(self, email: Email) -> None:
        """Hand one email to the mail system; raise one of the two delivery errors on failure."""
        ...


def envelope_address(sender: str) -> str:
    """``Grace Period <gp@example.com>`` → ``gp@example.com``."""
    return parseaddr(sender)[1] or sender


def to_mime(email: Email, sender: str, *, reply_to: str | None = None) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML), RFC 5322 headers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    if reply_to:
        message["Reply-To"] = reply_to
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def to_bytes(email: Email, sender: str, *, reply_to: str | None = None) -> bytes:
    return to_mime(email, sender, reply_to=reply_to).as_bytes()

"""SMTP delivery through aiosmtplib, over a small pool of persistent connections.

Each connection is opened once (TLS or STARTTLS and login included) and reused for many
emails; a connection the server closed, or that failed mid-command, is dropped and a new one
opened for the next email. The pool's size bounds how many emails are in flight at once.

With tracing on, each email is a span ``smtp send``, with ``smtp wait for a connection`` inside
when the pool had none free, and ``smtp connect`` when one is opened: nothing maintained
instruments aiosmtplib.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from aiosmtplib.email import parse_address
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer

from graceperiod.notifier.adapters.mail import (
    PermanentDeliveryError,
    TransientDeliveryError,
    envelope_address,
    to_bytes,
)
from graceperiod.notifier.domain.emails import Email

_TRUE = {"1", "true", "yes", "on", "require"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None: STARTTLS when the server offers it
    validate_certs: bool = True
    timeout: float = 15.0
    local_hostname: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://[user:password@]host[:port][?starttls=require|off][&verify=false][&timeout=S]``
        or ``smtps://...`` for implicit TLS (port 465 by default)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            msg = f"SMTP_URL must start with smtp:// or smtps://, got {url!r}"
            raise ValueError(msg)
        query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "")
        return cls(
            hostname=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=True if starttls in _TRUE else False if starttls in _FALSE else None,
            validate_certs=query.get("verify", "true") not in _FALSE,
            timeout=float(query.get("timeout", "15")),
        )


def _classify(exc: Exception) -> Exception:
    """The delivery error an aiosmtplib failure means for this one email."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        reason = "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentDeliveryError(reason)
        return TransientDeliveryError(reason)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPAuthenticationError):
        # Our configuration, not this recipient: retry (and dead-letter eventually) without
        # recording the recipient as rejected, so the email goes out once it is fixed.
        return TransientDeliveryError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        kind = PermanentDeliveryError if 500 <= exc.code < 600 else TransientDeliveryError
        return kind(f"{exc.code} {exc.message}")
    if isinstance(exc, ValueError):  # aiosmtplib refuses addresses it cannot send safely
        return PermanentDeliveryError(f"unusable address: {exc}")
    return TransientDeliveryError(f"{type(exc).__name__}: {exc}")


class SmtpTransport:
    """Sends through a pool of at most ``pool_size`` persistent SMTP connections."""

    def __init__(
        self,
        config: SmtpConfig,
        sender: str,
        *,
        pool_size: int = 8,
        acquire_timeout: float = 30.0,
        reply_to: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._config = config
        self._tracer = tracer or NoOpTracer()
        self._sender = sender
        self._envelope_from = envelope_address(sender)
        self._reply_to = reply_to
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP] = []
        self._acquire_timeout = acquire_timeout
        self._tls_context: ssl.SSLContext | None = None

    async def start(self) -> None:
        """Nothing to open ahead: connections are made on first use, so start-up does not
        depend on the mail server being up."""

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await client.quit(timeout=2)
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        with self._tracer.start_as_current_span("smtp connect"):
            return await self._open()

    async def _open(self) -> aiosmtplib.SMTP:
        c = self._config
        client = aiosmtplib.SMTP(
            hostname=c.hostname,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            validate_certs=c.validate_certs,
            timeout=c.timeout,
            local_hostname=c.local_hostname,
        )
        await client.connect()
        return client

    async def send(self, email: Email) -> None:
        attributes: dict[str, str | int] = {"server.address": self._config.hostname, "server.port": self._config.port}
        with self._tracer.start_as_current_span("smtp send", kind=SpanKind.CLIENT, attributes=attributes):
            await self._send(email)

    async def _acquire(self) -> None:
        """Take a place in the pool: at once when one is free (no timer to arm and cancel),
        else waiting at most ``acquire_timeout``."""
        if not self._slots.locked():
            await self._slots.acquire()  # returns without suspending
            return
        try:
            with self._tracer.start_as_current_span("smtp wait for a connection"):
                async with asyncio.timeout(self._acquire_timeout):
                    await self._slots.acquire()
        except TimeoutError as exc:
            msg = f"no SMTP connection free within {self._acquire_timeout:g} s"
            raise TransientDeliveryError(msg) from exc

    async def _send(self, email: Email) -> None:
        message = to_bytes(email, self._sender, reply_to=self._reply_to)
        await self._acquire()
        client: aiosmtplib.SMTP | None = None
        reusable = True
        try:
            while self._idle and client is None:
                candidate = self._idle.pop()
                if candidate.is_connected:
                    client = candidate
                else:  # closed by the server while idle
                    candidate.close()
            if client is None:
                client = await self._connect()
            await self._transaction(client, email.to, message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
            # A refusal leaves the connection usable (the envelope was reset); anything else
            # (a timeout mid-command, a dropped or closing connection) may leave it out of step.
            reusable = isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421
            raise _classify(exc) from exc
        finally:
            if client is not None:
                if reusable and client.is_connected:
                    self._idle.append(client)
                else:
                    client.close()
            self._slots.release()

    async def _transaction(self, client: aiosmtplib.SMTP, recipient: str, message: bytes) -> None:
        """MAIL, RCPT, DATA on a connection this send owns.

        What ``SMTP.sendmail`` does, without its second pass over the message: our message
        already has CRLF line ends, so its SIZE is its length (``sendmail`` normalises the
        whole message once to size it, and the DATA command again to send it).
        """
        parse_address(recipient)  # refuse an address that cannot be sent safely before MAIL
        options = [f"SIZE={len(message)}"] if client.supports_extension("size") else []
        try:
            await client.mail(self._envelope_from, options=options)
            await client.rcpt(recipient)
            await client.data(message)
        except aiosmtplib.SMTPResponseException:
            with contextlib.suppress(aiosmtplib.SMTPException, ConnectionError):
                await client.rset()
            raise

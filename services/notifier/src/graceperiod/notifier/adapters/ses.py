"""Amazon SES v2 delivery through aioboto3 (``SendEmail`` with the raw MIME message).

Point it at another endpoint with the standard ``AWS_ENDPOINT_URL_SESV2`` /
``AWS_ENDPOINT_URL`` variables. SES only sends from a verified identity (the address or its
domain); start-up checks that and refuses to run without one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer

from graceperiod.notifier.adapters.mail import (
    PermanentDeliveryError,
    TransientDeliveryError,
    envelope_address,
    to_bytes,
)
from graceperiod.notifier.domain.emails import Email
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.notifier.ses")

#: SES answers that no retry of this email can change.
PERMANENT_ERRORS = frozenset({"MessageRejected", "BadRequestException", "NotFoundException"})


class SesConfigurationError(RuntimeError):
    pass


class SesTransport:
    def __init__(
        self,
        sender: str,
        *,
        region: str | None = None,
        configuration_set: str | None = None,
        max_concurrency: int = 8,
        reply_to: str | None = None,
        session: aioboto3.Session | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._sender = sender
        self._tracer = tracer or NoOpTracer()
        self._from = envelope_address(sender)
        self._region = region
        self._configuration_set = configuration_set
        self._reply_to = reply_to
        self._session = session or aioboto3.Session()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_concurrency = max_concurrency
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        stack = contextlib.AsyncExitStack()
        config = Config(
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=self._max_concurrency,
            connect_timeout=5,
            read_timeout=15,
        )
        self._client = await stack.enter_async_context(
            self._session.client("sesv2", region_name=self._region, config=config)
        )
        self._stack = stack
        try:
            await self._check_identity()
        except BaseException:
            await self.close()
            raise

    async def _check_identity(self) -> None:
        """Refuse to start when SES has no identity for the sender at all (every email would be
        refused); warn when it exists but is not verified yet (DNS records may be propagating)."""
        candidates = [self._from, self._from.rpartition("@")[2]]
        for identity in candidates:
            try:
                answer = await self._client.get_email_identity(EmailIdentity=identity)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "NotFoundException":
                    continue
                log.warning("cannot check the SES identity", identity=identity, error=code)
                return  # e.g. no ses:GetEmailIdentity permission: sending will tell
            if not answer.get("VerifiedForSendingStatus", False):
                log.warning("the SES identity is not verified for sending yet", identity=identity)
            return
        msg = f"SES has no identity for {self._from} (tried {', '.join(candidates)}): create and verify one"
        raise SesConfigurationError(msg)

    def _classify(self, code: str, message: str) -> Exception:
        text = f"SES {code}: {message}"
        if code == "MessageRejected" and (self._from in message or self._from.rpartition("@")[2] in message):
            # Our sender is not (yet) allowed: a configuration problem, not this recipient's.
            return TransientDeliveryError(text)
        return (PermanentDeliveryError if code in PERMANENT_ERRORS else TransientDeliveryError)(text)

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack, self._client = None, None

    async def send(self, email: Email) -> None:
        if self._client is None:
            msg = "the SES transport was not started"
            raise TransientDeliveryError(msg)
        raw = to_bytes(email, self._sender, reply_to=self._reply_to)
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Raw": {"Data": raw}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        attributes = {"rpc.system": "aws-api", "rpc.service": "sesv2", "rpc.method": "SendEmail"}
        async with self._slots:
            try:
                with self._tracer.start_as_current_span(
                    "aws sesv2:SendEmail", kind=SpanKind.CLIENT, attributes=attributes
                ):
                    await self._client.send_email(**request)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                raise self._classify(error.get("Code", "Unknown"), error.get("Message", "")) from exc
            except (BotoCoreError, OSError, TimeoutError) as exc:
                raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc

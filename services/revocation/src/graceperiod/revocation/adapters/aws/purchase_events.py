"""Grace Period's own SQS queue of purchase events: what customer accounts' bundles forward
(CloudTrail "AWS API Call via CloudTrail" events of commitment purchases, through Grace
Period's event bus), read with Grace Period's own identity (``VENDOR_IAM_ACTIONS``)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from graceperiod.revocation.domain.aws_answers import AwsCallError, Failure
from graceperiod.runtime.aws import AwsSessions, classify


@dataclass(frozen=True)
class QueuedEvent:
    receipt: str
    body: str


class PurchaseEventQueue:
    def __init__(self, sessions: AwsSessions, *, queue_url: str, region: str) -> None:
        self._sessions = sessions
        self._url = queue_url
        self._region = region

    async def receive(self, *, wait_seconds: int = 20, max_messages: int = 10) -> list[QueuedEvent]:
        """The next events (long-polling up to ``wait_seconds``); each stays invisible to other
        readers until deleted or its visibility timeout passes."""
        sqs = await self._sessions.vendor_client("sqs", self._region)
        try:
            reply = await sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds
            )
        except ClientError as exc:
            raise classify(exc, "sqs:ReceiveMessage") from exc
        except BotoCoreError as exc:
            raise AwsCallError(Failure.UNAVAILABLE, str(exc), action="sqs:ReceiveMessage") from exc
        return [QueuedEvent(m["ReceiptHandle"], m.get("Body") or "") for m in reply.get("Messages") or []]

    async def delete(self, event: QueuedEvent) -> None:
        sqs = await self._sessions.vendor_client("sqs", self._region)
        try:
            await sqs.delete_message(QueueUrl=self._url, ReceiptHandle=event.receipt)
        except ClientError as exc:
            raise classify(exc, "sqs:DeleteMessage") from exc
        except BotoCoreError as exc:
            raise AwsCallError(Failure.UNAVAILABLE, str(exc), action="sqs:DeleteMessage") from exc

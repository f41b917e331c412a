"""Who published a message, as RabbitMQ vouches for it, and what happens to a message that is
not believed: refused (dead-lettered with the reason) and counted.

RabbitMQ checks a message's ``user_id`` property against the user of the connection that
published it, but only when it is set; every Grace Period publisher sets it (the reliability
middleware does, on every publish), and a consumer treats a message without one as anonymous.

A dead-letter replay is published by the operator identity, not by the original publisher. The
replay tool states the original publisher and publish time in the ``x-gp-original-user-id`` and
``x-gp-original-timestamp`` headers, and a consumer believes those headers only on a message
whose validated ``user_id`` is the operator's (anyone may write headers; only the operator can
publish as the operator). How the replay tool itself knows the original publisher:
:func:`provenance_of` with the queue's owner as a trusted writer (docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from prometheus_client import Counter

from graceperiod.contracts.identities import REQUEST_QUEUES, BrokerIdentity, event_owner, is_internal, may_send
from graceperiod.contracts.topology import Binding, QueueKind, Queues

ORIGINAL_USER_ID: Final = "x-gp-original-user-id"
ORIGINAL_TIMESTAMP: Final = "x-gp-original-timestamp"

REFUSED = Counter(
    "graceperiod_messages_refused_total",
    "Messages refused because their publisher or the actor they act for could not be verified, by reason.",
    ["reason"],
)


class RefusalReason(StrEnum):
    """Why a message was refused (the ``reason`` label of the counter)."""

    MISSING_USER_ID = "missing-user-id"
    """No broker-validated ``user_id``: anyone could have published it."""
    WRONG_PUBLISHER = "wrong-publisher"
    """Published by an identity that does not own this event or may not send this request."""
    UNSIGNED = "unsigned"
    """A request without the gateway's actor assertion (or without a publish time)."""
    BAD_ASSERTION = "bad-assertion"
    """The assertion is malformed, signed with an unknown key, or its signature is invalid."""
    EXPIRED = "expired"
    """Published outside the assertion's lifetime, or too long ago to be accepted."""
    MISMATCHED = "mismatched"
    """The assertion is for another service, request kind, target, key, body or actor."""
    BAD_LINK = "bad-link"
    """The email-link token the request relies on does not verify for this purchase and person."""


class Refused(Exception):  # noqa: N818 - a refusal, dead-lettered like bad input
    """The message is not believed: dead-letter it with this reason and count it."""

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(f"refused ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who published a message and when, as far as the broker vouches for it."""

    publisher: str | None
    published_at: datetime | None
    replayed: bool = False


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def provenance_of(
    user_id: str | None,
    timestamp: datetime | None,
    headers: Mapping[str, Any] | None,
    *,
    trusted_writers: frozenset[str] = frozenset({BrokerIdentity.OPERATOR}),
) -> Provenance:
    """The original publisher of a message: its validated ``user_id`` and ``timestamp``, or, when
    it was published by one of ``trusted_writers`` (the operator replaying it), what that writer
    stated in the ``x-gp-original-*`` headers."""
    headers = headers or {}
    if user_id in trusted_writers and ORIGINAL_USER_ID in headers:
        return Provenance(
            _text(headers.get(ORIGINAL_USER_ID)) or None,
            _instant(headers.get(ORIGINAL_TIMESTAMP)),
            replayed=True,
        )
    return Provenance(user_id or None, _instant(timestamp))


def provenance_headers(origin: Provenance) -> dict[str, Any]:
    """The headers that carry ``origin`` on a copy published by someone else (a dead letter, a
    replay). Timestamps travel as whole seconds, as AMQP's own ``timestamp`` does."""
    headers: dict[str, Any] = {ORIGINAL_USER_ID: origin.publisher or ""}
    if origin.published_at is not None:
        headers[ORIGINAL_TIMESTAMP] = int(origin.published_at.timestamp())
    return headers


_BY_QUEUE: Final[dict[str, Binding]] = {binding.queue: binding for binding in Queues.all()}


def binding_of(queue: str) -> Binding | None:
    return _BY_QUEUE.get(queue)


def check_event_publisher(binding: Binding, origin: Provenance) -> None:
    """Refuse an internal event not published by its owning service (upstream events are
    guarded by the broker's topic permissions: any publisher RabbitMQ let through counts)."""
    if binding.kind is not QueueKind.EVENTS or not is_internal(binding.routing_key):
        return
    owner = event_owner(binding.routing_key)
    if origin.publisher is None:
        raise Refused(RefusalReason.MISSING_USER_ID, f"{binding.routing_key} must be published by {owner}")
    if origin.publisher != owner:
        raise Refused(
            RefusalReason.WRONG_PUBLISHER,
            f"{binding.routing_key} is published by {owner} only, not by {origin.publisher}",
        )


def check_request_publisher(binding: Binding, origin: Provenance, body: bytes) -> None:
    """Refuse a command or query from an identity that may not send its kind to this service
    (topic permissions cannot restrict the default exchange per queue: anyone with write on it
    can publish to any command queue). A body without a readable ``kind`` is left to the
    handler, which dead-letters or answers it as invalid."""
    if binding.kind not in REQUEST_QUEUES:
        return
    if origin.publisher is None:
        raise Refused(RefusalReason.MISSING_USER_ID, f"a request to {binding.queue} must carry its publisher")
    kind = _request_kind(body)
    if kind is not None and not may_send(origin.publisher, binding.service, kind):
        raise Refused(RefusalReason.WRONG_PUBLISHER, f"{origin.publisher} may not send {kind} to {binding.service}")


def _request_kind(body: bytes) -> str | None:
    try:
        decoded = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    kind = decoded.get("kind") if isinstance(decoded, dict) else None
    return kind if isinstance(kind, str) else None


def check_publisher(queue: str, origin: Provenance, body: bytes) -> None:
    """The one check every consumed message passes before its handler: internal events from
    their owner only, commands and queries from the identities allowed to send them."""
    binding = binding_of(queue)
    if binding is None:
        return
    check_event_publisher(binding, origin)
    check_request_publisher(binding, origin, body)

"""Who may publish what on RabbitMQ: one broker identity (user) per service and per upstream
role, what each may configure, write and read, and which identity owns each event.

This is the one source of truth: the RabbitMQ definitions (users, permissions, topic
permissions; ``graceperiod.runtime.broker_definitions``) are generated from it, and the
consumers check every internal event against :func:`event_owner`. Docs: docs/security.md.

RabbitMQ checks a message's ``user_id`` against the connection's user only when it is set, so
every Grace Period publisher sets it and every consumer refuses an internal event without it.
Topic permissions restrict the routing keys an identity may publish to ``graceperiod.events``;
they cannot restrict the default exchange per queue, so commands and queries are authorised by
the broker-validated ``user_id`` of their publisher (:func:`may_send`) as well as by the
gateway's signed actor assertion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TICKS_EXCHANGE,
    Binding,
    QueueKind,
    Queues,
    RoutingKey,
    ServiceName,
)

#: The default exchange, as RabbitMQ's permissions name it (commands, queries, RPC replies).
DEFAULT_EXCHANGE: Final = "amq.default"
#: The pseudo-queue of RabbitMQ's direct reply-to (RPC callers consume their replies from it).
DIRECT_REPLY_TO: Final = "amq.rabbitmq.reply-to"


class BrokerIdentity(StrEnum):
    """A RabbitMQ user. The value is the user name, fixed: consumers compare ``user_id`` to it."""

    GATEWAY = "graceperiod-gateway"
    REVOCATION = "graceperiod-revocation"
    NOTIFIER = "graceperiod-notifier"
    COOLDOWN = "graceperiod-cooldown"
    PURCHASE_EXECUTOR = "graceperiod-purchase-executor"
    """Upstream: publishes ``purchase.executed`` only."""
    LEASE_MANAGER = "graceperiod-lease-manager"
    """Upstream: lease and account events, ``AcquireAccount``; reads the cooldown's account events."""
    SCHEDULER = "graceperiod-scheduler"
    """Upstream (or ``graceperiod-ticker``): publishes ticks only."""
    OPERATOR = "graceperiod-operator"
    """People operating the system: reads and replays dead letters (``graceperiod-dlq``)."""


#: Each Grace Period service's own identity.
SERVICE_IDENTITY: Final[dict[ServiceName, BrokerIdentity]] = {
    ServiceName.GATEWAY: BrokerIdentity.GATEWAY,
    ServiceName.REVOCATION: BrokerIdentity.REVOCATION,
    ServiceName.NOTIFIER: BrokerIdentity.NOTIFIER,
    ServiceName.COOLDOWN: BrokerIdentity.COOLDOWN,
    ServiceName.LEASE_MANAGER: BrokerIdentity.LEASE_MANAGER,
}

_OWNERS: Final[dict[RoutingKey, BrokerIdentity]] = {
    RoutingKey.PURCHASE_EXECUTED: BrokerIdentity.PURCHASE_EXECUTOR,
    RoutingKey.LEASE_TERMINATED: BrokerIdentity.LEASE_MANAGER,
    RoutingKey.ACCOUNT_CLEANUP_SUCCEEDED: BrokerIdentity.LEASE_MANAGER,
    RoutingKey.ACCOUNT_CLEANUP_FAILED: BrokerIdentity.LEASE_MANAGER,
    RoutingKey.ACCOUNT_REGISTERED: BrokerIdentity.LEASE_MANAGER,
    RoutingKey.PURCHASE_RECORDED: BrokerIdentity.REVOCATION,
    RoutingKey.PURCHASE_CHANGED: BrokerIdentity.REVOCATION,
    RoutingKey.EMAIL_DELIVERED: BrokerIdentity.NOTIFIER,
    RoutingKey.ACCOUNT_STATUS_CHANGED: BrokerIdentity.COOLDOWN,
    RoutingKey.ACCOUNT_SETTLED: BrokerIdentity.COOLDOWN,
    RoutingKey.WAIT_GRANTED: BrokerIdentity.COOLDOWN,
    RoutingKey.WAIT_EXPIRED: BrokerIdentity.COOLDOWN,
    RoutingKey.POOL_RUNNING_LOW: BrokerIdentity.COOLDOWN,
}

#: The identities whose events are internal: consumers accept them only from their owner.
SERVICE_PUBLISHERS: Final = frozenset({BrokerIdentity.REVOCATION, BrokerIdentity.NOTIFIER, BrokerIdentity.COOLDOWN})


def event_owner(routing_key: str) -> BrokerIdentity:
    """The one identity that may publish events with this routing key."""
    return _OWNERS[RoutingKey(routing_key)]


def is_internal(routing_key: str) -> bool:
    """Whether an event is one of Grace Period's own (checked by ``user_id`` on arrival);
    upstream events are guarded by the broker's topic permissions alone."""
    return event_owner(routing_key) in SERVICE_PUBLISHERS


#: (service, request kind) → who besides the gateway may send it, and the permissions that
#: identity holds for it (the broker-validated ``user_id`` is its authority; no assertion).
_SYSTEM_SENDERS: Final[dict[tuple[ServiceName, str], tuple[BrokerIdentity, tuple[Permission, ...]]]] = {
    (ServiceName.COOLDOWN, "acquire-account"): (BrokerIdentity.LEASE_MANAGER, (Permission.ACQUIRE_ACCOUNTS,)),
    (ServiceName.COOLDOWN, "cancel-wait"): (BrokerIdentity.LEASE_MANAGER, (Permission.ACQUIRE_ACCOUNTS,)),
    (ServiceName.COOLDOWN, "get-wait-request"): (BrokerIdentity.LEASE_MANAGER, (Permission.ACQUIRE_ACCOUNTS,)),
}


def system_sender(service: ServiceName, kind: str) -> tuple[BrokerIdentity, tuple[Permission, ...]] | None:
    """The upstream identity that may send this command itself, with what it may do."""
    return _SYSTEM_SENDERS.get((service, kind))


def may_send(identity: str, service: ServiceName, kind: str) -> bool:
    """Whether a command or query of ``kind`` to ``service`` may come from ``identity``:
    the gateway (acting for a person, with a signed assertion), or the system sender of it."""
    if identity == BrokerIdentity.GATEWAY:
        return True
    sender = system_sender(service, kind)
    return sender is not None and sender[0] == identity


@dataclass(frozen=True, slots=True)
class BrokerGrant:
    """RabbitMQ permissions of one identity in one vhost: regular expressions over resource
    names (``configure``, ``write``, ``read``) and, on ``graceperiod.events``, over routing
    keys (``topic_write``, ``topic_read``). ``^$`` matches nothing."""

    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str
    tags: tuple[str, ...] = ()


NOTHING: Final = "^$"


def _any_of(names: Iterable[str]) -> str:
    unique = sorted(set(names))
    if not unique:
        return NOTHING
    return "^(" + "|".join(re.escape(name) for name in unique) + ")$"


def _prefixed(*prefixes: str, names: Iterable[str] = ()) -> str:
    """Resources starting with one of ``prefixes`` (queue families), or named in ``names``."""
    parts = [re.escape(prefix) + ".*" for prefix in prefixes] + [re.escape(name) for name in sorted(set(names))]
    return "^(" + "|".join(parts) + ")$" if parts else NOTHING


def _service_grant(service: ServiceName) -> BrokerGrant:
    """A Grace Period worker: declares and consumes its own queues (``<service>.*``, their
    dead-letter queues included), binds them, publishes its events, dead letters and RPC
    replies."""
    own = f"{service}."
    bindings = Queues.of(service)
    bound_keys = [b.routing_key for b in bindings if b.exchange == EVENTS_EXCHANGE]
    own_keys = [key for key, owner in _OWNERS.items() if owner == SERVICE_IDENTITY[service]]
    return BrokerGrant(
        configure=_prefixed(own),
        write=_prefixed(own, names=[EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, DEFAULT_EXCHANGE]),
        read=_prefixed(own, names=[EVENTS_EXCHANGE, TICKS_EXCHANGE, DEAD_LETTER_EXCHANGE]),
        topic_write=_any_of(own_keys),
        topic_read=_any_of(bound_keys),
    )


def grant_of(identity: BrokerIdentity) -> BrokerGrant:
    """What ``identity`` may do in a Grace Period vhost."""
    if identity is BrokerIdentity.GATEWAY:
        # Publishes commands and queries; reads their replies. Declares nothing.
        return BrokerGrant(NOTHING, _any_of([DEFAULT_EXCHANGE]), _any_of([DIRECT_REPLY_TO]), NOTHING, NOTHING)
    if identity is BrokerIdentity.PURCHASE_EXECUTOR:
        return BrokerGrant(
            NOTHING, _any_of([EVENTS_EXCHANGE]), NOTHING, _any_of([RoutingKey.PURCHASE_EXECUTED]), NOTHING
        )
    if identity is BrokerIdentity.LEASE_MANAGER:
        lease_manager = ServiceName.LEASE_MANAGER
        own_keys = [key for key, owner in _OWNERS.items() if owner is identity]
        read_keys = [b.routing_key for b in Queues.of(lease_manager)]
        return BrokerGrant(
            configure=_prefixed(f"{lease_manager}."),
            write=_prefixed(f"{lease_manager}.", names=[EVENTS_EXCHANGE, DEFAULT_EXCHANGE]),
            read=_prefixed(f"{lease_manager}.", names=[EVENTS_EXCHANGE, DIRECT_REPLY_TO]),
            topic_write=_any_of(own_keys),
            topic_read=_any_of(read_keys),
        )
    if identity is BrokerIdentity.SCHEDULER:
        return BrokerGrant(NOTHING, _any_of([TICKS_EXCHANGE]), NOTHING, NOTHING, NOTHING)
    if identity is BrokerIdentity.OPERATOR:
        # Reads dead-letter queues and publishes their messages again (to their exchange or
        # straight to their work queue), or moves them to the back of their DLQ.
        return BrokerGrant(
            configure=NOTHING,
            write=_any_of([EVENTS_EXCHANGE, DEFAULT_EXCHANGE]),
            read=r"^.*\.dlq$",
            topic_write=".*",
            topic_read=NOTHING,
            tags=("management",),
        )
    service = next(name for name, owner in SERVICE_IDENTITY.items() if owner is identity)
    return _service_grant(service)


def usual_publisher(binding: Binding) -> BrokerIdentity:
    """Who publishes to this queue in production: an event's owner, the scheduler's ticks, the
    gateway's commands and queries (test harnesses publish as it)."""
    if binding.kind is QueueKind.EVENTS:
        return event_owner(binding.routing_key)
    if binding.kind is QueueKind.TICKS:
        return BrokerIdentity.SCHEDULER
    return BrokerIdentity.GATEWAY


def service_identity(service: ServiceName) -> BrokerIdentity:
    return SERVICE_IDENTITY[service]


#: The queue kinds a service consumes requests from (commands and queries).
REQUEST_QUEUES: Final = frozenset({QueueKind.COMMANDS, QueueKind.QUERIES})
